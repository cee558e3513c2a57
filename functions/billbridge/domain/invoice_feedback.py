"""ERP feedback: invoice numbers, rejections and payments. Status only moves forward."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from billbridge.domain.book_draft import BookDraft, RuleContext
from billbridge.domain.model import BookUpdate, ContractBook, ExceptionType, Invoice, InvoiceStatus, Payment

STATUS_RANK = {
    InvoiceStatus.PROPOSED: 0,
    InvoiceStatus.POSTED: 1,
    InvoiceStatus.PARTIALLY_PAID: 2,
    InvoiceStatus.PAID: 3,
    InvoiceStatus.REJECTED: 9,
}


class UnknownInvoiceError(LookupError):
    """Feedback names an invoice this book does not have."""


def apply_invoice_posted(
    book: ContractBook,
    *,
    proposal_id: str,
    invoice_number: str,
    posting_date: date,
    tax: Decimal,
    total: Decimal,
    context: RuleContext,
) -> BookUpdate:
    """The ERP's figures stand: a different tax raises `tax_variance`."""
    invoice = _invoice(book, proposal_id)
    draft = BookDraft(book, context)
    if invoice.status is not InvoiceStatus.PROPOSED:
        draft.record("feedback_absorbed", proposal_id, rule=f"invoice already {invoice.status.value}")
        return BookUpdate.unchanged(book, tuple(draft.audit))
    if tax != invoice.tax:
        draft.raise_exception(
            ExceptionType.TAX_VARIANCE,
            invoice_number,
            refs=(invoice_number,),
            amount=tax - invoice.tax,
            detail=f"ERP tax {tax} differs from the estimate {invoice.tax}; the ERP's figures stand",
            period=invoice.period,
        )
    posted = replace(
        invoice,
        status=InvoiceStatus.POSTED,
        erp_invoice_number=invoice_number,
        posting_date=posting_date,
        tax=tax,
        total=total,
    )
    draft.invoices[proposal_id] = _with_payment_status(posted)
    draft.record("invoice_posted", proposal_id, detail=f"ERP invoice {invoice_number}")
    _status_changed(draft, invoice, draft.invoices[proposal_id])
    return draft.freeze()


def apply_invoice_rejected(book: ContractBook, *, proposal_id: str, reason: str, context: RuleContext) -> BookUpdate:
    """A rejected proposal's lines return to unbilled; `invoice_rejected` is raised."""
    invoice = _invoice(book, proposal_id)
    draft = BookDraft(book, context)
    if invoice.status is not InvoiceStatus.PROPOSED:
        draft.record("feedback_absorbed", proposal_id, rule=f"invoice already {invoice.status.value}")
        return BookUpdate.unchanged(book, tuple(draft.audit))
    rejected = replace(invoice, status=InvoiceStatus.REJECTED, rejection_reason=reason)
    draft.invoices[proposal_id] = rejected
    for line in list(draft.lines.values()):
        if line.invoice_id != proposal_id:
            continue
        if line.kind in ("fee", "retainer"):
            draft.drop_line(line.line_id)
        else:
            draft.put_line(line.invoiced_as(None))
    draft.raise_exception(
        ExceptionType.INVOICE_REJECTED,
        proposal_id,
        refs=(proposal_id,),
        amount=invoice.total,
        detail=f"ERP rejected the proposal: {reason}",
        period=invoice.period,
    )
    draft.record("invoice_rejected", proposal_id, detail=reason)
    _status_changed(draft, invoice, rejected)
    return draft.freeze()


def apply_payment(
    book: ContractBook,
    *,
    proposal_id: str,
    payment: Payment,
    context: RuleContext,
) -> BookUpdate:
    invoice = _invoice(book, proposal_id)
    draft = BookDraft(book, context)
    if any(existing.payment_id == payment.payment_id for existing in invoice.payments):
        draft.record("feedback_absorbed", payment.payment_id, rule="payment already applied")
        return BookUpdate.unchanged(book, tuple(draft.audit))
    if invoice.status is InvoiceStatus.REJECTED:
        draft.record("feedback_absorbed", payment.payment_id, rule="invoice rejected")
        return BookUpdate.unchanged(book, tuple(draft.audit))
    paid = _with_payment_status(replace(invoice, payments=(*invoice.payments, payment)))
    draft.invoices[proposal_id] = paid
    draft.record("payment_applied", proposal_id, detail=f"{payment.payment_id}: {payment.amount} {payment.currency}")
    _status_changed(draft, invoice, paid)
    return draft.freeze()


def _with_payment_status(invoice: Invoice) -> Invoice:
    if not invoice.payments or invoice.status is InvoiceStatus.PROPOSED:
        return invoice
    status = InvoiceStatus.PAID if invoice.paid_amount >= invoice.total else InvoiceStatus.PARTIALLY_PAID
    if STATUS_RANK[status] < STATUS_RANK[invoice.status]:
        return invoice
    return replace(invoice, status=status)


def _status_changed(draft: BookDraft, before: Invoice, after: Invoice) -> None:
    if before.status is after.status:
        return
    draft.emit(
        "billing",
        "InvoiceStatusChanged",
        {
            "proposal_id": after.proposal_id,
            "invoice_number": after.erp_invoice_number,
            "from_status": before.status.value,
            "status": after.status.value,
            "total": str(after.total),
            "paid": str(after.paid_amount),
        },
    )


def _invoice(book: ContractBook, proposal_id: str) -> Invoice:
    invoice = book.invoices.get(proposal_id)
    if invoice is None:
        raise UnknownInvoiceError(f"no invoice proposal {proposal_id!r} on contract {book.contract_id}")
    return invoice


def mark_invoice_submitted(
    book: ContractBook, *, proposal_id: str, reference: str | None, context: RuleContext
) -> BookUpdate:
    """The ERP connector accepted the proposal (keyed by its id, so a retry is harmless)."""
    invoice = _invoice(book, proposal_id)
    draft = BookDraft(book, context)
    if invoice.submitted_to_erp:
        return BookUpdate.unchanged(book)
    draft.invoices[proposal_id] = replace(invoice, submitted_to_erp=True, erp_reference=reference)
    draft.record("invoice_submitted", proposal_id, rule=f"ERP instance {invoice.erp_instance}", detail=reference or "")
    draft.emit(
        "billing",
        "InvoiceProposed",
        {
            "proposal_id": proposal_id,
            "period": invoice.period,
            "erp_instance": invoice.erp_instance,
            "legal_entity": invoice.legal_entity,
            "currency": invoice.currency,
            "subtotal": str(invoice.subtotal),
            "tax": str(invoice.tax),
            "total": str(invoice.total),
            "lines": len(invoice.lines),
        },
    )
    return draft.freeze()


def record_billing_failure(
    book: ContractBook, *, period: str, error: str, cause: str, context: RuleContext
) -> BookUpdate:
    """A contract's billing step failed after its retries: hold it as an exception."""
    draft = BookDraft(book, context)
    draft.raise_exception(
        ExceptionType.BILLING_FAILED,
        period,
        refs=(period,),
        amount=Decimal(0),
        detail=f"{error}: {cause}"[:1000],
        period=period,
    )
    return draft.freeze()
