"""What each downstream command carries, built from the contract's book.

The hub's own command API (`POST {base}/commands/{name}`, see
billbridge.adapters.connectors.http_connector): these are the hub's payloads,
not a vendor's. A vendor adapter maps them to its own API.

- `UpsertProject` (PSA): the billing method, rate card, dates, milestones, cap,
  retainer, cost centers and invoicing contacts of a contract version;
- `UpsertBillingSchedule` (ERP): the recurring fees, milestones, retainer and
  invoicing contacts, for the ERP instance owning the legal entity;
- `TerminateProject` / `TerminateBillingSchedule`: the termination's version
  and effective date;
- `UpdateInvoiceStatus` (PSA): invoice number, amount, tax, posting date,
  payment status and amount paid.

Money is a decimal string at the currency's minor unit; dates are ISO-8601.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from billbridge.domain.downstream_commands import INVOICE_STATUS_COMMAND, DownstreamCommand
from billbridge.domain.model import ContractBook, ContractVersion, Invoice, Termination
from billbridge.domain.money import format_amount, round_money


def _version_heading(version: ContractVersion) -> dict[str, object]:
    """What every command about a contract version starts with: which version, whose, from when."""
    return {
        "contract_id": version.contract_id,
        "contract_version": version.version,
        "effective_date": version.effective_date.isoformat(),
        "customer_id": version.customer_id,
        "legal_entity": version.legal_entity,
    }


def project_payload(version: ContractVersion) -> dict[str, object]:
    return {
        **_version_heading(version),
        "billing_method": billing_method(version),
        "start_date": version.start_date.isoformat(),
        "end_date": version.end_date.isoformat(),
        "currency": version.currency,
        "rates": [
            {"role": line.role, "resource_id": line.resource_id, "rate": str(line.rate)} for line in version.rate_card
        ],
        "milestones": [
            {"milestone_id": m.milestone_id, "name": m.name, "amount": str(m.amount)} for m in version.milestones
        ],
        "cap_amount": None if version.cap_amount is None else str(version.cap_amount),
        "retainer_amount": None if version.retainer_amount is None else str(version.retainer_amount),
        "cost_centers": list(version.cost_centers),
        "invoicing_contacts": invoicing_contacts(version),
    }


def billing_schedule_payload(version: ContractVersion) -> dict[str, object]:
    return {
        **_version_heading(version),
        "currency": version.currency,
        "start_date": version.start_date.isoformat(),
        "end_date": version.end_date.isoformat(),
        "recurring_fees": [
            {
                "fee_id": fee.fee_id,
                "description": fee.description,
                "amount": str(fee.amount),
                "frequency": fee.frequency,
                "start_date": fee.start_date.isoformat(),
                "end_date": fee.end_date.isoformat() if fee.end_date else None,
            }
            for fee in version.recurring_fees
        ],
        "milestones": [
            {"milestone_id": m.milestone_id, "name": m.name, "amount": str(m.amount)} for m in version.milestones
        ],
        "retainer_amount": None if version.retainer_amount is None else str(version.retainer_amount),
        "invoicing_contacts": invoicing_contacts(version),
    }


def termination_payload(termination: Termination, latest: ContractVersion | None) -> dict[str, object]:
    return {
        "contract_id": termination.contract_id,
        "contract_version": termination.version,
        "effective_date": termination.effective_date.isoformat(),
        "customer_id": None if latest is None else latest.customer_id,
        "legal_entity": None if latest is None else latest.legal_entity,
    }


def invoice_status_payload(invoice: Invoice) -> dict[str, object]:
    return {
        "contract_id": invoice.contract_id,
        "proposal_id": invoice.proposal_id,
        "period": invoice.period,
        "invoice_number": invoice.erp_invoice_number,
        "currency": invoice.currency,
        "amount": _money(invoice.total, invoice.currency),
        "subtotal": _money(invoice.subtotal, invoice.currency),
        "tax": _money(invoice.tax, invoice.currency),
        "posting_date": invoice.posting_date.isoformat() if invoice.posting_date else None,
        "payment_status": invoice.status.value,
        "amount_paid": _money(invoice.paid_amount, invoice.currency),
    }


def invoice_status_key(invoice: Invoice) -> str:
    """One command per status an invoice reaches (a partial payment is a status of its own)."""
    return f"{invoice.proposal_id}-{invoice.status.value}-{_money(invoice.paid_amount, invoice.currency)}"


def _money(amount: Decimal, currency: str) -> str:
    return format_amount(round_money(amount, currency))


def invoicing_contacts(version: ContractVersion) -> list[dict[str, str]]:
    """The contract's billing contact, as the book holds it (sealed where the ledger seals it)."""
    contact = version.billing_contact
    if contact is None or not (contact.name or contact.email):
        return []
    return [{"role": "billing", "name": contact.name, "email": contact.email}]


def billing_method(version: ContractVersion) -> str:
    methods = []
    if version.rate_card:
        methods.append("time_and_materials")
    if version.recurring_fees:
        methods.append("fixed_fee")
    if version.milestones:
        methods.append("milestones")
    if version.retainer_amount is not None:
        methods.append("retainer")
    return "+".join(methods) or "none"


class PayloadSourceGoneError(LookupError):
    """What the command carried is no longer in the book (e.g. an invoice withdrawn)."""


def rebuild_payload(book: ContractBook, command: DownstreamCommand) -> dict[str, Any]:
    """The command's payload from the book as it is now (for a retry after a fix)."""
    if command.name == INVOICE_STATUS_COMMAND:
        invoice = book.invoices.get(str(command.payload.get("proposal_id", "")))
        if invoice is None:
            raise PayloadSourceGoneError(f"{command.command_id}: the invoice is no longer in {book.contract_id}")
        return invoice_status_payload(invoice)
    if command.name.startswith("Terminate"):
        if book.termination is None:
            raise PayloadSourceGoneError(f"{command.command_id}: {book.contract_id} is not terminated")
        return termination_payload(book.termination, book.latest_version)
    version = book.versions.get(command.contract_version or 0)
    if version is None:
        raise PayloadSourceGoneError(f"{command.command_id}: no version {command.contract_version} in the book")
    if command.name == "UpsertProject":
        return project_payload(version)
    return billing_schedule_payload(version)
