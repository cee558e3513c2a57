"""Kantata OX (PSA, formerly Mavenlink): approved time, approved expenses and completed milestones, polled.

Documentation followed (read 2026-11-29):
- Time entries: https://developer.kantata.com/tag/Time-Entries/ and
  https://developer.kantata.com/kantata/specification/time-entries/get-time-entries :
  `GET /api/v1/time_entries` with the filters `approved` ("time entries that are on approved
  timesheets or are in a project that does not require approvals") and `updated_after`
  (ISO 8601), `include=role` (the project role of the user who did the work: `role_id`,
  referencing the `roles` top-level key); fields `date_performed`, `time_in_minutes`,
  `billable`, `notes`, `rate_in_cents`, `currency`, `currency_base_unit`, `approved`,
  `workspace_id`, `user_id`, `updated_at`.
- Expenses: https://developer.kantata.com/tag/Expenses/ and
  https://developer.kantata.com/kantata/specification/expenses/get-expenses :
  `GET /api/v1/expenses` with `approved` ("expenses that are on approved expense reports, or
  on a workspace that does not require approvals") and `updated_after`; fields `date`,
  `category` (any string; built in: Travel, Mileage, Lodging, Food, Entertainment, Other),
  `amount_in_cents`, `currency`, `currency_base_unit` ("the number of the units in
  amount_in_cents that make up a single unit of the currency"), `is_billable`, `workspace_id`.
- Stories: https://developer.kantata.com/tag/Stories/ : tasks, milestones, deliverables
  and issues (`story_type`, `state`, `workspace_id`, `title`, `updated_at`), `all_on_account`
  for an administrator's token; Story State Changes:
  https://developer.kantata.com/tag/Story-State-Changes : `GET /api/v1/story_state_changes?story_id=`
  (story_id required, `order=created_at:asc|desc`), each `{state, story_id, created_at}`: the
  audit trail of a story's states, from which the completion date is read (a thin fetch).
- Response format, paging and ordering: https://developer.kantata.com/kantata/specification/section/ordering
  and the Response Format section of https://developer.kantata.com/ : every list answers
  `{"count", "meta": {"count", "page_count", "page_number", "page_size"}, "results": [{"key", "id"}],
  "<collection>": {"<id>": {...}}}`; `results` is the ordered list of matches (side-loaded
  objects of the same type may sit in the collection too); `page` and `per_page` (at most 200).
  Too many requests answer 429 ("retry your request after a small delay"; no Retry-After is
  documented), errors `{"errors": [{"type", "message"}]}`, OAuth bearer token.

The pages read document no signed outbound webhook (Kantata's change feed, Subscribed Events,
is itself polled), so the adapter polls. The documented lists filter by `updated_after` but the
orderings documented per endpoint do not include `updated_at` for these three, so one poll reads
the whole window `updated_after = cursor` of each collection (every page, up to
`max_window_pages`), merges them and hands them out in `(updated_at, kind, id)` order: the
cursor then moves exactly as a keyset cursor does. The window starts `overlap_seconds` before
the cursor when the last poll was caught up (late commits), else one second before it
(Kantata's timestamps have whole seconds); rows at or before the cursor are dropped then.

Identity: a time entry is `time_entry.approved` with `entry_id = kantata-time-{id}` and
`revision` = its `updated_at` in epoch seconds (a later edit replaces the earlier revision);
an expense is `expense.approved` with `expense_id = kantata-expense-{id}`; a completed
milestone story is `milestone.completed`, its event id keyed by the state change that completed
it (an edit to the story later is not a second completion). The tenant's links are
configuration (`KantataMapping`): which workspace is which contract and cost center, which
user is which resource, role and category names, which story is which contract milestone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from billbridge.adapters.vendors.vendor_api_client import VendorApiClient
from billbridge.adapters.vendors.vendor_json import require
from billbridge.app.vendor_adapters import PollCursor, PolledPage, Skipped, VendorPayloadError

MAX_PER_PAGE = 200
"""Kantata's documented maximum `per_page`."""
CURSOR_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
KINDS = ("time_entry", "expense", "milestone")
"""The order of kinds among objects updated in the same second (a stable tie-breaker)."""
_RECORD = re.compile(r"^(?P<kind>[012])(?P<id>\d{18})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DECIMAL_BASES = {1: 0, 10: -1, 100: -2, 1000: -3}


@dataclass(frozen=True, slots=True)
class WorkspaceLink:
    contract_id: str
    cost_center: str


@dataclass(frozen=True, slots=True)
class KantataMapping:
    """A tenant's links between Kantata objects and the hub's contracts (configuration, not code)."""

    workspaces: Mapping[str, WorkspaceLink] = field(default_factory=dict)
    """Kantata workspace (project) id -> the contract it delivers and its cost center."""
    users: Mapping[str, str] = field(default_factory=dict)
    """Kantata user id -> the resource id of the rate card (default: `kantata-user-{id}`)."""
    roles: Mapping[str, str] = field(default_factory=dict)
    """Kantata role name -> canonical role (default: the name in lower case, spaces as `_`)."""
    categories: Mapping[str, str] = field(default_factory=dict)
    """Kantata expense category -> canonical category (default: the category in lower case)."""
    milestones: Mapping[str, str] = field(default_factory=dict)
    """Kantata story id of a milestone -> the contract's milestone id."""

    @classmethod
    def from_config(cls, settings: Mapping[str, Any]) -> KantataMapping:
        known = {"workspaces", "users", "roles", "categories", "milestones"}
        workspaces: dict[str, WorkspaceLink] = {}
        for workspace_id, link in dict(settings.get("workspaces") or {}).items():
            if not isinstance(link, Mapping) or not link.get("contract_id") or not link.get("cost_center"):
                raise ValueError(f"psa/kantata: workspaces.{workspace_id} needs contract_id and cost_center")
            workspaces[str(workspace_id)] = WorkspaceLink(str(link["contract_id"]), str(link["cost_center"]))
        maps: dict[str, dict[str, str]] = {}
        for name in known - {"workspaces"}:
            value = settings.get(name) or {}
            if not isinstance(value, Mapping):
                raise ValueError(f"psa/kantata: {name} must be an object of names")
            maps[name] = {str(k): str(v) for k, v in value.items()}
        return cls(workspaces=workspaces, **maps)

    def resource(self, user_id: str) -> str:
        return self.users.get(user_id, f"kantata-user-{user_id}")

    def role(self, name: str) -> str:
        return self.roles.get(name, re.sub(r"\s+", "_", name.strip().lower()))

    def category(self, name: str) -> str:
        return self.categories.get(name, name.strip().lower())


def utc_stamp(value: Any, path: str) -> str:
    """A Kantata ISO 8601 timestamp as the cursor's UTC text (whole seconds)."""
    if not isinstance(value, str) or not value.strip():
        raise VendorPayloadError(f"{path} must be an ISO 8601 timestamp", field_path=path)
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise VendorPayloadError(f"{path} must be an ISO 8601 timestamp", field_path=path) from None
    if moment.tzinfo is None:
        raise VendorPayloadError(f"{path} must carry its UTC offset", field_path=path)
    return moment.astimezone(UTC).strftime(CURSOR_FORMAT)


def _epoch(stamp: str) -> int:
    return int(datetime.strptime(stamp, CURSOR_FORMAT).replace(tzinfo=UTC).timestamp())


def _compact(stamp: str) -> str:
    return stamp.replace("-", "").replace(":", "")


def minor_units(amount: Any, base_unit: Any, path: str) -> Decimal:
    """`amount_in_cents` / `currency_base_unit`, exactly (never through float)."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise VendorPayloadError(f"{path} must be an integer number of minor units", field_path=path)
    if isinstance(base_unit, bool) or base_unit not in _DECIMAL_BASES:
        raise VendorPayloadError("currency_base_unit must be 1, 10, 100 or 1000", field_path="currency_base_unit")
    return Decimal(amount).scaleb(_DECIMAL_BASES[base_unit])


def hours_from_minutes(minutes: int) -> tuple[str, str | None]:
    """Minutes as decimal hours; exact when it fits 4 places (multiples of 3 minutes), else rounded, with a note."""
    exact = Decimal(minutes) / Decimal(60)
    rounded = exact.quantize(Decimal("0.0001"))
    if rounded == exact:
        return format(rounded.normalize(), "f"), None
    return str(rounded), f"{minutes} minutes rounded to {rounded} hours"


def _event(event_id: str, kind: str, stamp: str, subject: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "psa",
        "type": kind,
        "time": stamp,
        "subject": subject,
        "datacontenttype": "application/json",
        "data": data,
    }


def _workspace(mapping: KantataMapping, document: Mapping[str, Any], reference: str) -> WorkspaceLink | Skipped:
    workspace_id = str(require(document, "workspace_id", (str, int)))
    link = mapping.workspaces.get(workspace_id)
    if link is None:
        return Skipped(reference, f"workspace {workspace_id} is not linked to a contract (psa/kantata workspaces)")
    return link


def map_time_entry(
    entry: Mapping[str, Any], roles: Mapping[str, Any], mapping: KantataMapping
) -> dict[str, Any] | Skipped:
    """One Kantata time entry (documented shape) to `time_entry.approved` (pure)."""
    entry_id = str(require(entry, "id", (str, int)))
    reference = f"time entry {entry_id}"
    if entry.get("approved") is not True:
        return Skipped(reference, "not approved")
    link = _workspace(mapping, entry, reference)
    if isinstance(link, Skipped):
        return link
    stamp = utc_stamp(entry.get("updated_at"), "updated_at")
    minutes = require(entry, "time_in_minutes", int)
    if isinstance(minutes, bool) or minutes <= 0:
        return Skipped(reference, "no time recorded (time_in_minutes is 0)")
    work_date = require(entry, "date_performed")
    if not _DATE.match(work_date):
        raise VendorPayloadError("date_performed must be YYYY-MM-DD", field_path="date_performed")
    role_id = entry.get("role_id")
    role = roles.get(str(role_id)) if role_id is not None else None
    if not isinstance(role, Mapping) or not isinstance(role.get("name"), str) or not role["name"].strip():
        return Skipped(reference, "no project role on the entry (the rate card is by role)")
    hours, rounding = hours_from_minutes(minutes)
    billable = entry.get("billable")
    if not isinstance(billable, bool):
        raise VendorPayloadError("billable must be true or false", field_path="billable")
    data: dict[str, Any] = {
        "entry_id": f"kantata-time-{entry_id}",
        "revision": _epoch(stamp),
        "contract_id": link.contract_id,
        "resource_id": mapping.resource(str(require(entry, "user_id", (str, int)))),
        "role": mapping.role(role["name"]),
        "billable": billable,
        "cost_center": link.cost_center,
        "work_date": work_date,
        "hours": hours,
    }
    if entry.get("rate_in_cents") is not None:
        data["bill_rate"] = str(minor_units(entry["rate_in_cents"], entry.get("currency_base_unit"), "rate_in_cents"))
    notes = [n for n in (str(entry.get("notes") or "").strip(), rounding) if n]
    if notes:
        data["notes"] = "; ".join(notes)
    return _event(f"kantata-time-{entry_id}-{_compact(stamp)}", "time_entry.approved", stamp, entry_id, data)


def map_expense(expense: Mapping[str, Any], mapping: KantataMapping) -> dict[str, Any] | Skipped:
    """One Kantata expense (documented shape) to `expense.approved` (pure)."""
    expense_id = str(require(expense, "id", (str, int)))
    reference = f"expense {expense_id}"
    link = _workspace(mapping, expense, reference)
    if isinstance(link, Skipped):
        return link
    stamp = utc_stamp(expense.get("updated_at"), "updated_at")
    amount = minor_units(expense.get("amount_in_cents"), expense.get("currency_base_unit"), "amount_in_cents")
    if amount <= 0:
        return Skipped(reference, "the amount is not more than zero (credits are not expenses)")
    spent_on = require(expense, "date")
    if not _DATE.match(spent_on):
        raise VendorPayloadError("date must be YYYY-MM-DD", field_path="date")
    billable = expense.get("is_billable")
    if not isinstance(billable, bool):
        raise VendorPayloadError("is_billable must be true or false", field_path="is_billable")
    data = {
        "expense_id": f"kantata-expense-{expense_id}",
        "contract_id": link.contract_id,
        "date": spent_on,
        "category": mapping.category(require(expense, "category")),
        "amount": str(amount),
        "currency": require(expense, "currency"),
        "billable": billable,
        "cost_center": link.cost_center,
    }
    return _event(f"kantata-expense-{expense_id}-{_compact(stamp)}", "expense.approved", stamp, expense_id, data)


def map_milestone(
    story: Mapping[str, Any], completion: Mapping[str, Any], mapping: KantataMapping
) -> dict[str, Any] | Skipped:
    """A completed milestone story and the state change that completed it to `milestone.completed` (pure)."""
    story_id = str(require(story, "id", (str, int)))
    reference = f"story {story_id}"
    link = _workspace(mapping, story, reference)
    if isinstance(link, Skipped):
        return link
    milestone_id = mapping.milestones.get(story_id)
    if milestone_id is None:
        return Skipped(reference, f"milestone story {story_id} is not linked to a contract milestone")
    completed_at = utc_stamp(completion.get("created_at"), "story_state_changes.created_at")
    change_id = str(require(completion, "id", (str, int)))
    data = {"contract_id": link.contract_id, "milestone_id": milestone_id, "completed_on": completed_at[:10]}
    return _event(f"kantata-milestone-{story_id}-{change_id}", "milestone.completed", completed_at, story_id, data)


@dataclass(frozen=True, slots=True)
class _Row:
    stamp: str
    kind: str
    record_id: int
    document: Mapping[str, Any]
    side: Mapping[str, Any]

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.stamp, KINDS.index(self.kind), self.record_id)


def _cursor_key(cursor: PollCursor) -> tuple[str, int, int]:
    match = _RECORD.match(cursor.record_id)
    if match is None or not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", cursor.modified):
        raise ValueError(f"a corrupt cursor: {cursor}")
    return (cursor.modified, int(match["kind"]), int(match["id"]))


def cursor_record_id(kind: str, record_id: int) -> str:
    """The kind's rank then the id on 18 digits: sorts as text (the cursor store) as it does as a key."""
    return f"{KINDS.index(kind)}{record_id:018d}"


class KantataActualsPolling:
    """Approved time, approved expenses and completed milestones of Kantata OX, from one cursor."""

    source = "psa"
    vendor = "kantata"

    def __init__(
        self,
        client: VendorApiClient,
        mapping: KantataMapping,
        *,
        overlap_seconds: int = 300,
        max_window_pages: int = 50,
        per_page: int = MAX_PER_PAGE,
    ) -> None:
        self._client = client
        self._mapping = mapping
        self._overlap = overlap_seconds
        self._max_window_pages = max_window_pages
        self._per_page = max(1, min(per_page, MAX_PER_PAGE))
        self._window: list[_Row] | None = None
        """The rows of this poll's window, fetched once per poll and handed out page by page."""

    def read_page(self, after: PollCursor | None, page_size: int, *, first_page: bool = False) -> PolledPage:
        before = self._client.requests_made
        floor = _cursor_key(after) if after is not None else None
        if first_page or self._window is None:
            if after is None:
                start = None
            else:
                back = self._overlap if first_page and after.caught_up else 1
                start = datetime.strptime(after.modified, CURSOR_FORMAT) - timedelta(seconds=back)
            self._window = self._read_window(start.strftime(CURSOR_FORMAT) if start else None)
            if first_page and after is not None and after.caught_up:
                floor = None  # the overlap window is read again on purpose (duplicates are deduplicated)
        rows = [r for r in self._window if floor is None or r.key > floor]
        page, rest = rows[: max(1, page_size)], rows[max(1, page_size) :]
        self._window = rest
        events: list[dict[str, Any]] = []
        skipped: list[Skipped] = []
        refused: list[str] = []
        for row in page:
            try:
                mapped = self._map(row)
            except VendorPayloadError as bad:
                refused.append(f"{row.kind.replace('_', ' ')} {row.record_id}: {bad.message} (field {bad.field_path})")
                continue
            (skipped if isinstance(mapped, Skipped) else events).append(mapped)  # type: ignore[arg-type]
        cursor = (
            PollCursor(modified=page[-1].stamp, record_id=cursor_record_id(page[-1].kind, page[-1].record_id))
            if page
            else None
        )
        if not rest:
            self._window = None
        return PolledPage(
            events=tuple(events),
            skipped=tuple(skipped),
            next_cursor=cursor,
            has_more=bool(rest),
            requests=self._client.requests_made - before,
            refused=tuple(refused),
        )

    def _map(self, row: _Row) -> dict[str, Any] | Skipped:
        if row.kind == "time_entry":
            return map_time_entry(row.document, row.side, self._mapping)
        if row.kind == "expense":
            return map_expense(row.document, self._mapping)
        completion = self._completion(str(row.record_id))
        if completion is None:
            return Skipped(f"story {row.record_id}", "completed, but Kantata lists no state change to completed")
        return map_milestone(row.document, completion, self._mapping)

    def _completion(self, story_id: str) -> Mapping[str, Any] | None:
        query = urlencode({"story_id": story_id, "order": "created_at:desc", "per_page": MAX_PER_PAGE})
        answer = self._client.get_json(f"story_state_changes?{query}")
        for change in _ordered(answer, "story_state_changes"):
            if change.get("state") == "completed":
                return change
        return None

    def _read_window(self, updated_after: str | None) -> list[_Row]:
        rows: list[_Row] = []
        collections: Sequence[tuple[str, str, dict[str, str], Callable[[Mapping[str, Any]], bool]]] = (
            ("time_entry", "time_entries", {"approved": "true", "include": "role"}, lambda d: True),
            ("expense", "expenses", {"approved": "true"}, lambda d: True),
            (
                "milestone",
                "stories",
                {"all_on_account": "true"},
                lambda d: d.get("story_type") == "milestone" and d.get("state") == "completed",
            ),
        )
        for kind, collection, filters, wanted in collections:
            for document, side in self._read_collection(collection, filters, updated_after):
                if not wanted(document):
                    continue
                record_id = str(require(document, "id", (str, int)))
                if not record_id.isdigit() or len(record_id) > 18:
                    raise VendorPayloadError(f"{collection}: id {record_id!r} is not numeric", field_path="id")
                rows.append(
                    _Row(utc_stamp(document.get("updated_at"), "updated_at"), kind, int(record_id), document, side)
                )
        rows.sort(key=lambda r: r.key)
        return rows

    def _read_collection(
        self, collection: str, filters: Mapping[str, str], updated_after: str | None
    ) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
        found: list[tuple[Mapping[str, Any], Mapping[str, Any]]] = []
        page = 1
        while True:
            query = dict(filters)
            if updated_after:
                query["updated_after"] = updated_after
            query.update(page=str(page), per_page=str(self._per_page))
            answer = self._client.get_json(f"{collection}?{urlencode(query)}")
            roles = answer.get("roles") if isinstance(answer, dict) else None
            found.extend(
                (document, roles if isinstance(roles, dict) else {}) for document in _ordered(answer, collection)
            )
            meta = answer.get("meta") if isinstance(answer, dict) else None
            page_count = meta.get("page_count") if isinstance(meta, dict) else None
            if not isinstance(page_count, int) or isinstance(page_count, bool):
                raise VendorPayloadError(f"{collection}: meta.page_count is required", field_path="meta.page_count")
            if page >= page_count:
                return found
            if page >= self._max_window_pages:
                raise VendorPayloadError(
                    f"{collection}: more than {self._max_window_pages} pages changed since {updated_after}; "
                    "raise max_window_pages or start the cursor later",
                    field_path="meta.page_count",
                )
            page += 1


def _ordered(answer: Any, collection: str) -> list[Mapping[str, Any]]:
    """The matches of a Kantata list, in `results` order (side-loaded objects are not matches)."""
    if not isinstance(answer, dict) or not isinstance(answer.get("results"), list):
        raise VendorPayloadError(f"{collection}: the answer has no results list", field_path="results")
    objects = answer.get(collection) or {}
    if not isinstance(objects, dict):
        raise VendorPayloadError(f"{collection} must be an object keyed by id", field_path=collection)
    matches: list[Mapping[str, Any]] = []
    for index, reference in enumerate(answer["results"]):
        if not isinstance(reference, dict) or reference.get("key") != collection:
            continue
        document = objects.get(str(reference.get("id")))
        if not isinstance(document, dict):
            raise VendorPayloadError(
                f"results[{index}] names {collection} {reference.get('id')} that the answer does not hold",
                field_path=f"results[{index}]",
            )
        matches.append(document)
    return matches
