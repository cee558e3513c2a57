"""Contract versions and terminations arriving from the CLM."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from billbridge.domain.book_draft import BookDraft, RuleContext, exception_id_for
from billbridge.domain.model import (
    BillingException,
    BillingLine,
    BookUpdate,
    ContractBook,
    ContractVersion,
    ExceptionState,
    ExceptionType,
    Termination,
)
from billbridge.domain.money import ZERO, round_money
from billbridge.domain.reconcile import reconcile_book
from billbridge.domain.versions import VersionArrival, VersionTimeline, classify_version


def apply_contract_version(
    book: ContractBook, version: ContractVersion, context: RuleContext, *, still_applying: Iterable[int] = ()
) -> BookUpdate:
    """Store a new version; re-rate what is unbilled; flag what is invoiced.

    A version at or below the latest known one is stale (audited, no effect);
    the same version with another body raises `version_conflict`.

    `book` may be a view: the contract's terms with some of its inputs (an amendment
    applied in pages, docs/decisions/0024-amendments-in-pages.md). `still_applying` names
    earlier versions whose amendment has not reached every input yet: the invoiced lines of
    the view join their retroactive changes too (`recheck_invoiced_lines`).
    """
    draft = BookDraft(book, context)
    arrival = classify_version(book.versions, version)
    if arrival in (VersionArrival.STALE, VersionArrival.DUPLICATE):
        draft.record(
            "version_ignored",
            f"{version.contract_id}:v{version.version}",
            contract_version=version.version,
            rule=f"version {arrival}: at or below the latest known version",
        )
        return BookUpdate.unchanged(book, tuple(draft.audit))
    if arrival == VersionArrival.CONFLICT:
        draft.raise_exception(
            ExceptionType.VERSION_CONFLICT,
            f"v{version.version}",
            refs=(str(version.version),),
            amount=ZERO,
            detail=f"version {version.version} was delivered again with a different body",
            contract_version=version.version,
        )
        return draft.freeze()

    draft.versions[version.version] = version
    after = draft.timeline()
    draft.record(
        "version_stored",
        f"{version.contract_id}:v{version.version}",
        contract_version=version.version,
        rule=f"effective from {version.effective_date.isoformat()}",
    )
    _recheck(draft, (number for number in still_applying if number != version.version))
    _flag_retroactive_change(draft, after, version)
    reconcile_book(draft, cause_version=version.version if book.versions else None)
    draft.emit(
        "contracts",
        "ContractSynced",
        {
            "version": version.version,
            "effective_date": version.effective_date.isoformat(),
            "customer_id": version.customer_id,
            "legal_entity": version.legal_entity,
        },
    )
    return draft.freeze()


def recheck_invoiced_lines(book: ContractBook, versions: Iterable[int], context: RuleContext) -> BookUpdate:
    """The next page of an amendment applied in pages: the invoiced lines of this view
    (`book` holds the contract's terms and some of its inputs) that one of `versions` now
    governs join that version's `retroactive_change`. The view's unbilled inputs are re-rated
    by the catch-up every whole-book change makes (`app.ledger.catch_up`), not here.
    Applying it again to the same view changes nothing."""
    draft = BookDraft(book, context)
    _recheck(draft, versions)
    return draft.freeze()


def _recheck(draft: BookDraft, versions: Iterable[int]) -> None:
    if not draft.versions:
        return
    timeline = draft.timeline()
    for number in sorted(set(versions)):
        version = draft.versions.get(number)
        if version is not None:
            _flag_retroactive_change(draft, timeline, version)


def apply_termination(book: ContractBook, termination: Termination, context: RuleContext) -> BookUpdate:
    """The contract ends on the termination's effective date (still billable)."""
    draft = BookDraft(book, context)
    if book.termination is not None and book.termination.version >= termination.version:
        draft.record("termination_ignored", f"{termination.contract_id}:v{termination.version}", rule="stale")
        return BookUpdate.unchanged(book, tuple(draft.audit))
    before = draft.timeline()
    draft.termination = termination
    after = draft.timeline()
    draft.record(
        "contract_terminated",
        termination.contract_id,
        contract_version=termination.version,
        rule=f"last billable day {termination.effective_date.isoformat()}",
    )
    if draft.versions:
        _flag_terminated_invoiced_days(draft, before, after, termination)
    reconcile_book(draft, cause_version=None)
    draft.emit("contracts", "ContractTerminated", {"effective_date": termination.effective_date.isoformat()})
    return draft.freeze()


def _flag_retroactive_change(draft: BookDraft, after: VersionTimeline, version: ContractVersion) -> None:
    """Invoiced lines are immutable: when the new version now governs some of
    their days, raise one `retroactive_change` with the total delta.

    The delta of a line is measured from what it is worth already: its invoiced
    amount, or the amount an approved earlier retroactive change re-priced it
    to (that adjustment is billed). An earlier change still open whose lines
    are all re-priced again by this one is superseded by it.

    Applied page by page (a view of some inputs), each page's lines join the
    version's open change: a line already in it is not counted again, and a line
    invoiced under this very version (billed while the amendment was being
    applied) changes nothing."""
    key, own, known = _open_change_of(draft, version.version)
    baselines, earlier_open = _retroactive_baselines(draft)
    earlier_open = [exception for exception in earlier_open if exception is not own]
    affected: list[BillingLine] = []
    repriced: list[tuple[str, Decimal]] = []
    delta = own.amount if own is not None else ZERO
    for line in draft.lines.values():
        if line.kind != "time" or line.line_id in known or line.contract_version == version.version:
            continue
        if not draft.is_billed(line):
            continue
        governed = [day for day in line.days if _governs(after, version, day.date)]
        if not governed:
            continue
        new_amount = _amount_under(after, draft, line)
        affected.append(line)
        repriced.append((line.line_id, new_amount))
        delta += new_amount - baselines.get(line.line_id, line.amount)
    if not affected:
        return
    if own is not None:
        repriced = [*own.repriced, *repriced]
    _raise_retroactive_change(
        draft,
        earlier_open,
        affected,
        repriced,
        key=key,
        amount=delta,
        detail=(
            f"version {version.version} (effective {version.effective_date.isoformat()}) changes "
            f"{len(repriced)} invoiced line(s); approve to bill the delta as an adjustment"
        ),
        contract_version=version.version,
        superseded_because=f"superseded by version {version.version}, which re-prices the same invoiced lines",
        already=own,
    )


def _open_change_of(draft: BookDraft, version: int) -> tuple[str, BillingException | None, set[str]]:
    """The key of the version's open `retroactive_change` (`v{n}`; `v{n}.2`, `v{n}.3`... once
    an operator decided the earlier ones while the amendment was still being applied in pages),
    that change if it is raised, and every line the version's changes already hold."""
    known: set[str] = set()
    part = 1
    while True:
        key = f"v{version}" if part == 1 else f"v{version}.{part}"
        existing = draft.exceptions.get(exception_id_for(ExceptionType.RETROACTIVE_CHANGE, draft.contract_id, key))
        if existing is None:
            return key, None, known
        known |= set(existing.line_ids)
        if existing.state is ExceptionState.OPEN:
            return key, existing, known
        part += 1


def _raise_retroactive_change(
    draft: BookDraft,
    earlier_open: list[BillingException],
    affected: list[BillingLine],
    repriced: list[tuple[str, Decimal]],
    *,
    key: str,
    amount: Decimal,
    detail: str,
    contract_version: int,
    superseded_because: str,
    already: BillingException | None = None,
) -> None:
    """One `retroactive_change` over the invoiced lines `affected` (re-priced as `repriced`),
    added to those of `already` (the same change, raised by an earlier page); the open
    earlier ones whose lines it covers entirely are withdrawn as superseded first."""
    line_ids = (*(already.line_ids if already is not None else ()), *(line.line_id for line in affected))
    refs = {line.ref for line in affected} | set(already.refs if already is not None else ())
    covered = set(line_ids)
    for exception in earlier_open:
        if set(exception.line_ids) <= covered:
            draft.withdraw_exception(
                ExceptionType.RETROACTIVE_CHANGE, exception.exception_id.rsplit(":", 1)[1], superseded_because
            )
    draft.raise_exception(
        ExceptionType.RETROACTIVE_CHANGE,
        key,
        refs=tuple(sorted(refs)),
        amount=amount,
        detail=detail,
        contract_version=contract_version,
        line_ids=line_ids,
        repriced=tuple(repriced),
    )


def _retroactive_baselines(draft: BookDraft) -> tuple[dict[str, Decimal], list[BillingException]]:
    """What each invoiced line is worth after the approved retroactive changes
    (latest version wins), and the retroactive changes still open."""
    baselines: dict[str, Decimal] = {}
    open_changes: list[BillingException] = []
    changes = sorted(
        (e for e in draft.exceptions.values() if e.type is ExceptionType.RETROACTIVE_CHANGE),
        key=lambda e: e.contract_version or 0,
    )
    for exception in changes:
        if exception.state is ExceptionState.APPROVED:
            baselines.update(dict(exception.repriced))
        elif exception.state is ExceptionState.OPEN:
            open_changes.append(exception)
    return baselines, open_changes


def _governs(timeline: VersionTimeline, version: ContractVersion, day: object) -> bool:
    applicable = timeline.applicable_on(day)  # type: ignore[arg-type]
    return applicable is not None and applicable.version == version.version


def _amount_under(timeline: VersionTimeline, draft: BookDraft, line: BillingLine) -> Decimal:
    """The line's days priced under the timeline: each version's group rounded."""
    entry = draft.entries.get(line.ref)
    groups: dict[int, Decimal] = {}
    rates: dict[int, Decimal] = {}
    for day in line.days:
        applicable = timeline.applicable_on(day.date)
        if applicable is None or entry is None:
            return line.amount
        rate_line = applicable.rate_for(entry.resource_id, entry.role)
        if rate_line is None:
            return line.amount
        groups[applicable.version] = groups.get(applicable.version, ZERO) + day.hours
        rates[applicable.version] = rate_line.rate
    return sum(
        (round_money(hours * rates[number], line.currency) for number, hours in groups.items()),
        ZERO,
    )


def _flag_terminated_invoiced_days(
    draft: BookDraft, before: VersionTimeline, after: VersionTimeline, termination: Termination
) -> None:
    """Invoiced days after the termination date cannot be unbilled: one
    `retroactive_change` for the termination, whose delta is minus what those
    days were invoiced (a credit owed). A time line's days after the date are
    credited at the line's rate (the whole line when all its days are after
    it); a fee's days at the fee's daily share; an expense or milestone dated
    after it, whole."""
    baselines, earlier_open = _retroactive_baselines(draft)
    last_day = termination.effective_date
    affected: list[BillingLine] = []
    repriced: list[tuple[str, Decimal]] = []
    credit = ZERO
    for line in sorted(draft.lines.values(), key=lambda line: line.line_id):
        if not draft.is_billed(line) or line.kind in ("retainer", "adjustment"):
            continue
        worth = baselines.get(line.line_id, line.amount)
        kept = _worth_up_to(line, worth, last_day)
        if kept is None or kept == worth:
            continue
        affected.append(line)
        repriced.append((line.line_id, kept))
        credit += worth - kept
    if not affected:
        return
    _raise_retroactive_change(
        draft,
        earlier_open,
        affected,
        repriced,
        key=f"termination-v{termination.version}",
        amount=-credit,
        detail=(
            f"termination on {last_day.isoformat()}: {len(affected)} invoiced line(s) cover later days; "
            f"approve to credit {credit}"
        ),
        contract_version=termination.version,
        superseded_because=(
            f"superseded by the termination on {last_day.isoformat()}, which credits the same invoiced lines"
        ),
    )


def _worth_up_to(line: BillingLine, worth: Decimal, last_day: date) -> Decimal | None:
    """What an invoiced line is worth once the days after `last_day` are taken
    out (None when it has no day after it)."""
    first = line.first_date or line.line_date
    if line.line_date <= last_day:
        return None
    if first > last_day:
        return ZERO
    if line.kind == "time" and line.days and line.rate is not None:
        after = sum((day.hours for day in line.days if day.date > last_day), ZERO)
        if after == line.quantity:
            return ZERO
        return worth - round_money(after * line.rate, line.currency)
    if line.kind == "fee" and line.rate is not None:
        month_days = calendar.monthrange(line.line_date.year, line.line_date.month)[1]
        kept_days = (last_day - first).days + 1
        return round_money(line.rate * kept_days / month_days, line.currency)
    return ZERO
