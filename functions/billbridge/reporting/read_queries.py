"""The read API's queries: contracts, invoices, exceptions, lineage, KPIs and unbilled work.

Each query reads the ledger through its port and reuses the documents the
operator commands print (`contract_view`, `downstream_view`, `trace_lineage`,
`kpis`), so the API and `billbridge ... --json` answer the same thing.

Listings are ordered by contract id first and walk the contracts in that
order, loading one book at a time and stopping once the page is full: a page
of invoices loads the books it needs (from the cursor's contract on), not the
whole ledger. Filtering happens on the loaded books; a filter by contract
loads that one book only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol

from billbridge.app.ports import CommandLog
from billbridge.domain.model import ContractBook, ExceptionState, ExceptionType, Invoice, InvoiceStatus
from billbridge.domain.money import format_amount
from billbridge.reporting.contract_view import contract_view
from billbridge.reporting.downstream_view import command_document, propagation_documents
from billbridge.reporting.kpis import (
    PROPAGATION_STALE_AFTER,
    UNBILLED_KINDS,
    age_bucket,
    compute_kpis,
    kpi_document,
    timings_from_audit,
)
from billbridge.reporting.read_models import (
    ContractDetail,
    ContractPage,
    ContractSummary,
    ExceptionDetail,
    ExceptionPage,
    ExceptionSummary,
    InvoiceDetail,
    InvoicePage,
    InvoiceSummary,
    Kpis,
    Lineage,
    UnbilledLine,
    UnbilledPage,
)
from billbridge.reporting.read_pagination import after_contract, paginate
from billbridge.reporting.replay_report import invoice_document
from billbridge.reporting.trace_lineage import LineageLedger, UnknownIdentifierError, explain_exception, trace_lineage

INVOICE_KEY_LENGTH = 3
"""(contract id, period, sequence number zero-padded)."""


class ReadLedger(LineageLedger, Protocol):
    """What the read API needs of the ledger (DynamoLedger on AWS and on the local stack)."""

    @property
    def commands(self) -> CommandLog: ...

    def mapping(self, contract_id: str) -> dict[str, str]: ...

    def books(self) -> list[ContractBook]: ...


class NotInLedgerError(LookupError):
    """The contract, invoice, exception or identifier asked for is not in the ledger."""


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class ReadQueries:
    ledger: ReadLedger
    clock: Clock
    propagation_stale_after: timedelta = PROPAGATION_STALE_AFTER

    # --- contracts ------------------------------------------------------------------------------

    def contracts(self, *, limit: int, cursor: str | None) -> ContractPage:
        start = after_contract(cursor, "contracts", {}, key_length=1)
        summaries = (self._contract_summary(book) for _, book in self._books_from(start))
        page = paginate(
            summaries,
            listing="contracts",
            filters={},
            key_of=lambda s: (s.contract_id,),
            key_length=1,
            limit=limit,
            cursor=cursor,
        )
        return ContractPage(items=page.items, next_cursor=page.next_cursor)

    def contract(self, contract_id: str) -> ContractDetail:
        book = self._book(contract_id)
        view = contract_view(book, self.ledger.mapping(contract_id))
        commands = self.ledger.commands.of_contract(contract_id)
        view["propagation"] = propagation_documents(commands, self.clock.now())
        view["commands"] = [
            command_document(c) for c in sorted(commands, key=lambda c: (c.first_sent_at, c.command_id))
        ]
        return ContractDetail.model_validate(view)

    # --- invoices -------------------------------------------------------------------------------

    def invoices(
        self,
        *,
        contract_id: str | None,
        period: str | None,
        status: InvoiceStatus | None,
        limit: int,
        cursor: str | None,
    ) -> InvoicePage:
        filters = {"contract_id": contract_id, "period": period, "status": status.value if status else None}
        start = after_contract(cursor, "invoices", filters, key_length=INVOICE_KEY_LENGTH)
        books = self._only(contract_id) if contract_id else self._books_from(start)

        def matching() -> Iterator[Invoice]:
            for _, book in books:
                for invoice in sorted(book.invoices.values(), key=lambda i: (i.period, i.seq)):
                    if (period is None or invoice.period == period) and (status is None or invoice.status is status):
                        yield invoice

        page = paginate(
            matching(),
            listing="invoices",
            filters=filters,
            key_of=_invoice_key,
            key_length=INVOICE_KEY_LENGTH,
            limit=limit,
            cursor=cursor,
        )
        return InvoicePage(items=[_invoice_summary(i) for i in page.items], next_cursor=page.next_cursor)

    def invoice(self, proposal_id: str) -> InvoiceDetail:
        contract_id = self.ledger.contract_of_proposal(proposal_id)
        invoice = None if contract_id is None else self._book(contract_id).invoices.get(proposal_id)
        if invoice is None:
            raise NotInLedgerError(f"no invoice proposal {proposal_id!r}")
        return InvoiceDetail.model_validate(invoice_document(invoice))

    # --- exceptions -----------------------------------------------------------------------------

    def exceptions(
        self,
        *,
        state: ExceptionState | None,
        exception_type: ExceptionType | None,
        min_age_days: int | None,
        as_of: date | None,
        contract_id: str | None,
        limit: int,
        cursor: str | None,
    ) -> ExceptionPage:
        day = as_of or self.clock.now().date()
        filters = {
            "state": state.value if state else None,
            "type": exception_type.value if exception_type else None,
            "min_age_days": min_age_days,
            "as_of": day.isoformat() if min_age_days is not None else None,
            "contract_id": contract_id,
        }
        start = after_contract(cursor, "exceptions", filters, key_length=2)
        books = self._only(contract_id) if contract_id else self._books_from(start)

        def matching() -> Iterator[ExceptionSummary]:
            for contract, book in books:
                chosen = [
                    e
                    for e in sorted(book.exceptions.values(), key=lambda e: e.exception_id)
                    if (state is None or e.state is state) and (exception_type is None or e.type is exception_type)
                ]
                if not chosen:
                    continue
                raised = timings_from_audit({contract: self.ledger.audit_trail_of_contract(contract)})
                latest = book.latest_version
                for exception in chosen:
                    at = raised.exception_raised_at.get(exception.exception_id)
                    age = None if at is None else max((day - at.date()).days, 0)
                    if min_age_days is not None and (age is None or age < min_age_days):
                        continue
                    yield ExceptionSummary(
                        exception_id=exception.exception_id,
                        contract_id=exception.contract_id,
                        type=exception.type,
                        state=exception.state,
                        amount=format_amount(exception.amount),
                        currency=exception.currency or (latest.currency if latest else ""),
                        refs=list(exception.refs),
                        detail=exception.detail,
                        period=exception.period,
                        raised_at=None if at is None else at.isoformat(),
                        age_days=age,
                    )

        page = paginate(
            matching(),
            listing="exceptions",
            filters=filters,
            key_of=lambda e: (e.contract_id, e.exception_id),
            key_length=2,
            limit=limit,
            cursor=cursor,
        )
        return ExceptionPage(as_of=day.isoformat(), items=page.items, next_cursor=page.next_cursor)

    def exception(self, exception_id: str) -> ExceptionDetail:
        try:
            return ExceptionDetail.model_validate(explain_exception(exception_id, self.ledger))
        except UnknownIdentifierError as unknown:
            raise NotInLedgerError(str(unknown.args[0])) from unknown

    # --- lineage and KPIs -----------------------------------------------------------------------

    def lineage(self, identifier: str) -> Lineage:
        """What `billbridge trace ID` shows; raw webhook bodies are named by their key, not read."""
        try:
            return Lineage.model_validate(trace_lineage(identifier, self.ledger))
        except UnknownIdentifierError as unknown:
            raise NotInLedgerError(str(unknown.args[0])) from unknown

    def kpis(self, *, as_of: date | None) -> Kpis:
        day = as_of or self.clock.now().date()
        books = self.ledger.books()
        trails = {book.contract_id: self.ledger.audit_trail_of_contract(book.contract_id) for book in books}
        kpis = compute_kpis(
            books,
            as_of=day,
            timings=timings_from_audit(trails),
            commands=self.ledger.commands.all_commands(),
            now=self.clock.now() if as_of is None else datetime.combine(day, time.max, tzinfo=UTC),
            propagation_stale_after=self.propagation_stale_after,
        )
        document = kpi_document(kpis)
        # Dead-letter depths are the queues' to tell (CloudWatch, `billbridge dlq list`): this
        # function reads the ledger only, so it leaves them out rather than report zero.
        failures = document["integration_failures"]
        failures.pop("dead_letters", None)
        failures.pop("dead_lettered_messages", None)
        return Kpis.model_validate(document)

    # --- unbilled work --------------------------------------------------------------------------

    def unbilled(
        self,
        *,
        contract_id: str | None,
        min_age_days: int | None,
        as_of: date | None,
        limit: int,
        cursor: str | None,
    ) -> UnbilledPage:
        day = as_of or self.clock.now().date()
        filters = {
            "contract_id": contract_id,
            "min_age_days": min_age_days,
            # the day decides which lines are listed only with an age filter: a cursor stays good past midnight
            "as_of": day.isoformat() if min_age_days is not None else None,
        }
        start = after_contract(cursor, "unbilled", filters, key_length=2)
        books = self._only(contract_id) if contract_id else self._books_from(start)

        def matching() -> Iterator[UnbilledLine]:
            for _, book in books:
                for line in sorted(book.lines.values(), key=lambda line: line.line_id):
                    if line.kind not in UNBILLED_KINDS or not _is_unbilled(book, line.invoice_id):
                        continue
                    age = max((day - line.line_date).days, 0)
                    if min_age_days is not None and age < min_age_days:
                        continue
                    version = book.versions.get(line.contract_version) if line.contract_version else None
                    latest = book.latest_version
                    entity = version.legal_entity if version else (latest.legal_entity if latest else "")
                    yield UnbilledLine(
                        contract_id=book.contract_id,
                        line_id=line.line_id,
                        kind=line.kind,
                        ref=line.ref,
                        line_date=line.line_date.isoformat(),
                        age_days=age,
                        age_bucket=age_bucket(line.line_date, day),
                        legal_entity=entity,
                        quantity=format_amount(line.quantity),
                        amount=format_amount(line.amount),
                        currency=line.currency,
                        description=line.description,
                    )

        page = paginate(
            matching(),
            listing="unbilled",
            filters=filters,
            key_of=lambda u: (u.contract_id, u.line_id),
            key_length=2,
            limit=limit,
            cursor=cursor,
        )
        return UnbilledPage(as_of=day.isoformat(), items=page.items, next_cursor=page.next_cursor)

    # --- books ----------------------------------------------------------------------------------

    def _book(self, contract_id: str) -> ContractBook:
        stored = self.ledger.load(contract_id)
        if not stored.revision or not stored.book.is_known:
            raise NotInLedgerError(f"no contract {contract_id!r}")
        return stored.book

    def _books_from(self, start: str | None) -> Iterator[tuple[str, ContractBook]]:
        """Every known contract's book, in contract id order, from `start` (inclusive) on, loaded one by one."""
        for contract_id in sorted(self.ledger.contract_ids()):
            if start is not None and contract_id < start:
                continue
            stored = self.ledger.load(contract_id)
            if stored.revision and stored.book.is_known:
                yield contract_id, stored.book

    def _only(self, contract_id: str) -> Iterable[tuple[str, ContractBook]]:
        stored = self.ledger.load(contract_id)
        return [(contract_id, stored.book)] if stored.revision and stored.book.is_known else []

    @staticmethod
    def _contract_summary(book: ContractBook) -> ContractSummary:
        latest = book.latest_version
        return ContractSummary(
            contract_id=book.contract_id,
            state=contract_view_state(book),
            version=latest.version if latest else None,
            customer_id=latest.customer_id if latest else None,
            legal_entity=latest.legal_entity if latest else None,
            currency=latest.currency if latest else None,
            invoices=len(book.invoices),
            open_exceptions=sum(1 for e in book.exceptions.values() if e.state is ExceptionState.OPEN),
        )


def contract_view_state(book: ContractBook) -> str:
    latest = book.latest_version
    if latest is None:
        return "pending (actuals arrived before the contract)"
    if book.termination:
        return f"terminated on {book.termination.effective_date.isoformat()}"
    return "active"


def _invoice_key(invoice: Invoice) -> tuple[str, str, str]:
    return (invoice.contract_id, invoice.period, f"{invoice.seq:06d}")


def _invoice_summary(invoice: Invoice) -> InvoiceSummary:
    return InvoiceSummary(
        proposal_id=invoice.proposal_id,
        contract_id=invoice.contract_id,
        period=invoice.period,
        status=invoice.status,
        erp_invoice_number=invoice.erp_invoice_number,
        erp_instance=invoice.erp_instance,
        legal_entity=invoice.legal_entity,
        currency=invoice.currency,
        subtotal=format_amount(invoice.subtotal),
        tax=format_amount(invoice.tax),
        total=format_amount(invoice.total),
        paid=format_amount(invoice.paid_amount),
        lines=len(invoice.lines),
    )


def _is_unbilled(book: ContractBook, invoice_id: str | None) -> bool:
    if invoice_id is None:
        return True
    invoice = book.invoices.get(invoice_id)
    return invoice is not None and not invoice.counts
