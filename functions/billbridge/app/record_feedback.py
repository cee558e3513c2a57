"""Invoice and payment feedback from the ERP flows back to the books, and on to
the PSA (`UpdateInvoiceStatus`: invoice number, amount, tax, posting date,
payment status, amount paid); the downstream systems' asynchronous answers to
the hub's commands (`sync.acknowledged`, `sync.refused`) are recorded."""

from __future__ import annotations

from dataclasses import dataclass

from billbridge import topology
from billbridge.app.canonical_events import (
    InvoicePostedData,
    InvoiceRejectedData,
    PaymentAppliedData,
    SyncAcknowledgedData,
    SyncRefusedData,
    SyncRetryRequestedData,
)
from billbridge.app.downstream_payloads import invoice_status_key, invoice_status_payload
from billbridge.app.downstream_sync import DownstreamSync, NothingToRetryError, PlannedCommand
from billbridge.app.event_translation import (
    IngestedEvent,
    UntranslatableEventError,
    contract_id_of_proposal,
    payment_from,
)
from billbridge.app.ledger import Ledger, apply_to_book
from billbridge.app.ports import Connector, EventPublisher
from billbridge.domain.book_draft import RuleContext
from billbridge.domain.downstream_commands import INVOICE_STATUS_COMMAND, CommandState
from billbridge.domain.invoice_feedback import apply_invoice_posted, apply_invoice_rejected, apply_payment
from billbridge.domain.model import BookUpdate, ContractBook, InvoiceStatus

SYNC_ANSWER_TYPES = ("sync.acknowledged", "sync.refused")
SYNC_RETRY_REQUESTED = topology.SYNC_RETRY_REQUESTED
PSA_STATUSES = frozenset({InvoiceStatus.POSTED, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.PAID})


@dataclass
class RecordFeedback:
    ledger: Ledger
    publisher: EventPublisher
    psa: Connector | None = None
    """Where invoice statuses go (None: nowhere, e.g. a run of the core alone)."""
    erp: Connector | None = None
    """Where a retried ERP command goes."""
    downstream: DownstreamSync | None = None
    """Records commands' outcomes and the systems' asynchronous answers."""

    def __post_init__(self) -> None:
        if self.psa is not None and self.downstream is None:
            raise ValueError("RecordFeedback needs `downstream` to record the outcome of its commands")

    def handle(self, event: IngestedEvent) -> BookUpdate:
        if event.event_type in SYNC_ANSWER_TYPES:
            return self._record_answer(event)
        if event.event_type == SYNC_RETRY_REQUESTED:
            return self._retry(event)
        update = self._apply(event)
        if update.changed:
            proposals = {
                str(e.detail.get("proposal_id", "")) for e in update.events if e.detail_type == "InvoiceStatusChanged"
            }
            if isinstance(event.data, PaymentAppliedData):  # a partial payment after another keeps its status
                paid = self.ledger.proposal_for_invoice_number(event.data.invoice_number)
                proposals |= {paid} if paid else set()
            self._push_invoice_statuses(update, sorted(proposals), event.correlation_id)
        return update

    def _record_answer(self, event: IngestedEvent) -> BookUpdate:
        if self.downstream is None:
            raise UntranslatableEventError(f"type: {event.event_type!r}: this hub sends no downstream commands")
        data = event.data
        if not isinstance(data, SyncAcknowledgedData | SyncRefusedData):
            raise UntranslatableEventError(f"type: {event.event_type!r} is not an answer to a command")
        command = self.downstream.answer(
            data.command_id,
            CommandState.ACKNOWLEDGED if isinstance(data, SyncAcknowledgedData) else CommandState.REFUSED,
            reference=data.reference if isinstance(data, SyncAcknowledgedData) else None,
            answer=_answer_text(data),
            from_system=event.source,
        )
        return BookUpdate.unchanged(ContractBook(contract_id=command.contract_id))

    def _retry(self, event: IngestedEvent) -> BookUpdate:
        """An operator's `billbridge sync retry`: the command is sent again from here,
        where the connectors and their credentials are."""
        if not isinstance(event.data, SyncRetryRequestedData):
            raise UntranslatableEventError(f"type: {event.event_type!r} is not a retry request")
        command_id = event.data.command_id
        if self.downstream is None:
            raise UntranslatableEventError(f"type: {event.event_type!r}: this hub sends no downstream commands")
        try:
            command = self.downstream.retry(command_id, self._connector_for)
        except NothingToRetryError:
            return BookUpdate.unchanged(ContractBook(contract_id=""))  # acknowledged meanwhile: done
        return BookUpdate.unchanged(ContractBook(contract_id=command.contract_id))

    def _connector_for(self, target: str) -> Connector:
        connector = self.psa if target == "psa" else self.erp
        if connector is None:
            raise UntranslatableEventError(f"no connector for target {target!r}")
        return connector

    def _push_invoice_statuses(self, update: BookUpdate, proposals: list[str], correlation_id: str) -> None:
        """The invoice's number, amounts, posting date and payment status to the PSA, once per
        status and amount paid (the idempotency key)."""
        if self.psa is None or self.downstream is None:
            return
        for proposal_id in proposals:
            invoice = update.book.invoices.get(proposal_id)
            if invoice is None or invoice.status not in PSA_STATUSES:
                continue
            self.downstream.send(
                self.psa,
                PlannedCommand(
                    contract_id=invoice.contract_id,
                    system="psa",
                    target="psa",
                    name=INVOICE_STATUS_COMMAND,
                    idempotency_key=invoice_status_key(invoice),
                    correlation_id=correlation_id,
                    payload=invoice_status_payload(invoice),
                ),
            )

    def _apply(self, event: IngestedEvent) -> BookUpdate:
        context = RuleContext(correlation_id=event.correlation_id, source_ref=event.source_ref)
        data = event.data
        if isinstance(data, InvoicePostedData):
            posted = data
            proposal_id = posted.proposal_id
            invoice_number = posted.invoice_number
            update = apply_to_book(
                self.ledger,
                contract_id_of_proposal(proposal_id),
                lambda book: apply_invoice_posted(
                    book,
                    proposal_id=proposal_id,
                    invoice_number=invoice_number,
                    posting_date=posted.posting_date,
                    tax=posted.tax,
                    total=posted.total,
                    context=context,
                ),
                self.publisher,
            )
            self.ledger.remember_invoice_number(invoice_number, proposal_id)
            for parked in self.ledger.take_parked_feedback(f"payment#{invoice_number}"):
                update = self._apply(IngestedEvent(**parked))  # type: ignore[arg-type]
            return update
        if isinstance(data, InvoiceRejectedData):
            refused = data
            return apply_to_book(
                self.ledger,
                contract_id_of_proposal(refused.proposal_id),
                lambda book: apply_invoice_rejected(
                    book, proposal_id=refused.proposal_id, reason=refused.reason, context=context
                ),
                self.publisher,
            )
        if isinstance(data, PaymentAppliedData):
            invoice_number = data.invoice_number
            payment = payment_from(data)
            known_proposal = self.ledger.proposal_for_invoice_number(invoice_number)
            if known_proposal is None:
                # The payment overtook the posting: keep it until the invoice number is known.
                self.ledger.park_feedback(f"payment#{invoice_number}", event.parkable())
                return BookUpdate.unchanged(ContractBook(contract_id=""))
            return apply_to_book(
                self.ledger,
                contract_id_of_proposal(known_proposal),
                lambda book: apply_payment(book, proposal_id=known_proposal, payment=payment, context=context),
                self.publisher,
            )
        raise UntranslatableEventError(f"type: {event.event_type!r} is not an ERP feedback event")


def _answer_text(data: SyncAcknowledgedData | SyncRefusedData) -> str:
    """The system's answer as the operator reads it: its code and message."""
    if not isinstance(data, SyncRefusedData):
        return ""
    return ": ".join(part for part in (data.code, data.message) if part)[:1000]
