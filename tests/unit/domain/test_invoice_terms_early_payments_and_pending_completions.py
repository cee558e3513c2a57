"""The invoice's terms on the period's last day; one routing hold per period;
early payments kept; completions before their contract pending."""

from __future__ import annotations

from billbridge.domain.model import ExceptionState, ExceptionType, InvoiceStatus

from tests.unit.domain.builders import D, Desk, completion, config, entry, version


def test_jurisdiction_and_entity_come_from_the_version_applicable_on_the_last_day() -> None:
    desk = Desk()
    desk.version(version())
    desk.version(version(number=2, effective="2026-03-20", legal_entity="DE01", tax_jurisdiction="DE"))
    desk.version(version(number=3, effective="2026-04-01", legal_entity="US01", tax_jurisdiction="US-OR"))
    desk.entry(entry("TE-1", {"2026-03-02": "1"}))
    invoice = desk.bill("2026-03")
    assert invoice is not None
    assert (invoice.legal_entity, invoice.tax_jurisdiction, invoice.erp_instance) == ("DE01", "DE", "erp-eu")


def test_one_open_routing_hold_per_contract_and_period_resolved_once_billed() -> None:
    desk = Desk(billing_config=config(tax={"US-OR": "0"}))
    desk.version(version())
    desk.entry(entry("TE-1", {"2026-03-02": "1"}))
    desk.bill("2026-03")
    desk.entry(entry("TE-2", {"2026-03-03": "1"}))
    desk.bill("2026-03")
    held = desk.exceptions(ExceptionType.UNKNOWN_TAX_JURISDICTION)
    assert len(held) == 1 and held[0].amount == D("200.00") and held[0].refs == ("2026-03",)
    desk.entry(entry("TE-3", {"2026-04-01": "1"}))
    desk.bill("2026-04")
    assert len(desk.exceptions(ExceptionType.UNKNOWN_TAX_JURISDICTION)) == 2
    desk.billing_config = config()
    assert desk.bill("2026-03") is not None
    states = {e.refs: e.state for e in desk.exceptions(ExceptionType.UNKNOWN_TAX_JURISDICTION)}
    assert states == {("2026-03",): ExceptionState.RESOLVED, ("2026-04",): ExceptionState.OPEN}


def test_a_payment_before_the_posting_is_kept_and_applied_when_posted() -> None:
    desk = Desk()
    desk.version(version(tax_jurisdiction="US-OR"))
    desk.entry(entry("TE-1", {"2026-03-02": "1"}))
    invoice = desk.bill("2026-03")
    assert invoice is not None
    desk.paid(invoice.proposal_id, "PAY-1", "100.00")
    assert desk.invoice(invoice.proposal_id).status is InvoiceStatus.PROPOSED
    assert desk.invoice(invoice.proposal_id).paid_amount == D("100.00")
    desk.posted(invoice.proposal_id, "INV-1", tax="0", total="100.00")
    assert desk.invoice(invoice.proposal_id).status is InvoiceStatus.PAID


def test_a_completion_before_its_contract_is_pending_then_billed() -> None:
    desk = Desk()
    desk.complete(completion("M1", on="2026-03-15"))
    assert desk.lines("milestone") == [] and desk.exceptions() == []
    desk.version(version(milestones={"M1": "2500.00"}))
    assert [line.amount for line in desk.lines("milestone")] == [D("2500.00")]


def test_a_routing_hold_whose_work_went_away_is_withdrawn() -> None:
    desk = Desk(billing_config=config(tax={"US-OR": "0"}))
    desk.version(version())
    desk.entry(entry("TE-1", {"2026-03-02": "1"}))
    desk.bill("2026-03")
    desk.reject_entry("TE-1", 2)
    assert desk.bill("2026-03") is None
    assert desk.exception(ExceptionType.UNKNOWN_TAX_JURISDICTION).state is ExceptionState.WITHDRAWN
