"""A working copy of a contract book that rules change, then freeze.

Every rule function takes a frozen ContractBook and returns a BookUpdate; in
between, they work on a BookDraft so the exceptions, audit records and events
that accompany a change are collected in one place.

The cost of a draft must not grow with the book: a contract collects hundreds
of lines over a year, and every time entry is applied through a draft. So the
book's lines are held in a `LineTable` (a dict that also knows its lines by
(kind, ref)); a draft copies that index with the lines and keeps it up to date,
and the book it freezes hands the index on to the next draft. A book decoded
from storage has a plain dict: its index is built once, on the first lookup.
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


LineKey = tuple[str, str]
"""(kind, ref) of a billing line."""


class LineTable(dict[str, BillingLine]):
    """A book's lines by line id, with the line ids of each (kind, ref) in the
    dict's own order. A plain dict to everyone who reads it; only `BookDraft`
    writes one, through `put_line` / `drop_line`."""

    __slots__ = ("index",)

    def __init__(self, lines: dict[str, BillingLine], index: dict[LineKey, tuple[str, ...]] | None = None) -> None:
        super().__init__(lines)
        self.index = index

    def __reduce__(self) -> tuple[object, ...]:
        return (LineTable, (dict(self), self.index))

    def ids_of(self, key: LineKey) -> tuple[str, ...]:
        if self.index is None:
            index: dict[LineKey, list[str]] = {}
            for line_id, line in self.items():
                index.setdefault((line.kind, line.ref), []).append(line_id)
            self.index = {k: tuple(ids) for k, ids in index.items()}
        return self.index.get(key, ())

    def put(self, line: BillingLine) -> None:
        key = (line.kind, line.ref)
        previous = self.get(line.line_id)
        self[line.line_id] = line
        if self.index is None:
            return
        if previous is None:
            self.index[key] = (*self.index.get(key, ()), line.line_id)
        elif (previous.kind, previous.ref) != key:
            # The id keeps its place in the dict: rebuild both keys in that order.
            self.index = None

    def drop(self, line_id: str) -> None:
        line = self.pop(line_id, None)
        if line is None or self.index is None:
            return
        key = (line.kind, line.ref)
        rest = tuple(i for i in self.index.get(key, ()) if i != line_id)
        if rest:
            self.index[key] = rest
        else:
            self.index.pop(key, None)


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
        index = book.lines.index if isinstance(book.lines, LineTable) else None
        self.lines = LineTable(book.lines, None if index is None else dict(index))
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
        lines = self.lines
        return [lines[line_id] for line_id in lines.ids_of((kind, ref))]

    def is_billed(self, line: BillingLine) -> bool:
        if line.invoice_id is None:
            return False
        invoice = self.invoices.get(line.invoice_id)
        return invoice is None or invoice.counts

    # --- writing ------------------------------------------------------------

    def put_line(self, line: BillingLine) -> None:
        self.lines.put(line)

    def drop_line(self, line_id: str) -> None:
        self.lines.drop(line_id)

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
