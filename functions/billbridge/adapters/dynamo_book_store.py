"""Contract books in the ledger table, as items that do not grow with history
(see docs/decisions/0003-ledger-storage-at-scale.md and `dynamo_book_items`).

Two kinds of writer:

- **An input** (a time entry, a rejection, an expense, a milestone) reads the
  contract's `HEAD` and its own `IN#` item (one BatchGetItem), and writes that
  one item back on the condition that it is the revision it read (`ir`). It
  does not touch the head, so inputs of one contract never contend with each
  other; the item records the head `epoch` it was rated under.
- **A whole-book change** (a contract version, a billing run, feedback, an
  operator's decision) first takes the contract's fence (`LOCK`, a small item
  updated on condition that no live fence is there), reads every item of the
  contract, and writes only the items the change altered, in transactions of
  at most 100 items that each check the fence is still its own: inputs' items
  first (each on its `ir`), then the head, the invoices and the audit record
  with the fence's release. A change that stops halfway billed nothing (a line
  naming an invoice that is not stored is unbilled) and is re-derived by the
  retry. When the head's terms change, its `epoch` moves on and every input
  item the change re-rated is rewritten with it; an input item left with an
  older epoch (one the change did not alter, or an input rated while the terms
  changed) is re-rated before any whole-book rule reads it (`app.ledger.catch_up`)
  and written only if that changes it.

An amendment is such a change applied in pages (docs/decisions/0024-amendments-in-pages.md):
each page is fenced and reads the contract's terms (every item but its inputs and its invoices'
lines) and up to a page of its inputs; the version's own page writes the head first, with a
`RERATING` item that says which versions are still being applied and the last input reached,
moved on by each page's last transaction and deleted by the page that reaches the end.

The lookups written with books: `ENTRY#{id}` / `CONTRACT`, `PROPOSAL#{id}` /
`CONTRACT`, and `CONTRACT#{id}` / `KNOWN` on the lookup index (`CONTRACTS`).
An input's own audit records live on its item, found by the correlation id of
its first audited change through the lookup index (`INPUT_AUDIT#{correlation}`);
a whole-book change's are an `AUDIT#` item (`dynamo_audit_log`). A new time
entry's index entry is carried by its `ENTRY#` lookup (written once, first
writer wins), not by its `IN#` item, so that rewriting the item (the billing
run marks every line) does not write the index again (decision 5).

A new entry's lookup is written on condition that none exists; the old item it
returns on failure says whether a rejection of the entry arrived first and is
kept (`REJECTION_KEPT`, marked by `mark_rejection_kept`): the entry's item then
records `REJECTION_PENDING`, and the ledger takes the kept rejections only for
such entries, not with a query per entry (decision 0020). A first approval is
loaded with the contract's head only (`BookScope.expected_new`).

A contract still stored as one `BOOK` item (the layout of decision 0001) is
moved to this layout the first time it is loaded for update, or by
`billbridge migrate-ledger`.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import uuid
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from billbridge.adapters.dynamo_audit_log import AUDIT_TTL_ATTRIBUTE, audit_item, audit_items, exception_item
from billbridge.adapters.dynamo_book_items import (
    BOOK_ADAPTER,
    HEAD,
    INPUT_PREFIX,
    INPUTS_END,
    INVOICE_LINES_END,
    INVOICE_LINES_PREFIX,
    INVOICE_PREFIX,
    KNOWN,
    LEGACY_BOOK,
    LOCK,
    RERATING,
    assemble,
    contract_pk,
    cut_book,
    input_sk,
    invoice_ids_of_lines,
    is_empty_head,
    iter_chunks,
    pack,
    unpack,
    without_orphan_billing,
)
from billbridge.adapters.dynamo_table import DynamoTable
from billbridge.app.ledger import (
    WHOLE_BOOK,
    BookScope,
    ConcurrentUpdateError,
    InputKind,
    ScopeExceededError,
    StoredBook,
)
from billbridge.domain.model import BookUpdate, ContractBook

if TYPE_CHECKING:
    from billbridge.adapters.field_encryption import FieldEncryption

TRANSACTION_LIMIT = 100
ENTRY_LOOKUP_PREFIX = "ENTRY#"
REJECTION_KEPT = "rejection_kept"
"""On an `ENTRY#` lookup: a rejection of the entry arrived before the entry and is kept
(parked feedback) until it arrives. A lookup holding only this mark has no `contract_id`."""
REJECTION_PENDING = "rp"
"""On an input's item: its entry's lookup carried `REJECTION_KEPT` when the entry was stored,
so whoever handles the entry takes the kept rejections (decision 0020)."""
_KEPT_ATTRIBUTES = ("ac", "gsi1pk", "gsi1sk", REJECTION_PENDING)
"""What an input's item keeps from its previous version when a whole-book change rewrites it."""
FIRST_PAGE_SLACK = 0.1
"""Items beside a page's inputs that the first page's one Query may read (head, exceptions,
invoices...), as a share of the page: a contract of up to a page of inputs and a tenth of a page
of other items is read in one call."""
FENCE_SECONDS = 120
"""A whole-book change's fence expires after this long (a writer that died holding it)."""
AUDIT_RETENTION_SECONDS = 7 * 366 * 24 * 3600


@dataclass
class _Loaded:
    """What a view was read from: each item's body, revision and attributes."""

    raw: dict[str, bytes] = field(default_factory=dict)
    revisions: dict[str, int] = field(default_factory=dict)
    epochs: dict[str, int] = field(default_factory=dict)
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    audits: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    epoch: int = 0
    fence: str | None = None
    page: _Page | None = None
    """An amendment's page: where it stands."""


@dataclass(frozen=True)
class _Page:
    """A page of an amendment applied in pages, as loaded."""

    restart: bool
    next_after: str | None
    """The last input of this page when inputs may follow it, else None."""
    still_applying: tuple[int, ...]
    """The versions the `RERATING` item named when the page was read (none: no item)."""
    recorded: bool


def decode_legacy_book(blob: bytes) -> ContractBook:
    return BOOK_ADAPTER.validate_json(gzip.decompress(blob))


def encode_legacy_book(book: ContractBook) -> bytes:
    return gzip.compress(BOOK_ADAPTER.dump_json(book), compresslevel=6)


class DynamoBookStore:
    def __init__(
        self,
        table: DynamoTable,
        *,
        field_encryption: FieldEncryption | None = None,
        audit_retention_seconds: int = AUDIT_RETENTION_SECONDS,
    ) -> None:
        self._table = table
        self._field_encryption = field_encryption
        self._audit_retention_seconds = audit_retention_seconds
        self._rejections_may_be_kept: set[str] = set()
        """Entries whose stored items, read or written here, said a rejection may be kept for
        them: the next `rejection_may_be_kept` of each answers True (and forgets it)."""

    @property
    def client(self) -> Any:
        return self._table.client

    # --- reading -------------------------------------------------------------------

    def load(self, contract_id: str) -> StoredBook:
        """The whole book, for reading (no fence)."""
        items = self._table.query_pk(contract_pk(contract_id))
        loaded = self._loaded_from(contract_id, items)
        if HEAD not in loaded.raw:
            legacy = next((item for item in items if item["sk"]["S"] == LEGACY_BOOK), None)
            if legacy is not None:
                return StoredBook(self._reveal(decode_legacy_book(legacy["body"]["B"])), 0)
        return self._stored(contract_id, loaded, WHOLE_BOOK)

    def load_for_update(self, contract_id: str, scope: BookScope) -> StoredBook:
        if scope.paged:
            return self._load_page(contract_id, scope)
        if scope.whole:
            fence = self._take_fence(contract_id)
            try:
                items = self._table.query_pk(contract_pk(contract_id))
                if any(item["sk"]["S"] == LEGACY_BOOK for item in items):
                    self._migrate_fenced(contract_id, fence, items)
                    items = self._table.query_pk(contract_pk(contract_id))
            except BaseException:
                self._drop_fence(contract_id, fence)
                raise
            loaded = self._loaded_from(contract_id, items)
            loaded.fence = fence
            return self._stored(contract_id, loaded, scope)
        assert scope.kind is not None and scope.ref is not None
        pk = contract_pk(contract_id)
        # An input expected new is not read: its save's condition (no such item) checks that.
        keys = [(pk, HEAD)] if scope.expected_new else [(pk, HEAD), (pk, input_sk(scope.kind, scope.ref))]
        items = self._table.batch_get(keys)
        if not any(item["sk"]["S"] == HEAD for item in items) and self._table.get(pk, LEGACY_BOOK) is not None:
            self.migrate_contract(contract_id)
            items = self._table.batch_get(keys)
        loaded = self._loaded_from(contract_id, items)
        own = loaded.attributes.get(input_sk(scope.kind, scope.ref), {})
        if scope.kind == "time" and REJECTION_PENDING in own:
            self._rejections_may_be_kept.add(scope.ref)
        invoice_ids = sorted(invoice_ids_of_lines(loaded.raw))
        if invoice_ids:
            invoices = self._table.batch_get([(pk, INVOICE_PREFIX + proposal_id) for proposal_id in invoice_ids])
            more = self._loaded_from(contract_id, invoices)
            loaded.raw.update(more.raw)
            loaded.attributes.update(more.attributes)
        return self._stored(contract_id, loaded, scope)

    def release(self, stored: StoredBook) -> None:
        loaded = stored.handle
        if isinstance(loaded, _Loaded) and loaded.fence is not None:
            self._drop_fence(stored.book.contract_id, loaded.fence)

    def pass_over(self, stored: StoredBook) -> None:
        """A view that needed no change: an amendment's next page (not a restart) moves the
        `RERATING` item past it as it gives up the fence; any other view is released."""
        loaded = stored.handle
        page = loaded.page if isinstance(loaded, _Loaded) else None
        if page is None or page.restart or not page.recorded or loaded.fence is None:
            self.release(stored)
            return
        contract_id = stored.book.contract_id
        pk = contract_pk(contract_id)
        progress = self._page_progress(pk, page, set(page.still_applying))
        try:
            self._transact([*progress, self._fence_release(pk, loaded.fence)], contract_id)
        except BaseException:
            self._drop_fence(contract_id, loaded.fence)
            raise
        loaded.fence = None

    def _load_page(self, contract_id: str, scope: BookScope) -> StoredBook:
        """An amendment's page, fenced: every item of the contract but its inputs and its
        invoices' lines (a page needs the invoices' headers only), and up to
        `scope.page_inputs` inputs: the first ones (`restart`), or those after the last input
        the `RERATING` item says was reached."""
        pk = contract_pk(contract_id)
        fence = self._take_fence(contract_id)
        try:
            terms, inputs, next_after = self._first_page(pk, scope.page_inputs) if scope.restart else ([], [], None)
            inputs_read = bool(terms)
            if not terms:
                terms = self._terms_of_a_page(pk)
            if any(item["sk"]["S"] == LEGACY_BOOK for item in terms):
                self._migrate_fenced(contract_id, fence, self._table.query_pk(pk))
                terms, inputs, next_after, inputs_read = self._terms_of_a_page(pk), [], None, False
            rerating = next((item for item in terms if item["sk"]["S"] == RERATING), None)
            still_applying = tuple(sorted(int(n) for n in rerating["versions"]["NS"])) if rerating else ()
            if not inputs_read and (scope.restart or rerating is not None):
                after = None if scope.restart or rerating is None else rerating.get("after", {}).get("S")
                inputs, next_after = self._table.query_sk_range(
                    pk,
                    "sk BETWEEN :first AND :end",
                    {":first": INPUT_PREFIX, ":end": INPUTS_END},
                    after=after,
                    limit=max(scope.page_inputs, 1),
                )
        except BaseException:
            self._drop_fence(contract_id, fence)
            raise
        loaded = self._loaded_from(contract_id, terms + inputs)
        loaded.fence = fence
        loaded.page = _Page(
            restart=scope.restart, next_after=next_after, still_applying=still_applying, recorded=rerating is not None
        )
        stored = self._stored(contract_id, loaded, scope)
        return replace(stored, more_inputs=next_after is not None, still_applying=still_applying)

    def _first_page(self, pk: str, page_inputs: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str | None]:
        """The first page read from the partition's start: a contract of one page (most of them)
        costs one Query, as a whole book does. Returns its terms, its inputs and the last input
        when inputs may follow; no terms when the read stopped before the inputs."""
        items, stopped_at = self._table.query_sk_range(
            pk, "", {}, limit=max(page_inputs, 1) + int(page_inputs * FIRST_PAGE_SLACK)
        )
        if stopped_at is None:
            inputs = [item for item in items if _is_input(item)]
            return [item for item in items if not _is_input(item)], inputs, None
        if not (INPUT_PREFIX <= stopped_at < INPUTS_END):
            return [], [], None  # stopped before the inputs (or after them): read by ranges
        before_inputs = [item for item in items if item["sk"]["S"] < INPUT_PREFIX]
        return before_inputs + self._terms_after_inputs(pk), [item for item in items if _is_input(item)], stopped_at

    def _terms_of_a_page(self, pk: str) -> list[dict[str, Any]]:
        """Every item of the partition but its inputs and its invoices' lines (three ranges)."""
        return self._table.query_sk_range(pk, "sk < :inputs", {":inputs": INPUT_PREFIX})[0] + self._terms_after_inputs(
            pk
        )

    def _terms_after_inputs(self, pk: str) -> list[dict[str, Any]]:
        ranges = (
            ("sk BETWEEN :after_inputs AND :lines", {":after_inputs": INPUTS_END, ":lines": INVOICE_LINES_PREFIX}),
            ("sk > :after_lines", {":after_lines": INVOICE_LINES_END}),
        )
        return [item for condition, values in ranges for item in self._table.query_sk_range(pk, condition, values)[0]]

    def _page_progress(self, pk: str, page: _Page, versions: set[int]) -> list[dict[str, Any]]:
        """What a page's save writes to the `RERATING` item: the versions still being applied
        and the last input reached while inputs may follow; its deletion once none do."""
        key = {"pk": {"S": pk}, "sk": {"S": RERATING}}
        table = self._table.table_name
        if page.next_after is not None and versions:
            item = {**key, "after": {"S": page.next_after}, "versions": {"NS": [str(n) for n in sorted(versions)]}}
            return [{"Put": {"TableName": table, "Item": item}}]
        if page.recorded:
            return [{"Delete": {"TableName": table, "Key": key}}]
        return []

    def _stored(self, contract_id: str, loaded: _Loaded, scope: BookScope) -> StoredBook:
        book = without_orphan_billing(assemble(contract_id, loaded.raw))
        stale: list[tuple[InputKind, str]] = []
        if scope.whole and book.versions:
            for sk, epoch in loaded.epochs.items():
                if epoch < loaded.epoch:
                    kind, ref = sk[len(INPUT_PREFIX) :].split("#", 1)
                    stale.append((kind, ref))  # type: ignore[arg-type]
        return StoredBook(book, loaded.epoch, scope=scope, handle=loaded, stale_refs=tuple(sorted(stale)))

    def _loaded_from(self, contract_id: str, items: list[dict[str, Any]]) -> _Loaded:
        loaded = _Loaded()
        for item in items:
            sk = item["sk"]["S"]
            if sk in (LOCK, KNOWN, LEGACY_BOOK):
                continue
            if "body" not in item:
                continue
            body = unpack(item["body"])
            if sk == HEAD:
                loaded.epoch = int(item.get("epoch", {}).get("N", "0"))
                if self._field_encryption is not None:
                    body = BOOK_ADAPTER.dump_json(self._field_encryption.reveal(BOOK_ADAPTER.validate_json(body)))
            if sk.startswith(INPUT_PREFIX):
                body, loaded.audits[sk] = _split_input_body(body)
                loaded.revisions[sk] = int(item["ir"]["N"])
                loaded.epochs[sk] = int(item.get("epoch", {}).get("N", "0"))
            loaded.raw[sk] = body
            loaded.attributes[sk] = item
        return loaded

    def contract_ids(self) -> list[str]:
        return sorted(item["gsi1sk"]["S"] for item in self._table.query_index("CONTRACTS"))

    def books(self) -> list[ContractBook]:
        """Every book, including contracts still pending (entries before their contract)."""
        ids = {
            item["pk"]["S"].removeprefix("CONTRACT#") for item in self._table.scan_prefix("CONTRACT#", keys_only=True)
        }
        return [self.load(contract_id).book for contract_id in sorted(ids)]

    def contract_of_entry(self, entry_id: str) -> str | None:
        item = self._table.get(f"ENTRY#{entry_id}", "CONTRACT")
        if item is None or "contract_id" not in item:  # none, or only a kept rejection's mark
            return None
        return str(item["contract_id"]["S"])

    # --- rejections that overtook their entry --------------------------------------------

    def mark_rejection_kept(self, entry_id: str) -> str | None:
        """Mark the entry's lookup: a rejection of it is kept until it arrives. Returns the
        entry's contract id if the entry was stored meanwhile (its writer saw no mark)."""
        response = self.client.update_item(
            TableName=self._table.table_name,
            Key={"pk": {"S": f"{ENTRY_LOOKUP_PREFIX}{entry_id}"}, "sk": {"S": "CONTRACT"}},
            UpdateExpression="SET #kept = :kept",
            ExpressionAttributeNames={"#kept": REJECTION_KEPT},
            ExpressionAttributeValues={":kept": {"BOOL": True}},
            ReturnValues="ALL_NEW",
        )
        contract = response.get("Attributes", {}).get("contract_id")
        return None if contract is None else str(contract["S"])

    def rejection_may_be_kept(self, entry_id: str) -> bool:
        """Whether the entry's items, as this store last read or wrote them, said a rejection
        may be kept for it (answered once: the caller takes the kept rejections)."""
        if entry_id in self._rejections_may_be_kept:
            self._rejections_may_be_kept.discard(entry_id)
            return True
        return False

    def contract_of_proposal(self, proposal_id: str) -> str | None:
        item = self._table.get(f"PROPOSAL#{proposal_id}", "CONTRACT")
        return None if item is None else str(item["contract_id"]["S"])

    # --- the audit kept with inputs ----------------------------------------------------

    def input_audit_of_contract(self, contract_id: str) -> list[dict[str, Any]]:
        return [
            {**record, "contract_id": contract_id, "recorded_at": save["at"]}
            for item in self._table.query_pk(contract_pk(contract_id), sk_prefix=INPUT_PREFIX)
            for save in _input_audit(item)
            for record in save["records"]
        ]

    def input_audit_by_correlation(self, correlation_id: str) -> list[dict[str, Any]]:
        trail = []
        found = self._table.query_index(f"INPUT_AUDIT#{correlation_id}")
        by_lookup = [i for i in found if i["pk"]["S"].startswith(ENTRY_LOOKUP_PREFIX)]
        inputs = [i for i in found if not i["pk"]["S"].startswith(ENTRY_LOOKUP_PREFIX)]
        for lookup in by_lookup:  # one lookup per correlation id, as a rule
            entry_id = lookup["pk"]["S"][len(ENTRY_LOOKUP_PREFIX) :]
            item = self._table.get(contract_pk(lookup["contract_id"]["S"]), input_sk("time", entry_id))
            if item is not None:
                inputs.append(item)
        unique = {(i["pk"]["S"], i["sk"]["S"]): i for i in inputs}
        for item in unique.values():
            contract_id = item["pk"]["S"].removeprefix("CONTRACT#")
            trail.extend(
                {**record, "contract_id": contract_id, "recorded_at": save["at"]}
                for save in _input_audit(item)
                for record in save["records"]
                if record.get("correlation_id") in (correlation_id, "")
            )
        return trail

    def input_saves_by_correlation(self) -> dict[str, set[str]]:
        saves: dict[str, set[str]] = {}
        for item in self._table.scan_prefix("CONTRACT#"):
            if not item["sk"]["S"].startswith(INPUT_PREFIX):
                continue
            for n, save in enumerate(_input_audit(item)):
                name = f"{item['pk']['S']}/{item['sk']['S']}/{n}"
                for record in save["records"]:
                    saves.setdefault(record.get("correlation_id") or "", set()).add(name)
        return saves

    # --- saving --------------------------------------------------------------------------

    def save(self, stored: StoredBook, update: BookUpdate) -> None:
        loaded = stored.handle
        if stored.scope.whole and (not isinstance(loaded, _Loaded) or loaded.fence is None):
            # A book loaded for reading (or made elsewhere): saved if nothing changed since.
            stored, loaded = self._fenced_again(stored, loaded)
        if stored.scope.whole:
            self._save_whole(stored, loaded, update)
        else:
            self._save_input(stored, loaded, update)

    def _fenced_again(self, stored: StoredBook, loaded: Any) -> tuple[StoredBook, _Loaded]:
        contract_id = stored.book.contract_id
        fresh = self.load_for_update(contract_id, WHOLE_BOOK)
        fresh_loaded = fresh.handle
        assert isinstance(fresh_loaded, _Loaded)
        expected_raw = loaded.raw if isinstance(loaded, _Loaded) else {}
        expected_revisions = loaded.revisions if isinstance(loaded, _Loaded) else {}
        unchanged = fresh_loaded.raw == expected_raw and fresh_loaded.revisions == expected_revisions
        if not isinstance(loaded, _Loaded) and stored.revision != 0:
            unchanged = False
        if not unchanged:
            self.release(fresh)
            raise ConcurrentUpdateError(contract_id)
        return fresh, fresh_loaded

    def _changes(self, stored: StoredBook, loaded: _Loaded, update: BookUpdate) -> tuple[dict[str, bytes], list[str]]:
        new = cut_book(update.book)
        contract_id = update.book.contract_id
        changed = {
            sk: body
            for sk, body in new.items()
            if loaded.raw.get(sk) != body
            and not (sk == HEAD and sk not in loaded.raw and is_empty_head(body, contract_id))
        }
        deleted = [sk for sk in loaded.raw if sk not in new]
        return changed, deleted

    def _save_input(self, stored: StoredBook, loaded: _Loaded, update: BookUpdate) -> None:
        scope = stored.scope
        assert scope.kind is not None and scope.ref is not None
        own = input_sk(scope.kind, scope.ref)
        changed, deleted = self._changes(stored, loaded, update)
        outside = (set(changed) | set(deleted)) - {own}
        if outside:
            raise ScopeExceededError(f"{update.book.contract_id}: {sorted(outside)[:3]} changed by an input's rule")
        pk = contract_pk(update.book.contract_id)
        before, book = stored.book, update.book
        now = self._table.now()
        records = [asdict(record) for record in update.audit]
        correlation_id = next((r["correlation_id"] for r in records if r.get("correlation_id")), "")
        previous = loaded.attributes.get(own)
        audit_saves = loaded.audits.get(own, [])
        # The input's item is indexed by the correlation id of the first change that audited it.
        indexed = (previous.get("ac", {}).get("S") if previous is not None else None) or correlation_id
        index_on_lookup = False
        rejection_pending = previous is not None and REJECTION_PENDING in previous
        for entry_id in book.entries:
            if entry_id not in before.entries:
                first = previous is None and scope.kind == "time" and entry_id == scope.ref
                index = indexed if first and records and indexed == correlation_id else ""
                written, kept = self._put_entry_lookup(entry_id, book.contract_id, index, now)
                index_on_lookup = written or index_on_lookup
                rejection_pending = rejection_pending or (kept and entry_id == scope.ref)
        extra: list[dict[str, Any]] = []
        if records and indexed == correlation_id:
            audit_saves = [*audit_saves, {"at": now, "records": records}]
        elif records:
            extra.append(
                {
                    "Put": {
                        "TableName": self._table.table_name,
                        "Item": self._audit_item(book.contract_id, records, now),
                    }
                }
            )
        for exception_id, exception in book.exceptions.items():
            if before.exceptions.get(exception_id) != exception:
                extra.append({"Put": {"TableName": self._table.table_name, "Item": exception_item(exception)}})
        if own in deleted:
            write: dict[str, Any] = {
                "Delete": {
                    "TableName": self._table.table_name,
                    "Key": {"pk": {"S": pk}, "sk": {"S": own}},
                    **_revision_condition(loaded.revisions.get(own)),
                }
            }
        else:
            item = {
                "pk": {"S": pk},
                "sk": {"S": own},
                "body": _input_body(changed.get(own, loaded.raw.get(own, b"")), audit_saves),
                "ir": {"N": str(loaded.revisions.get(own, 0) + 1)},
                "epoch": {"N": str(loaded.epoch)},
            }
            if rejection_pending and scope.kind == "time":
                item[REJECTION_PENDING] = {"BOOL": True}
                self._rejections_may_be_kept.add(scope.ref)
            if indexed and audit_saves:
                # The input's audit is found by the correlation id of its first change: through
                # its entry lookup when that carries the index, else through the item itself.
                item["ac"] = {"S": indexed}
                delegated = previous is not None and "ac" in previous and "gsi1pk" not in previous
                carried_elsewhere = index_on_lookup or delegated
                if not carried_elsewhere:
                    item["gsi1pk"] = {"S": f"INPUT_AUDIT#{indexed}"}
                    item["gsi1sk"] = {"S": str(audit_saves[0]["at"])}
            write = {
                "Put": {
                    "TableName": self._table.table_name,
                    "Item": item,
                    **_revision_condition(loaded.revisions.get(own)),
                }
            }
        if not extra:
            self._write_one(write, book.contract_id)
            return
        self._transact([write, *extra], book.contract_id)

    def _save_whole(
        self,
        stored: StoredBook,
        loaded: _Loaded,
        update: BookUpdate,
        *,
        extra_final: tuple[dict[str, Any], ...] = (),
        keep_fence: bool = False,
    ) -> None:
        book = update.book
        contract_id = book.contract_id
        fence = loaded.fence
        if fence is None:
            raise ConcurrentUpdateError(f"{contract_id}: a whole-book change must be loaded for update")
        pk = contract_pk(contract_id)
        table = self._table.table_name
        changed, deleted = self._changes(stored, loaded, update)
        epoch = loaded.epoch + (1 if HEAD in changed else 0)
        inputs: list[dict[str, Any]] = []
        early: list[dict[str, Any]] = []
        final: list[dict[str, Any]] = []
        before = stored.book
        # New entries' lookups first, each on its own (first writer wins): one found marked by a
        # kept rejection makes its entry's item say so, whoever then handles the entry takes it.
        kept: set[str] = set()
        for entry_id in book.entries:
            if entry_id not in before.entries and self._put_entry_lookup(entry_id, contract_id, "", "")[1]:
                kept.add(input_sk("time", entry_id))
                self._rejections_may_be_kept.add(entry_id)
        # Inputs: every changed one, with the head's epoch. An input the change left as it was
        # keeps its item and its older epoch: the next whole-book change re-rates it again before
        # its rule reads it (`app.ledger.catch_up`), finds it unchanged and writes nothing, so an
        # amendment writes the inputs it re-rated, not every input of the contract.
        for sk in sorted(changed):
            if not sk.startswith(INPUT_PREFIX):
                continue
            item = {name: value for name, value in loaded.attributes.get(sk, {}).items() if name in _KEPT_ATTRIBUTES}
            if sk in kept:
                item[REJECTION_PENDING] = {"BOOL": True}
            item.update(
                {
                    "pk": {"S": pk},
                    "sk": {"S": sk},
                    "body": _input_body(changed.get(sk, loaded.raw.get(sk, b"")), loaded.audits.get(sk, [])),
                    "ir": {"N": str(loaded.revisions.get(sk, 0) + 1)},
                    "epoch": {"N": str(epoch)},
                }
            )
            inputs.append({"Put": {"TableName": table, "Item": item, **_revision_condition(loaded.revisions.get(sk))}})
        for sk in sorted(deleted):
            key = {"pk": {"S": pk}, "sk": {"S": sk}}
            if sk.startswith(INPUT_PREFIX):
                condition = _revision_condition(loaded.revisions.get(sk))
                inputs.append({"Delete": {"TableName": table, "Key": key, **condition}})
                continue
            target = final if sk.startswith(INVOICE_PREFIX) else early
            target.append({"Delete": {"TableName": table, "Key": key}})
        for sk in sorted(changed):
            if sk.startswith(INPUT_PREFIX):
                continue
            if sk == HEAD:
                head = BOOK_ADAPTER.validate_json(changed[sk])
                body = BOOK_ADAPTER.dump_json(self._protect(head))
                item = {"pk": {"S": pk}, "sk": {"S": HEAD}, "body": pack(body), "epoch": {"N": str(epoch)}}
                final.append({"Put": {"TableName": table, "Item": item}})
                continue
            item = {"pk": {"S": pk}, "sk": {"S": sk}, "body": pack(changed[sk])}
            (final if sk.startswith(INVOICE_PREFIX) else early).append({"Put": {"TableName": table, "Item": item}})
        for exception_id, exception in book.exceptions.items():
            if before.exceptions.get(exception_id) != exception:
                early.append({"Put": {"TableName": table, "Item": exception_item(exception)}})
        for proposal_id in book.invoices:
            if proposal_id not in before.invoices:
                early.append(
                    {"Put": {"TableName": table, "Item": _lookup_item(f"PROPOSAL#{proposal_id}", contract_id)}}
                )
        if book.is_known and not before.is_known:
            # The list of known contracts is a small marker item on the lookup index.
            marker = {"pk": {"S": pk}, "sk": {"S": KNOWN}, "gsi1pk": {"S": "CONTRACTS"}, "gsi1sk": {"S": contract_id}}
            early.append({"Put": {"TableName": table, "Item": marker}})
        if update.audit:
            records = [asdict(record) for record in update.audit]
            final.extend(
                {"Put": {"TableName": table, "Item": part}}
                for part in self._audit_items(contract_id, records, self._table.now())
            )
        final.extend(extra_final)
        fence_check = {
            "ConditionCheck": {
                "TableName": table,
                "Key": {"pk": {"S": pk}, "sk": {"S": LOCK}},
                "ConditionExpression": "fence = :fence",
                "ExpressionAttributeValues": {":fence": {"S": fence}},
            }
        }
        page = loaded.page
        head_first: list[dict[str, Any]] = []
        if page is not None:
            added = set(book.versions) - set(before.versions)
            pending = set(page.still_applying) | added
            if added and before.versions:
                # A version reaches the inputs in pages: the head takes it first, with the
                # `RERATING` item saying no input has been reached yet. Whatever stops the save
                # after it leaves a head that has the version and inputs rated under older terms
                # (caught up by any whole-book change before its rule reads them), never inputs
                # re-rated beside a head that does not have the version yet.
                head_first = [
                    fence_check,
                    *(w for w in final if w.get("Put", {}).get("Item", {}).get("sk") == {"S": HEAD}),
                ]
                final = [w for w in final if w not in head_first]
                started = {
                    "pk": {"S": pk},
                    "sk": {"S": RERATING},
                    "versions": {"NS": [str(n) for n in sorted(pending)]},
                }
                head_first.append({"Put": {"TableName": table, "Item": started}})
                page = replace(page, recorded=True)
            if added or not page.restart:
                final.extend(self._page_progress(pk, page, pending))
        final.append(fence_check if keep_fence else self._fence_release(pk, fence))
        if len(final) > TRANSACTION_LIMIT:
            raise RuntimeError(
                f"{contract_id}: {len(final)} items must be written together (limit {TRANSACTION_LIMIT})"
            )
        try:
            # Inputs' items one conditional write each (on their own revision); then the rest,
            # fenced; the head, invoices and audit last (an amendment's head first).
            if head_first:
                self._transact(head_first, contract_id)
            for write in inputs:
                try:
                    self._write_one(write, contract_id)
                except ConcurrentUpdateError:
                    if page is None:
                        raise
                    # An amendment's page: the input was written since it was read, by its own
                    # rule (fenced out are whole-book changes), under the head as it is now or
                    # under older terms, which the catch-up of any whole-book change re-rates.
            for chunk in iter_chunks(early, TRANSACTION_LIMIT - 1):
                self._transact([fence_check, *chunk], contract_id)
            self._transact(final, contract_id)
        except BaseException:
            if not keep_fence:
                self._drop_fence(contract_id, fence)
            raise
        if not keep_fence:
            loaded.fence = None

    def _write_one(self, write: dict[str, Any], contract_id: str) -> None:
        ((kind, request),) = write.items()
        call = self.client.put_item if kind == "Put" else self.client.delete_item
        try:
            call(**request)
        except self.client.exceptions.ConditionalCheckFailedException as error:
            raise ConcurrentUpdateError(contract_id) from error

    def _transact(self, items: list[dict[str, Any]], contract_id: str) -> None:
        try:
            self.client.transact_write_items(TransactItems=items)
        except self.client.exceptions.TransactionCanceledException as error:
            reasons = error.response.get("CancellationReasons", [])
            if any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons):
                raise ConcurrentUpdateError(contract_id) from error
            raise

    # --- the fence -------------------------------------------------------------------------

    def _take_fence(self, contract_id: str) -> str:
        fence = uuid.uuid4().hex
        now = int(self._table.now_datetime().timestamp())
        try:
            self.client.update_item(
                TableName=self._table.table_name,
                Key={"pk": {"S": contract_pk(contract_id)}, "sk": {"S": LOCK}},
                UpdateExpression="SET fence = :fence, fence_until = :until",
                ConditionExpression="attribute_not_exists(fence) OR fence_until < :now",
                ExpressionAttributeValues={
                    ":fence": {"S": fence},
                    ":until": {"N": str(now + FENCE_SECONDS)},
                    ":now": {"N": str(now)},
                },
            )
        except self.client.exceptions.ConditionalCheckFailedException as error:
            raise ConcurrentUpdateError(f"{contract_id}: another whole-book change is in progress") from error
        return fence

    def _fence_release(self, pk: str, fence: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._table.table_name,
                "Key": {"pk": {"S": pk}, "sk": {"S": LOCK}},
                "UpdateExpression": "REMOVE fence, fence_until",
                "ConditionExpression": "fence = :fence",
                "ExpressionAttributeValues": {":fence": {"S": fence}},
            }
        }

    def _drop_fence(self, contract_id: str, fence: str) -> None:
        request = self._fence_release(contract_pk(contract_id), fence)["Update"]
        # A fence that expired and was taken by another writer is not ours to drop.
        with contextlib.suppress(self.client.exceptions.ConditionalCheckFailedException):
            self.client.update_item(**request)

    # --- the layout of decision 0001 ---------------------------------------------------------

    def legacy_contract_ids(self) -> list[str]:
        return sorted(
            item["pk"]["S"].removeprefix("CONTRACT#")
            for item in self._table.scan_prefix("CONTRACT#", sk=LEGACY_BOOK, keys_only=True)
        )

    def migrate_contract(self, contract_id: str) -> bool:
        """Move a contract stored as one `BOOK` item to this layout (idempotent:
        False when there is nothing to move)."""
        fence = self._take_fence(contract_id)
        try:
            items = self._table.query_pk(contract_pk(contract_id))
            if not any(item["sk"]["S"] == LEGACY_BOOK for item in items):
                self._drop_fence(contract_id, fence)
                return False
            self._migrate_fenced(contract_id, fence, items)
        except BaseException:
            self._drop_fence(contract_id, fence)
            raise
        self._drop_fence(contract_id, fence)
        return True

    def _migrate_fenced(self, contract_id: str, fence: str, items: list[dict[str, Any]]) -> None:
        """Write the legacy book's items and delete the `BOOK` item in the last
        transaction (on its revision); the fence is kept."""
        legacy = next(item for item in items if item["sk"]["S"] == LEGACY_BOOK)
        book = self._reveal(decode_legacy_book(legacy["body"]["B"]))
        loaded = self._loaded_from(contract_id, items)
        loaded.fence = fence
        stored = StoredBook(ContractBook(contract_id=contract_id), loaded.epoch, handle=loaded)
        legacy_delete = (
            {
                "Delete": {
                    "TableName": self._table.table_name,
                    "Key": {"pk": {"S": contract_pk(contract_id)}, "sk": {"S": LEGACY_BOOK}},
                    "ConditionExpression": "revision = :revision",
                    "ExpressionAttributeValues": {":revision": legacy["revision"]},
                }
            },
        )
        # The book is written as it is: no audit (the migration changes no fact).
        self._save_whole(stored, loaded, BookUpdate(book=book), extra_final=legacy_delete, keep_fence=True)

    # --- helpers ------------------------------------------------------------------------------

    def _put_entry_lookup(self, entry_id: str, contract_id: str, index: str, now: str) -> tuple[bool, bool]:
        """Write the entry -> contract lookup, first writer wins; with `index` (a correlation id),
        the lookup also carries the entry's audit index entry. Returns (index written by this
        call: the input's item then need not carry it, a rejection is kept for the entry: the
        lookup was marked before the entry arrived)."""
        item = _lookup_item(f"{ENTRY_LOOKUP_PREFIX}{entry_id}", contract_id)
        if index:
            item |= {"gsi1pk": {"S": f"INPUT_AUDIT#{index}"}, "gsi1sk": {"S": now}}
        try:
            self.client.put_item(
                TableName=self._table.table_name,
                Item=item,
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self.client.exceptions.ConditionalCheckFailedException as failed:
            existing = failed.response.get("Item") or {}
        else:
            return bool(index), False
        kept = REJECTION_KEPT in existing
        if existing.get("contract_id", {}).get("S") == contract_id:
            # Written by an earlier attempt of this same change: the index is ours. Else another
            # delivery of the entry wrote it first, and the input's item carries our index.
            return bool(index) and existing.get("gsi1pk") == item.get("gsi1pk"), kept
        # Only a kept rejection's mark (or the entry moved here from another contract): the
        # lookup names this contract from now on, and carries our index if it carries none.
        index_here = bool(index) and "gsi1pk" not in existing
        assignments = ["contract_id = :contract"] + (["gsi1pk = :gpk", "gsi1sk = :gsk"] if index_here else [])
        values = {":contract": item["contract_id"]}
        if index_here:
            values |= {":gpk": item["gsi1pk"], ":gsk": item["gsi1sk"]}
        self.client.update_item(
            TableName=self._table.table_name,
            Key={"pk": item["pk"], "sk": item["sk"]},
            UpdateExpression="SET " + ", ".join(assignments),
            ExpressionAttributeValues=values,
        )
        return index_here, kept

    def _audit_item(self, contract_id: str, records: list[dict[str, Any]], now: str) -> dict[str, Any]:
        expires = int(self._table.now_datetime().timestamp()) + self._audit_retention_seconds
        return audit_item(contract_id, uuid.uuid4().hex[:12], records, recorded_at=now, expires_at=expires)

    def _audit_items(self, contract_id: str, records: list[dict[str, Any]], now: str) -> list[dict[str, Any]]:
        """A whole-book change's audit: one item, or parts when it is large (an amendment
        re-rating thousands of lines), all in the change's last transaction."""
        expires = int(self._table.now_datetime().timestamp()) + self._audit_retention_seconds
        return audit_items(contract_id, uuid.uuid4().hex[:12], records, recorded_at=now, expires_at=expires)

    def _reveal(self, book: ContractBook) -> ContractBook:
        return book if self._field_encryption is None else self._field_encryption.reveal(book)

    def _protect(self, book: ContractBook) -> ContractBook:
        return book if self._field_encryption is None else self._field_encryption.protect(book)


def _is_input(item: dict[str, Any]) -> bool:
    return bool(INPUT_PREFIX <= item["sk"]["S"] < INPUTS_END)


def _revision_condition(revision: int | None) -> dict[str, Any]:
    if revision is None:
        return {"ConditionExpression": "attribute_not_exists(pk)"}
    return {"ConditionExpression": "ir = :ir", "ExpressionAttributeValues": {":ir": {"N": str(revision)}}}


def _lookup_item(pk: str, contract_id: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": "CONTRACT"}, "contract_id": {"S": contract_id}}


def _input_body(group: bytes, audit_saves: list[dict[str, Any]]) -> dict[str, Any]:
    """An input item's body: the input's JSON, a newline, its audit's JSON (compressed together)."""
    return pack(group + b"\n" + json.dumps(audit_saves, default=str, separators=(",", ":")).encode())


def _split_input_body(body: bytes) -> tuple[bytes, list[dict[str, Any]]]:
    group, _, audit = body.partition(b"\n")
    saves: list[dict[str, Any]] = json.loads(audit) if audit else []
    return group, saves


def _input_audit(item: dict[str, Any]) -> list[dict[str, Any]]:
    return _split_input_body(unpack(item["body"]))[1] if "body" in item else []


__all__ = ["AUDIT_TTL_ATTRIBUTE", "DynamoBookStore"]
