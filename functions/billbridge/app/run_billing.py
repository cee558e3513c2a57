"""The billing run's steps, one use case per state-machine task.

select contracts -> (per contract) compose and reserve -> post to the ERP
instance that owns the legal entity -> record. Reservation is the conditional
save of the contract's book: two runs of the same period race on it, and the
loser finds the lines already billed, so nothing is billed twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from billbridge.app.ledger import Ledger, apply_to_book
from billbridge.app.ports import Connector, ConnectorCommand, EventPublisher, TransientConnectorError
from billbridge.domain.billing_run import Period, compose_invoice
from billbridge.domain.book_draft import RuleContext
from billbridge.domain.invoice_feedback import mark_invoice_submitted, record_billing_failure
from billbridge.domain.model import BookUpdate, ContractBook, Invoice, InvoiceStatus


class TransientError(Exception):
    """A step may succeed if retried (the state machine retries this error name)."""


class ErpRejectedCommandError(Exception):
    """The ERP connector refused the invoice proposal outright."""


@dataclass
class SelectContracts:
    ledger: Ledger

    def handle(self, *, period: str, contract_ids: list[str] | None) -> list[str]:
        Period.parse(period)
        known = self.ledger.contract_ids()
        if contract_ids:
            wanted = set(contract_ids)
            return [contract_id for contract_id in known if contract_id in wanted]
        return known


@dataclass
class ComposeInvoice:
    ledger: Ledger
    publisher: EventPublisher

    def handle(self, *, contract_id: str, period: str, run_id: str, correlation_id: str) -> dict[str, Any]:
        config = self.ledger.load_config()
        context = RuleContext(correlation_id=correlation_id, source_ref=f"billing-run:{run_id}")
        update = apply_to_book(
            self.ledger,
            contract_id,
            lambda book: compose_invoice(book, period=period, config=config, run_id=run_id, context=context).update,
            self.publisher,
        )
        pending = unsubmitted_invoices(update.book)
        return {
            "contract_id": contract_id,
            "period": period,
            "run_id": run_id,
            "proposal_id": pending[0].proposal_id if pending else None,
        }


def unsubmitted_invoices(book: ContractBook) -> list[Invoice]:
    return sorted(
        (
            invoice
            for invoice in book.invoices.values()
            if invoice.status is InvoiceStatus.PROPOSED and not invoice.submitted_to_erp
        ),
        key=lambda invoice: (invoice.period, invoice.seq),
    )


@dataclass
class PostInvoice:
    ledger: Ledger
    publisher: EventPublisher
    erp: Connector

    def handle(self, *, contract_id: str, correlation_id: str) -> list[str]:
        """Post every proposed invoice of the contract not yet accepted by the ERP
        connector; the proposal id is the idempotency key, so a retried post
        cannot create a second invoice."""
        posted = []
        for invoice in unsubmitted_invoices(self.ledger.load(contract_id).book):
            try:
                receipt = self.erp.send(
                    ConnectorCommand(
                        target=invoice.erp_instance,
                        name="CreateInvoice",
                        idempotency_key=invoice.proposal_id,
                        correlation_id=invoice.correlation_id or correlation_id,
                        payload=invoice_payload(invoice),
                    )
                )
            except TransientConnectorError as error:
                raise TransientError(str(error)) from error
            if not receipt.accepted:
                raise ErpRejectedCommandError(f"{invoice.proposal_id}: {receipt.detail}")
            context = RuleContext(correlation_id=invoice.correlation_id or correlation_id, source_ref="erp-connector")
            apply_to_book(
                self.ledger,
                contract_id,
                partial(_mark_submitted, proposal_id=invoice.proposal_id, reference=receipt.reference, context=context),
                self.publisher,
            )
            posted.append(invoice.proposal_id)
        return posted


def _mark_submitted(book: ContractBook, *, proposal_id: str, reference: str | None, context: RuleContext) -> BookUpdate:
    return mark_invoice_submitted(book, proposal_id=proposal_id, reference=reference, context=context)


@dataclass
class RecordBillingFailure:
    ledger: Ledger
    publisher: EventPublisher

    def handle(self, *, contract_id: str, period: str, error: str, cause: str, correlation_id: str) -> None:
        context = RuleContext(correlation_id=correlation_id, source_ref="billing-run")
        apply_to_book(
            self.ledger,
            contract_id,
            lambda book: record_billing_failure(book, period=period, error=error, cause=cause, context=context),
            self.publisher,
        )


def invoice_payload(invoice: Invoice) -> dict[str, Any]:
    return {
        "proposal_id": invoice.proposal_id,
        "contract_id": invoice.contract_id,
        "customer_id": invoice.customer_id,
        "legal_entity": invoice.legal_entity,
        "period": invoice.period,
        "currency": invoice.currency,
        "tax_jurisdiction": invoice.tax_jurisdiction,
        "lines": [
            {
                "kind": line.kind,
                "ref": line.ref,
                "description": line.description,
                "quantity": str(line.quantity),
                "rate": None if line.rate is None else str(line.rate),
                "amount": str(line.amount),
                "contract_version": line.contract_version,
            }
            for line in invoice.lines
        ],
        "subtotal": str(invoice.subtotal),
        "tax": str(invoice.tax),
        "total": str(invoice.total),
    }
