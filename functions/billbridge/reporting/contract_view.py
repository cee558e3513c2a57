"""A contract as an operator reads it: versions, ids, lines, invoices, exceptions."""

from __future__ import annotations

from typing import Any

from billbridge.domain.model import ContractBook
from billbridge.domain.money import format_amount
from billbridge.reporting.replay_report import invoice_document, line_figures


def contract_view(book: ContractBook, ids: dict[str, str]) -> dict[str, Any]:
    latest = book.latest_version
    return {
        "contract_id": book.contract_id,
        "state": (
            "pending (actuals arrived before the contract)"
            if latest is None
            else f"terminated on {book.termination.effective_date.isoformat()}"
            if book.termination
            else "active"
        ),
        "versions": [
            {
                "version": v.version,
                "effective_date": v.effective_date.isoformat(),
                "start_date": v.start_date.isoformat(),
                "end_date": v.end_date.isoformat(),
                "currency": v.currency,
                "legal_entity": v.legal_entity,
                "tax_jurisdiction": v.tax_jurisdiction,
                "customer_id": v.customer_id,
                "cap_amount": None if v.cap_amount is None else format_amount(v.cap_amount),
                "retainer_amount": None if v.retainer_amount is None else format_amount(v.retainer_amount),
                "rate_card": [
                    {"role": r.role, "resource_id": r.resource_id, "rate": format_amount(r.rate)} for r in v.rate_card
                ],
            }
            for v in sorted(book.versions.values(), key=lambda v: v.version)
        ],
        "ids": ids,
        "lines": [
            {**line_figures(line), "invoice_id": line.invoice_id, "rules": list(line.rules)}
            for line in sorted(book.lines.values(), key=lambda line: (line.line_date, line.ref, line.split_position))
        ],
        "invoices": [invoice_document(i) for i in sorted(book.invoices.values(), key=lambda i: (i.period, i.seq))],
        "exceptions": [
            {
                "exception_id": e.exception_id,
                "type": e.type.value,
                "state": e.state.value,
                "amount": format_amount(e.amount),
                "currency": e.currency or (latest.currency if latest else ""),
                "refs": list(e.refs),
                "detail": e.detail,
            }
            for e in book.exceptions.values()
        ],
    }
