"""Invoice status only moves forward; rejection returns lines to unbilled."""

from __future__ import annotations

from billbridge.domain.model import ExceptionType, Invoice, InvoiceStatus

from tests.unit.domain.builders import D, Desk, entry, fee, version


def billed_desk() -> tuple[Desk, Invoice]:
    desk = Desk()
    desk.version(version(fees=[fee("F1", "200.00")], retainer="100.00"))
    desk.entry(entry("TE-1"))
    invoice = desk.bill("2026-03")
    assert invoice is not None
    assert invoice.status is InvoiceStatus.PROPOSED
    return desk, invoice


def test_posted_invoice_records_the_erp_invoice_number() -> None:
    desk, invoice = billed_desk()
    desk.posted(invoice.proposal_id, "INV-1", tax=str(invoice.tax), total=str(invoice.total))
    posted = desk.invoice(invoice.proposal_id)
    assert (posted.status, posted.erp_invoice_number) == (InvoiceStatus.POSTED, "INV-1")


def test_payments_move_the_status_to_partially_paid_then_paid() -> None:
    desk, invoice = billed_desk()
    desk.posted(invoice.proposal_id, "INV-1", tax=str(invoice.tax), total=str(invoice.total))
    desk.paid(invoice.proposal_id, "P-1", "100.00")
    assert desk.invoice(invoice.proposal_id).status is InvoiceStatus.PARTIALLY_PAID
    desk.paid(invoice.proposal_id, "P-2", str(invoice.total - D("100.00")))
    assert desk.invoice(invoice.proposal_id).status is InvoiceStatus.PAID


def test_repeated_payment_is_absorbed() -> None:
    desk, invoice = billed_desk()
    desk.posted(invoice.proposal_id, "INV-1", tax=str(invoice.tax), total=str(invoice.total))
    desk.paid(invoice.proposal_id, "P-1", "100.00")
    before = desk.book
    assert desk.paid(invoice.proposal_id, "P-1", "100.00").changed is False
    assert desk.book == before
    assert desk.invoice(invoice.proposal_id).paid_amount == D("100.00")


def test_repeated_posting_is_absorbed() -> None:
    desk, invoice = billed_desk()
    desk.posted(invoice.proposal_id, "INV-1", tax=str(invoice.tax), total=str(invoice.total))
    before = desk.book
    assert desk.posted(invoice.proposal_id, "INV-2", tax="0", total="0").changed is False
    assert desk.book == before


def test_late_posting_after_payment_does_not_move_status_back() -> None:
    desk, invoice = billed_desk()
    desk.posted(invoice.proposal_id, "INV-1", tax=str(invoice.tax), total=str(invoice.total))
    desk.paid(invoice.proposal_id, "P-1", str(invoice.total))
    assert desk.posted(invoice.proposal_id, "INV-1", tax=str(invoice.tax), total=str(invoice.total)).changed is False
    assert desk.invoice(invoice.proposal_id).status is InvoiceStatus.PAID


def test_late_rejection_of_a_posted_invoice_is_absorbed() -> None:
    desk, invoice = billed_desk()
    desk.posted(invoice.proposal_id, "INV-1", tax=str(invoice.tax), total=str(invoice.total))
    assert desk.rejected(invoice.proposal_id).changed is False
    assert desk.invoice(invoice.proposal_id).status is InvoiceStatus.POSTED
    assert desk.exceptions(ExceptionType.INVOICE_REJECTED) == []


def test_rejected_invoice_returns_its_lines_to_unbilled_and_raises_invoice_rejected() -> None:
    desk, invoice = billed_desk()
    desk.rejected(invoice.proposal_id, reason="wrong PO")
    assert desk.invoice(invoice.proposal_id).status is InvoiceStatus.REJECTED
    assert [line.ref for line in desk.unbilled()] == ["TE-1"]
    rejected = desk.exception(ExceptionType.INVOICE_REJECTED)
    assert rejected.refs == (invoice.proposal_id,)
    assert rejected.amount == invoice.total


def test_lines_of_a_rejected_invoice_are_billed_again_under_the_next_seq() -> None:
    desk, invoice = billed_desk()
    desk.rejected(invoice.proposal_id)
    again = desk.bill("2026-03")
    assert again is not None
    assert again.proposal_id == "SOW-1-2026-03-2"
    assert [(line.kind, line.amount) for line in again.lines] == [(line.kind, line.amount) for line in invoice.lines]


def test_rejected_invoice_stays_rejected() -> None:
    desk, invoice = billed_desk()
    desk.rejected(invoice.proposal_id)
    assert desk.posted(invoice.proposal_id, "INV-1", tax="0", total="0").changed is False
    assert desk.paid(invoice.proposal_id, "P-1", "1.00").changed is False
    assert desk.rejected(invoice.proposal_id).changed is False
    assert desk.invoice(invoice.proposal_id).status is InvoiceStatus.REJECTED
    assert len(desk.exceptions(ExceptionType.INVOICE_REJECTED)) == 1
