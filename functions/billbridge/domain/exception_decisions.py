"""An operator's decisions on held exceptions: approve or write off.

Approving a `retroactive_change` or `invoiced_entry_changed` turns its delta
into an adjustment line on the next invoice; approving a `cap_exceeded`
releases the held lines past the cap. Writing off keeps what was held out of
billing for good. Exceptions are never deleted.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from billbridge.domain.book_draft import BookDraft, RuleContext
from billbridge.domain.model import (
    BillingException,
    BillingLine,
    BookUpdate,
    ContractBook,
    Decision,
    ExceptionState,
    ExceptionType,
    StatedBasis,
)
from billbridge.domain.money import round_money

ADJUSTING_TYPES = (ExceptionType.RETROACTIVE_CHANGE, ExceptionType.INVOICED_ENTRY_CHANGED)


class ExceptionDecisionError(ValueError):
    """The decision does not apply to this exception (unknown, or already decided)."""


def approve_exception(book: ContractBook, exception_id: str, *, reason: str, context: RuleContext) -> BookUpdate:
    exception = _open_exception(book, exception_id)
    draft = BookDraft(book, context)
    if exception.type in ADJUSTING_TYPES:
        _add_adjustment(draft, exception)
        if exception.type is ExceptionType.INVOICED_ENTRY_CHANGED:
            _settle_changed_entry(draft, exception)
    elif exception.type is ExceptionType.CAP_EXCEEDED:
        for line_id in exception.line_ids:
            line = draft.lines.get(line_id)
            if line is not None and not draft.is_billed(line):
                draft.put_line(line._replace(cap_released=True))
    _decide(draft, exception, ExceptionState.APPROVED, reason)
    return draft.freeze()


def write_off_exception(book: ContractBook, exception_id: str, *, reason: str, context: RuleContext) -> BookUpdate:
    exception = _open_exception(book, exception_id)
    draft = BookDraft(book, context)
    if exception.type in (
        ExceptionType.NO_RATE,
        ExceptionType.INVALID_COST_CENTER,
        ExceptionType.OUTSIDE_TERM,
        ExceptionType.CURRENCY_MISMATCH,
        ExceptionType.UNKNOWN_MILESTONE,
        ExceptionType.INVOICED_ENTRY_CHANGED,
    ):
        for ref in exception.refs:
            draft.written_off_refs.add(ref)
    elif exception.type is ExceptionType.CAP_EXCEEDED:
        for line_id in exception.line_ids:
            line = draft.lines.get(line_id)
            if line is not None and not draft.is_billed(line):
                draft.drop_line(line_id)
                draft.written_off_days[line.ref] = (*draft.written_off_days.get(line.ref, ()), *line.days)
                draft.record("line_written_off", line_id, rule="cap_exceeded", detail=str(line.amount))
                if not draft.lines_of(line.kind, line.ref):
                    # Nothing of the entry is left: a later version must not rate it again.
                    draft.written_off_refs.add(line.ref)
    _decide(draft, exception, ExceptionState.WRITTEN_OFF, reason)
    return draft.freeze()


def _open_exception(book: ContractBook, exception_id: str) -> BillingException:
    exception = book.exceptions.get(exception_id)
    if exception is None:
        raise ExceptionDecisionError(f"no exception {exception_id!r} on contract {book.contract_id}")
    if exception.state is not ExceptionState.OPEN:
        raise ExceptionDecisionError(f"exception {exception_id} is already {exception.state.value}")
    return exception


def _decide(draft: BookDraft, exception: BillingException, state: ExceptionState, reason: str) -> None:
    decision = Decision(actor=draft.context.actor, reason=reason, decided_at=draft.context.decided_at)
    draft.exceptions[exception.exception_id] = replace(exception, state=state, decision=decision)
    draft.record(
        f"exception_{state.value}",
        exception.exception_id,
        rule=exception.type.value,
        detail=f"by {decision.actor}: {reason}",
    )
    draft.emit(
        "operations",
        "ExceptionDecided",
        {
            "exception_id": exception.exception_id,
            "state": state.value,
            "actor": decision.actor,
            "reason": reason,
        },
    )


def _add_adjustment(draft: BookDraft, exception: BillingException) -> None:
    latest = draft.versions[max(draft.versions)] if draft.versions else None
    currency = latest.currency if latest else "USD"
    amount: Decimal = round_money(exception.amount, currency)
    if amount == 0:
        return
    line = BillingLine(
        line_id=f"adjustment:{exception.exception_id}",
        kind="adjustment",
        ref=exception.exception_id,
        quantity=Decimal(1),
        amount=amount,
        currency=currency,
        line_date=max(
            (line.line_date for line_id in exception.line_ids if (line := draft.lines.get(line_id))),
            default=latest.effective_date if latest else None,
        )
        or latest.effective_date,  # type: ignore[union-attr]
        contract_version=exception.contract_version,
        source_refs=tuple(exception.line_ids),
        correlation_id=exception.correlation_id,
        basis=StatedBasis(
            rate_rule=exception.type.value,
            rules=(f"approved {exception.type.value}", f"refs {', '.join(exception.refs)}"),
            description=f"Adjustment for {exception.type.value} ({', '.join(exception.refs)})",
        ),
    )
    draft.put_line(line)
    draft.record(
        "adjustment_added",
        line.line_id,
        contract_version=exception.contract_version,
        rule=exception.type.value,
        detail=str(amount),
    )


def _settle_changed_entry(draft: BookDraft, exception: BillingException) -> None:
    """After approval the adjustment carries the difference: the entry's other
    unbilled lines must not bill it a second time."""
    for ref in exception.refs:
        for line in draft.lines_of("time", ref):
            if not draft.is_billed(line):
                draft.drop_line(line.line_id)
        draft.written_off_refs.add(ref)
