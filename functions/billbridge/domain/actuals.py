"""Approved time, expenses and milestones arriving from the PSA."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from billbridge.domain.book_draft import BookDraft, RuleContext
from billbridge.domain.model import (
    BookUpdate,
    ContractBook,
    EntryRejection,
    ExceptionType,
    Expense,
    MilestoneCompletion,
    TimeEntry,
)
from billbridge.domain.money import ZERO
from billbridge.domain.rating import rate_time_entry
from billbridge.domain.reconcile import reconcile_entry, reconcile_expense, reconcile_milestone


def apply_time_entry(book: ContractBook, entry: TimeEntry, context: RuleContext) -> BookUpdate:
    """Record an approved entry (a higher revision replaces the earlier one) and
    rate it; an entry of an unknown contract waits, pending, for its contract."""
    draft = BookDraft(book, context)
    current = book.entries.get(entry.entry_id)
    if current is not None and current.revision >= entry.revision:
        draft.record(
            "entry_ignored",
            entry.entry_id,
            rule=f"revision {entry.revision} is not newer than {current.revision}",
        )
        return BookUpdate.unchanged(book, tuple(draft.audit))
    if current is not None and _has_billed_lines(draft, entry.entry_id):
        draft.entries[entry.entry_id] = entry
        _flag_invoiced_entry_changed(draft, entry, f"revision {entry.revision} of an invoiced entry")
        draft.record("entry_revision_held", entry.entry_id, rule="invoiced entries are immutable")
        return draft.freeze()
    draft.entries[entry.entry_id] = entry
    draft.record(
        "entry_recorded",
        entry.entry_id,
        rule="billable" if entry.billable else "non-billable: recorded, not billed",
        detail=f"revision {entry.revision}, {entry.hours} h",
    )
    if draft.versions:
        reconcile_entry(draft, entry, draft.timeline())
    else:
        draft.record("entry_pending", entry.entry_id, rule="contract not known yet")
    return draft.freeze()


def apply_entry_rejection(book: ContractBook, rejection: EntryRejection, context: RuleContext) -> BookUpdate:
    """A withdrawn entry loses its unbilled lines; an invoiced one raises
    `invoiced_entry_changed`."""
    draft = BookDraft(book, context)
    current = book.entries.get(rejection.entry_id)
    if current is None:
        placeholder = TimeEntry(
            entry_id=rejection.entry_id,
            revision=rejection.revision,
            contract_id=book.contract_id,
            resource_id=None,
            role=None,
            billable=False,
            days=(),
            provenance=rejection.provenance,
            rejected=True,
        )
        draft.entries[rejection.entry_id] = placeholder
        draft.record("entry_rejected", rejection.entry_id, rule="rejected before approval arrived")
        return draft.freeze()
    if current.revision > rejection.revision or current.rejected:
        draft.record("rejection_ignored", rejection.entry_id, rule="stale rejection")
        return BookUpdate.unchanged(book, tuple(draft.audit))
    if _has_billed_lines(draft, rejection.entry_id):
        withdrawn = replace(current, revision=rejection.revision, rejected=True)
        draft.entries[rejection.entry_id] = withdrawn
        _flag_invoiced_entry_changed(draft, withdrawn, "rejection of an invoiced entry")
        return draft.freeze()
    draft.entries[rejection.entry_id] = replace(current, revision=rejection.revision, rejected=True)
    for line in draft.lines_of("time", rejection.entry_id):
        draft.drop_line(line.line_id)
    for exception_type in (
        ExceptionType.NO_RATE,
        ExceptionType.INVALID_COST_CENTER,
        ExceptionType.OUTSIDE_TERM,
        ExceptionType.RATE_MISMATCH,
    ):
        draft.withdraw_exception(exception_type, rejection.entry_id, "the entry was rejected")
    draft.record("entry_rejected", rejection.entry_id, rule="unbilled lines removed")
    return draft.freeze()


def apply_expense(book: ContractBook, expense: Expense, context: RuleContext) -> BookUpdate:
    draft = BookDraft(book, context)
    current = book.expenses.get(expense.expense_id)
    if current is not None and _same_expense(current, expense):
        draft.record("expense_ignored", expense.expense_id, rule="already recorded")
        return BookUpdate.unchanged(book, tuple(draft.audit))
    if current is not None and any(draft.is_billed(line) for line in draft.lines_of("expense", expense.expense_id)):
        billed = sum((line.amount for line in draft.lines_of("expense", expense.expense_id)), ZERO)
        draft.raise_exception(
            ExceptionType.INVOICED_ENTRY_CHANGED,
            expense.expense_id,
            refs=(expense.expense_id,),
            amount=billed,
            detail="change of an invoiced expense; the invoiced amount stands",
        )
        return draft.freeze()
    draft.expenses[expense.expense_id] = expense
    draft.record(
        "expense_recorded",
        expense.expense_id,
        rule="billable" if expense.billable else "non-billable: recorded, not billed",
    )
    if draft.versions:
        reconcile_expense(draft, expense.expense_id, draft.timeline())
    return draft.freeze()


def apply_milestone_completion(book: ContractBook, completion: MilestoneCompletion, context: RuleContext) -> BookUpdate:
    """A milestone is billed exactly once per (contract, milestone)."""
    draft = BookDraft(book, context)
    if completion.milestone_id in book.completions:
        draft.record("completion_ignored", completion.milestone_id, rule="milestone billed once")
        return BookUpdate.unchanged(book, tuple(draft.audit))
    draft.completions[completion.milestone_id] = completion
    draft.record("milestone_completed", completion.milestone_id, detail=completion.completed_on.isoformat())
    if draft.versions:
        reconcile_milestone(draft, completion.milestone_id, draft.timeline())
    return draft.freeze()


def _has_billed_lines(draft: BookDraft, entry_id: str) -> bool:
    return any(draft.is_billed(line) for line in draft.lines_of("time", entry_id))


def _same_expense(a: Expense, b: Expense) -> bool:
    return replace(a, provenance=None) == replace(b, provenance=None)


def _flag_invoiced_entry_changed(draft: BookDraft, entry: TimeEntry, why: str) -> None:
    """Invoiced lines are immutable: hold the change as an exception whose amount
    is what approving it would bill (the new rating minus what was invoiced)."""
    delta = invoiced_entry_delta(draft, entry)
    billed = [line for line in draft.lines_of("time", entry.entry_id) if draft.is_billed(line)]
    draft.raise_exception(
        ExceptionType.INVOICED_ENTRY_CHANGED,
        entry.entry_id,
        refs=(entry.entry_id,),
        amount=delta,
        detail=f"{why}: approve to bill the difference as an adjustment",
        line_ids=tuple(line.line_id for line in billed),
    )


def invoiced_entry_delta(draft: BookDraft, entry: TimeEntry) -> Decimal:
    billed = sum((line.amount for line in draft.lines_of("time", entry.entry_id) if draft.is_billed(line)), ZERO)
    if entry.rejected or not draft.versions:
        return -billed
    rated = rate_time_entry(entry, draft.timeline())
    return sum((line.amount for line in rated.lines), ZERO) - billed
