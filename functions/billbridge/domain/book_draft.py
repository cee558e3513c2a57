"""A working copy of a contract book that rules change, then freeze.

Every rule function takes a frozen ContractBook and returns a BookUpdate; in
between, they work on a BookDraft so the exceptions, audit records and events
that accompany a change are collected in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from billbridge.domain.model import (
    AuditRecord,
    BillingException,
    BillingLine,
    BookUpdate,
    ContractBook,
    DomainEvent,
    ExceptionState,
    ExceptionType,
    Provenance,
)
from billbridge.domain.money import format_amount
from billbridge.domain.versions import VersionTimeline


@dataclass(frozen=True, slots=True)
class RuleContext:
    """Who caused a change: the input's identity and correlation id."""

    correlation_id: str
    source_ref: str = ""
    actor: str = "billbridge"
    decided_at: str = ""

    @classmethod
    def of(cls, provenance: Provenance | None) -> RuleContext:
        if provenance is None:
            return cls(correlation_id="")
        return cls(correlation_id=provenance.correlation_id, source_ref=provenance.source_ref)


def exception_id_for(exception_type: ExceptionType, contract_id: str, key: str) -> str:
    return f"{exception_type.value}:{contract_id}:{key}"


class BookDraft:
    def __init__(self, book: ContractBook, context: RuleContext) -> None:
        self.original = book
        self.context = context
        self.contract_id = book.contract_id
        self.versions = dict(book.versions)
        self.termination = book.termination
        self.entries = dict(book.entries)
        self.expenses = dict(book.expenses)
        self.completions = dict(book.completions)
        self.lines = dict(book.lines)
        self.invoices = dict(book.invoices)
        self.exceptions = dict(book.exceptions)
        self.rerates = list(book.rerates)
        self.written_off_refs = set(book.written_off_refs)
        self.written_off_days = dict(book.written_off_days)
        self.audit: list[AuditRecord] = []
        self.events: list[DomainEvent] = []

    # --- reading ------------------------------------------------------------

    def timeline(self) -> VersionTimeline:
        return VersionTimeline.of(self.versions, self.termination)

    def contract_currency(self) -> str:
        """The latest known version's currency ("" before any version)."""
        return self.versions[max(self.versions)].currency if self.versions else ""

    def lines_of(self, kind: str, ref: str) -> list[BillingLine]:
        return [line for line in self.lines.values() if line.kind == kind and line.ref == ref]

    def is_billed(self, line: BillingLine) -> bool:
        if line.invoice_id is None:
            return False
        invoice = self.invoices.get(line.invoice_id)
        return invoice is None or invoice.counts

    # --- writing ------------------------------------------------------------

    def put_line(self, line: BillingLine) -> None:
        self.lines[line.line_id] = line

    def drop_line(self, line_id: str) -> None:
        self.lines.pop(line_id, None)

    def record(
        self,
        action: str,
        ref: str,
        *,
        contract_version: int | None = None,
        rule: str = "",
        detail: str = "",
    ) -> None:
        self.audit.append(
            AuditRecord(
                action=action,
                ref=ref,
                correlation_id=self.context.correlation_id,
                source_ref=self.context.source_ref,
                contract_version=contract_version,
                rule=rule,
                detail=detail,
            )
        )

    def emit(self, context: str, detail_type: str, detail: dict[str, object]) -> None:
        self.events.append(
            DomainEvent(
                context=context,
                detail_type=detail_type,
                detail={"contract_id": self.contract_id, **detail},
                correlation_id=self.context.correlation_id,
            )
        )

    def raise_exception(
        self,
        exception_type: ExceptionType,
        key: str,
        *,
        refs: tuple[str, ...],
        amount: Decimal,
        detail: str,
        contract_version: int | None = None,
        period: str | None = None,
        line_ids: tuple[str, ...] = (),
        repriced: tuple[tuple[str, Decimal], ...] = (),
        currency: str = "",
    ) -> BillingException:
        """Raise one exception per offending input: the same input updates the
        open exception (or reopens a resolved one) instead of raising another.
        Approved or written-off exceptions are decisions and stay as they are."""
        exception_id = exception_id_for(exception_type, self.contract_id, key)
        existing = self.exceptions.get(exception_id)
        if existing is not None and existing.state in (ExceptionState.APPROVED, ExceptionState.WRITTEN_OFF):
            return existing
        raised = BillingException(
            exception_id=exception_id,
            type=exception_type,
            contract_id=self.contract_id,
            refs=refs,
            amount=amount,
            correlation_id=(
                existing.correlation_id
                if existing is not None and existing.correlation_id
                else self.context.correlation_id
            ),
            state=ExceptionState.OPEN,
            detail=detail,
            contract_version=contract_version,
            period=period,
            line_ids=line_ids,
            repriced=repriced,
            currency=currency or self.contract_currency(),
        )
        if existing == raised:
            return existing
        self.exceptions[exception_id] = raised
        action = (
            "exception_raised" if existing is None or existing.state != ExceptionState.OPEN else "exception_updated"
        )
        self.record(action, exception_id, contract_version=contract_version, rule=exception_type.value, detail=detail)
        self.emit(
            "operations",
            "ExceptionRaised",
            {
                "exception_id": exception_id,
                "type": exception_type.value,
                "refs": list(refs),
                "amount": format_amount(amount),
                "currency": raised.currency,
                "state": ExceptionState.OPEN.value,
                "detail": detail,
            },
        )
        return raised

    def resolve_exception(self, exception_type: ExceptionType, key: str, why: str) -> None:
        """What the open exception held was billed: it becomes `resolved`."""
        self._close_exception(exception_type, key, why, ExceptionState.RESOLVED)

    def withdraw_exception(self, exception_type: ExceptionType, key: str, why: str) -> None:
        """What the open exception held went away (rejected, failing another
        check, superseded): it becomes `withdrawn`."""
        self._close_exception(exception_type, key, why, ExceptionState.WITHDRAWN)

    def settle_exception(self, exception_type: ExceptionType, key: str, why: str, *, billed: bool) -> None:
        """Close an open holding exception that no longer applies: `resolved`
        when its input now bills, `withdrawn` when nothing of it does."""
        if billed:
            self.resolve_exception(exception_type, key, why)
        else:
            self.withdraw_exception(exception_type, key, why)

    def _close_exception(self, exception_type: ExceptionType, key: str, why: str, state: ExceptionState) -> None:
        exception_id = exception_id_for(exception_type, self.contract_id, key)
        existing = self.exceptions.get(exception_id)
        if existing is None or existing.state != ExceptionState.OPEN:
            return
        self.exceptions[exception_id] = replace(existing, state=state)
        self.record(f"exception_{state.value}", exception_id, rule=exception_type.value, detail=why)
        self.emit(
            "operations",
            "ExceptionResolved" if state is ExceptionState.RESOLVED else "ExceptionWithdrawn",
            {"exception_id": exception_id, "type": exception_type.value, "state": state.value, "detail": why},
        )

    def freeze(self) -> BookUpdate:
        book = ContractBook(
            contract_id=self.contract_id,
            versions=self.versions,
            termination=self.termination,
            entries=self.entries,
            expenses=self.expenses,
            completions=self.completions,
            lines=self.lines,
            invoices=self.invoices,
            exceptions=self.exceptions,
            rerates=tuple(self.rerates),
            written_off_refs=frozenset(self.written_off_refs),
            written_off_days=self.written_off_days,
        )
        changed = book != self.original
        return BookUpdate(book=book, audit=tuple(self.audit), events=tuple(self.events), changed=changed)
