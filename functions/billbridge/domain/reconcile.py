"""Bring the unbilled part of a book in line with the contract versions known now.

Called when an input arrives (rate it) and when a new version arrives (re-rate
every unbilled line whose days it now governs, rate held and pending inputs,
and resolve the exceptions that no longer apply). Invoiced lines never change.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from billbridge.domain.book_draft import BookDraft
from billbridge.domain.model import BillingLine, ExceptionState, ExceptionType, RerateRecord, TimeEntry, WorkDay
from billbridge.domain.money import ZERO, round_money
from billbridge.domain.rating import (
    SPLIT_STRIDE,
    RatingIssue,
    RatingResult,
    rate_expense,
    rate_milestone,
    rate_time_entries,
    rate_time_entry,
)
from billbridge.domain.versions import VersionTimeline

HOLDING_TYPES = (ExceptionType.NO_RATE, ExceptionType.INVALID_COST_CENTER, ExceptionType.OUTSIDE_TERM)
"""Exceptions that hold (part of) a time entry until it can be rated."""


def reconcile_book(draft: BookDraft, *, cause_version: int | None = None) -> None:
    """Re-evaluate every unbilled input of the book. The entries rated whole (nothing
    of them invoiced or written off) are rated in one pass (`rate_time_entries`)."""
    if not draft.versions:
        return
    timeline = draft.timeline()
    entries = [entry for entry in draft.entries.values() if not _left_alone(draft, entry)]
    whole = [entry for entry in entries if _rated_whole(draft, entry)]
    rated = rate_time_entries(whole, timeline)
    results = {entry.entry_id: rated.result_of(index) for index, entry in enumerate(whole)}
    for entry in entries:
        reconcile_entry(draft, entry, timeline, cause_version=cause_version, rated=results.get(entry.entry_id))
    for expense_id in list(draft.expenses):
        reconcile_expense(draft, expense_id, timeline, cause_version=cause_version)
    for milestone_id in list(draft.completions):
        reconcile_milestone(draft, milestone_id, timeline, cause_version=cause_version)


def _left_alone(draft: BookDraft, entry: TimeEntry) -> bool:
    """Written off, or held as an invoiced entry that changed: not rated again."""
    if entry.entry_id in draft.written_off_refs:
        return True
    held = draft.exceptions.get(f"{ExceptionType.INVOICED_ENTRY_CHANGED.value}:{draft.contract_id}:{entry.entry_id}")
    return held is not None and held.state == ExceptionState.OPEN


def _rated_whole(draft: BookDraft, entry: TimeEntry) -> bool:
    """Every day of the entry is rated again: none invoiced, none written off."""
    if draft.written_off_days.get(entry.entry_id):
        return False
    return not any(draft.is_billed(line) for line in draft.lines_of("time", entry.entry_id))


def reconcile_entry(
    draft: BookDraft,
    entry: TimeEntry,
    timeline: VersionTimeline,
    *,
    cause_version: int | None = None,
    rated: RatingResult | None = None,
) -> None:
    """Bring one entry's unbilled lines and exceptions in line with the timeline.
    `rated`: the entry's rating when it was rated whole with others (`reconcile_book`)."""
    if _left_alone(draft, entry):
        return
    existing = draft.lines_of("time", entry.entry_id)
    billed = [line for line in existing if draft.is_billed(line)]
    unbilled = [line for line in existing if not draft.is_billed(line)]

    issues: list[RatingIssue] = []
    mismatch: RatingIssue | None = None
    if not billed:
        if rated is None:
            written_off = draft.written_off_days.get(entry.entry_id)
            days = _without(entry.days, written_off) if written_off else None
            result = rate_time_entry(entry, timeline, days=days)
        else:
            result = rated
        new_lines = list(result.lines)
        issues.extend(result.issues)
        mismatch = result.rate_mismatch
    else:
        # Part of the entry is invoiced (a cap split, or days held when the rest
        # was invoiced): the unbilled lines are re-rated each in its own place,
        # and the days no line holds yet are rated again.
        new_lines = []
        for line in unbilled:
            result = rate_time_entry(entry, timeline, days=line.days, position_base=line.split_position)
            new_lines.extend(replace_release(keep_exact_rest(line, result.lines), line))
            issues.extend(result.issues)
        taken = tuple(day for line in existing for day in line.days)
        taken += draft.written_off_days.get(entry.entry_id, ())
        uncovered = _without(entry.days, taken)
        if uncovered:
            base = (max(line.split_position for line in existing) // SPLIT_STRIDE + 1) * SPLIT_STRIDE
            result = rate_time_entry(entry, timeline, days=uncovered, position_base=base)
            new_lines.extend(result.lines)
            issues.extend(result.issues)

    if _same_lines(unbilled, new_lines):
        new_lines = unbilled
    else:
        for line in unbilled:
            draft.drop_line(line.line_id)
        for line in new_lines:
            draft.put_line(line)
        if cause_version is not None and unbilled:
            _record_rerates(draft, unbilled, new_lines, cause_version)
        for line in new_lines:
            draft.record(
                "line_rated",
                line.line_id,
                contract_version=line.contract_version,
                rule=line.rate_rule,
                detail=f"{line.quantity} x {line.rate} = {line.amount} {line.currency}",
            )
        # `EntryRated` feeds the data platforms (docs/feed.md): one per entry rated as it arrives
        # or is revised. A contract change's re-rating of existing entries is not repeated entry
        # by entry (ContractSynced names the version; the re-rate records keep the lines).
        if new_lines and cause_version is None:
            _emit_entry_rated(draft, entry, new_lines)

    issues = merge_issues(issues)
    raised = {issue.type for issue in issues}
    for issue in issues:
        draft.raise_exception(
            issue.type,
            entry.entry_id,
            refs=(entry.entry_id,),
            amount=issue.amount,
            detail=issue.detail,
            contract_version=issue.contract_version,
        )
    bills = bool(new_lines) or bool(billed)
    for holding_type in HOLDING_TYPES:
        if holding_type not in raised:
            draft.settle_exception(
                holding_type,
                entry.entry_id,
                "the entry now bills" if bills else "the entry no longer holds anything to bill",
                billed=bills,
            )
    if not billed:
        if mismatch is not None:
            draft.raise_exception(
                ExceptionType.RATE_MISMATCH,
                entry.entry_id,
                refs=(entry.entry_id,),
                amount=mismatch.amount,
                detail=mismatch.detail,
                contract_version=mismatch.contract_version,
            )
        else:
            draft.settle_exception(ExceptionType.RATE_MISMATCH, entry.entry_id, "rates agree now", billed=bills)


def merge_issues(issues: list[RatingIssue]) -> list[RatingIssue]:
    """At most one issue of each type per input: amounts added, details joined."""
    merged: dict[ExceptionType, RatingIssue] = {}
    for issue in issues:
        before = merged.get(issue.type)
        if before is None:
            merged[issue.type] = issue
        else:
            merged[issue.type] = RatingIssue(
                type=issue.type,
                amount=before.amount + issue.amount,
                detail=f"{before.detail}; {issue.detail}",
                contract_version=before.contract_version or issue.contract_version,
            )
    return list(merged.values())


def keep_exact_rest(previous: BillingLine, rated: tuple[BillingLine, ...]) -> tuple[BillingLine, ...]:
    """The held rest of a cap-split line keeps its exact amount (the line's
    amount minus the billed amount), not one re-priced from its rounded
    quantity. An amendment that changes its rate scales that exact amount by
    the new rate over the old."""
    if previous.split_position % SPLIT_STRIDE == 0 or len(rated) != 1:
        return rated
    line = rated[0]
    if line.rate is None or not previous.rate or line.days != previous.days:
        return rated
    if line.rate == previous.rate:
        amount = previous.amount
    else:
        amount = round_money(previous.amount * line.rate / previous.rate, line.currency)
    return (
        line.stated(
            quantity=previous.quantity,
            amount=amount,
            rules=(*line.rules, "held rest of a line split at the not-to-exceed cap: line amount minus billed amount"),
            description=previous.description if line.rate == previous.rate else line.description,
        ),
    )


def _without(days: tuple[WorkDay, ...], removed: tuple[WorkDay, ...]) -> tuple[WorkDay, ...]:
    """The entry's days less the hours written off (per date)."""
    left: dict[object, Decimal] = {}
    for day in removed:
        left[day.date] = left.get(day.date, ZERO) + day.hours
    kept = []
    for day in days:
        hours = day.hours - left.pop(day.date, ZERO)
        if hours > 0:
            kept.append(WorkDay(date=day.date, hours=hours))
    return tuple(kept)


def replace_release(lines: tuple[BillingLine, ...], previous: BillingLine) -> list[BillingLine]:
    """Keep an operator's cap release on a re-rated remainder line."""
    if not previous.cap_released:
        return list(lines)
    return [line._replace(cap_released=True) for line in lines]


def _same_lines(old: list[BillingLine], new: list[BillingLine]) -> bool:
    if len(old) != len(new):
        return False
    by_id = {line.line_id: line for line in old}
    for line in new:
        before = by_id.get(line.line_id)
        if before is None:
            return False
        if (before.contract_version, before.rate, before.quantity, before.amount, before.days) != (
            line.contract_version,
            line.rate,
            line.quantity,
            line.amount,
            line.days,
        ):
            return False
    return True


def _record_rerates(
    draft: BookDraft, old_lines: list[BillingLine], new_lines: list[BillingLine], cause_version: int
) -> None:
    """One re-rate record per new line whose days were priced under another
    version or rate before."""
    old_by_id = {line.line_id: line for line in old_lines}
    old_by_day: dict[object, BillingLine] = {}
    for line in old_lines:
        for day in line.days:
            old_by_day[day.date] = line
    for line in new_lines:
        previous = [old_by_day[day.date] for day in line.days if day.date in old_by_day]
        if not previous:
            continue
        changed = [p for p in previous if p.contract_version != line.contract_version or p.rate != line.rate]
        if not changed:
            continue
        before = changed[0]
        same_place = old_by_id.get(line.line_id)
        if same_place is not None and same_place.days == line.days:
            old_amount = same_place.amount
        else:
            old_amount = ZERO
            for day in line.days:
                old = old_by_day.get(day.date)
                if old is not None and old.rate is not None:
                    old_amount += day.hours * old.rate
            old_amount = round_money(old_amount, line.currency)
        record = RerateRecord(
            ref=line.ref,
            line_id=line.line_id,
            from_version=before.contract_version,
            to_version=line.contract_version or cause_version,
            old_rate=before.rate,
            new_rate=line.rate or Decimal(0),
            old_amount=old_amount,
            new_amount=line.amount,
            cause_version=cause_version,
            correlation_id=draft.context.correlation_id,
        )
        draft.rerates.append(record)
        draft.record(
            "line_rerated",
            line.line_id,
            contract_version=line.contract_version,
            rule=line.rate_rule,
            detail=f"version {record.from_version} -> {record.to_version}: {old_amount} -> {line.amount}",
        )


def reconcile_expense(
    draft: BookDraft, expense_id: str, timeline: VersionTimeline, *, cause_version: int | None = None
) -> None:
    if expense_id in draft.written_off_refs:
        return
    _settle_single_line(
        draft,
        "expense",
        expense_id,
        lambda: rate_expense(draft.expenses[expense_id], timeline),
        resolvable=(ExceptionType.OUTSIDE_TERM, ExceptionType.CURRENCY_MISMATCH),
        cause_version=cause_version,
    )


def reconcile_milestone(
    draft: BookDraft, milestone_id: str, timeline: VersionTimeline, *, cause_version: int | None = None
) -> None:
    if milestone_id in draft.written_off_refs:
        return
    _settle_single_line(
        draft,
        "milestone",
        milestone_id,
        lambda: rate_milestone(draft.completions[milestone_id], timeline),
        resolvable=(ExceptionType.UNKNOWN_MILESTONE, ExceptionType.OUTSIDE_TERM),
        cause_version=cause_version,
    )


def _settle_single_line(
    draft: BookDraft,
    kind: str,
    ref: str,
    rate: Callable[[], RatingResult],
    *,
    resolvable: tuple[ExceptionType, ...],
    cause_version: int | None,
) -> None:
    """An input that makes at most one line (an expense, a milestone): rate it
    unless invoiced, replace its unbilled line (an amendment that changes it is
    recorded as a re-rate), raise its exceptions, and close those that no
    longer apply (resolved when it bills, withdrawn when it does not)."""
    existing = draft.lines_of(kind, ref)
    if any(draft.is_billed(line) for line in existing):
        return
    result = rate()
    if not _same_lines(existing, list(result.lines)):
        for line in existing:
            draft.drop_line(line.line_id)
        for line in result.lines:
            draft.put_line(line)
            draft.record("line_rated", line.line_id, contract_version=line.contract_version, rule=line.rate_rule)
        if cause_version is not None and len(existing) == 1 and len(result.lines) == 1:
            _record_single_rerate(draft, existing[0], result.lines[0], cause_version)
    raised = set()
    for issue in result.issues:
        raised.add(issue.type)
        draft.raise_exception(
            issue.type,
            ref,
            refs=(ref,),
            amount=issue.amount,
            detail=issue.detail,
            contract_version=issue.contract_version,
            currency=issue.currency,
        )
    bills = bool(result.lines)
    for exception_type in resolvable:
        if exception_type not in raised:
            draft.settle_exception(
                exception_type,
                ref,
                f"the {kind} now bills" if bills else f"the {kind} no longer holds anything to bill",
                billed=bills,
            )


def _record_single_rerate(draft: BookDraft, old: BillingLine, new: BillingLine, cause_version: int) -> None:
    """An expense or milestone line priced again by an amendment (new markup, new amount)."""
    if (old.contract_version, old.amount) == (new.contract_version, new.amount):
        return
    record = RerateRecord(
        ref=new.ref,
        line_id=new.line_id,
        from_version=old.contract_version,
        to_version=new.contract_version or cause_version,
        old_rate=old.rate,
        new_rate=new.rate or Decimal(0),
        old_amount=old.amount,
        new_amount=new.amount,
        cause_version=cause_version,
        correlation_id=draft.context.correlation_id,
    )
    draft.rerates.append(record)
    draft.record(
        "line_rerated",
        new.line_id,
        contract_version=new.contract_version,
        rule=new.rate_rule,
        detail=f"version {record.from_version} -> {record.to_version}: {old.amount} -> {new.amount}",
    )


def _emit_entry_rated(draft: BookDraft, entry: TimeEntry, lines: list[BillingLine]) -> None:
    currencies = sorted({line.currency for line in lines})
    versions = sorted({line.contract_version for line in lines if line.contract_version is not None})
    draft.emit(
        "rating",
        "EntryRated",
        {
            "entry_id": entry.entry_id,
            "revision": entry.revision,
            "lines": len(lines),
            "hours": str(sum((line.quantity for line in lines), Decimal("0"))),
            "amount": str(sum((line.amount for line in lines), Decimal("0"))),
            "currency": currencies[0] if len(currencies) == 1 else ",".join(currencies),
            "contract_versions": versions,
        },
    )
