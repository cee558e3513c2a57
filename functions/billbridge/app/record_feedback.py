"""Invoice and payment feedback from the ERP flows back to the books."""

from __future__ import annotations

from dataclasses import dataclass

from billbridge.app.event_translation import (
    IngestedEvent,
    UntranslatableEventError,
    contract_id_of_proposal,
    date_field,
    decimal_field,
    payment_from,
)
from billbridge.app.ledger import Ledger, apply_to_book
from billbridge.app.ports import EventPublisher
from billbridge.domain.book_draft import RuleContext
from billbridge.domain.invoice_feedback import apply_invoice_posted, apply_invoice_rejected, apply_payment
from billbridge.domain.model import BookUpdate, ContractBook


@dataclass
class RecordFeedback:
    ledger: Ledger
    publisher: EventPublisher

    def handle(self, event: IngestedEvent) -> BookUpdate:
        context = RuleContext(correlation_id=event.correlation_id, source_ref=event.source_ref)
        data = event.data
        if event.event_type == "invoice.posted":
            proposal_id = str(data.get("proposal_id") or "")
            invoice_number = str(data.get("invoice_number") or "")
            if not invoice_number:
                raise UntranslatableEventError("data.invoice_number: required")
            update = apply_to_book(
                self.ledger,
                contract_id_of_proposal(proposal_id),
                lambda book: apply_invoice_posted(
                    book,
                    proposal_id=proposal_id,
                    invoice_number=invoice_number,
                    posting_date=date_field(data.get("posting_date"), "data.posting_date"),
                    tax=decimal_field(data.get("tax"), "data.tax"),
                    total=decimal_field(data.get("total"), "data.total"),
                    context=context,
                ),
                self.publisher,
            )
            self.ledger.remember_invoice_number(invoice_number, proposal_id)
            for parked in self.ledger.take_parked_feedback(f"payment#{invoice_number}"):
                update = self.handle(IngestedEvent(**parked))  # type: ignore[arg-type]
            return update
        if event.event_type == "invoice.rejected":
            proposal_id = str(data.get("proposal_id") or "")
            return apply_to_book(
                self.ledger,
                contract_id_of_proposal(proposal_id),
                lambda book: apply_invoice_rejected(
                    book, proposal_id=proposal_id, reason=str(data.get("reason") or ""), context=context
                ),
                self.publisher,
            )
        if event.event_type == "payment.applied":
            invoice_number = str(data.get("invoice_number") or "")
            payment = payment_from(data)
            known_proposal = self.ledger.proposal_for_invoice_number(invoice_number)
            if known_proposal is None:
                # The payment overtook the posting: keep it until the invoice number is known.
                self.ledger.park_feedback(
                    f"payment#{invoice_number}",
                    {
                        "event_type": event.event_type,
                        "data": dict(data),
                        "correlation_id": event.correlation_id,
                        "source": event.source,
                        "event_id": event.event_id,
                        "subject": event.subject,
                    },
                )
                return BookUpdate.unchanged(ContractBook(contract_id=""))
            return apply_to_book(
                self.ledger,
                contract_id_of_proposal(known_proposal),
                lambda book: apply_payment(book, proposal_id=known_proposal, payment=payment, context=context),
                self.publisher,
            )
        raise UntranslatableEventError(f"type: {event.event_type!r} is not an ERP feedback event")
