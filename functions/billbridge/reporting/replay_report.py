"""The replay report of the billing spec, computed from the books."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from billbridge.domain.model import BillingLine, ContractBook, Invoice
from billbridge.domain.money import ZERO, format_amount, round_money


def line_figures(line: BillingLine) -> dict[str, Any]:
    """What every document of a line starts with: its identity and its figures as decimal strings."""
    return {
        "line_id": line.line_id,
        "kind": line.kind,
        "ref": line.ref,
        "contract_version": line.contract_version,
        "quantity": format_amount(line.quantity),
        "rate": None if line.rate is None else format_amount(line.rate),
        "amount": format_amount(line.amount),
        "currency": line.currency,
        "description": line.description,
    }


def line_document(line: BillingLine) -> dict[str, Any]:
    return {
        **line_figures(line),
        "rate_rule": line.rate_rule,
        "rules": list(line.rules),
        "source_refs": list(line.source_refs),
        "correlation_id": line.correlation_id,
    }


def invoice_document(invoice: Invoice) -> dict[str, Any]:
    return {
        "proposal_id": invoice.proposal_id,
        "contract_id": invoice.contract_id,
        "period": invoice.period,
        "currency": invoice.currency,
        "status": invoice.status.value,
        "erp_invoice_number": invoice.erp_invoice_number,
        "erp_instance": invoice.erp_instance,
        "legal_entity": invoice.legal_entity,
        "lines": [line_document(line) for line in invoice.lines],
        "subtotal": format_amount(invoice.subtotal),
        "tax": format_amount(invoice.tax),
        "total": format_amount(invoice.total),
        **(
            {"tax_exemption_certificate": invoice.tax_exemption_certificate}
            if invoice.tax_exemption_certificate
            else {}
        ),
        "paid": format_amount(invoice.paid_amount),
        "correlation_id": invoice.correlation_id,
    }


def build_replay_report(books: Iterable[ContractBook]) -> dict[str, Any]:
    invoices: list[dict[str, Any]] = []
    exceptions: list[dict[str, Any]] = []
    rerated: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    unbilled: dict[str, str] = {}
    currencies: dict[str, str] = {}
    for book in sorted(books, key=lambda b: b.contract_id):
        for invoice in sorted(book.invoices.values(), key=lambda i: (i.period, i.seq)):
            invoices.append(invoice_document(invoice))
        for exception in book.exceptions.values():
            exceptions.append(
                {
                    "exception_id": exception.exception_id,
                    "type": exception.type.value,
                    "contract_id": exception.contract_id,
                    "refs": list(exception.refs),
                    "amount": format_amount(exception.amount),
                    "currency": exception.currency or _contract_currency(book),
                    "state": exception.state.value,
                    "detail": exception.detail,
                    "correlation_id": exception.correlation_id,
                }
            )
        for record in book.rerates:
            rerated.append(
                {
                    "ref": record.ref,
                    "contract_id": book.contract_id,
                    "line_id": record.line_id,
                    "from_version": record.from_version,
                    "to_version": record.to_version,
                    "old_rate": None if record.old_rate is None else format_amount(record.old_rate),
                    "new_rate": format_amount(record.new_rate),
                    "old_amount": format_amount(record.old_amount),
                    "new_amount": format_amount(record.new_amount),
                    "currency": _contract_currency(book),
                }
            )
        if not book.is_known:
            for entry in book.entries.values():
                if not entry.rejected:
                    pending.append({"kind": "time", "ref": entry.entry_id, "contract_id": book.contract_id})
            for expense in book.expenses.values():
                pending.append({"kind": "expense", "ref": expense.expense_id, "contract_id": book.contract_id})
            for completion in book.completions.values():
                pending.append({"kind": "milestone", "ref": completion.milestone_id, "contract_id": book.contract_id})
            continue
        currency = _contract_currency(book)
        currencies[book.contract_id] = currency
        unbilled[book.contract_id] = format_amount(round_money(unbilled_amount(book), currency))
    return {
        "invoices": invoices,
        "exceptions": exceptions,
        "rerated": rerated,
        "pending": pending,
        "unbilled": unbilled,
        "currencies": currencies,
    }


def _contract_currency(book: ContractBook) -> str:
    latest = book.latest_version
    return latest.currency if latest else ""


def unbilled_amount(book: ContractBook) -> Decimal:
    """Rated and not yet invoiced (held lines included)."""
    total = ZERO
    for line in book.lines.values():
        if line.kind in ("fee", "retainer"):
            continue
        invoice = book.invoices.get(line.invoice_id) if line.invoice_id else None
        if line.invoice_id is None or (invoice is not None and not invoice.counts):
            total += line.amount
    return total
