"""Amendments and change orders: re-rate unbilled, flag invoiced, revisions."""

from __future__ import annotations

from billbridge.domain.model import ExceptionState, ExceptionType

from tests.fakes.hub import CoreHub
from tests.unit.domain.builders import D, Desk, entry, version, week


def test_new_version_rerates_unbilled_lines_and_records_old_and_new() -> None:
    desk = Desk()
    desk.version(version(1))
    desk.entry(entry("TE-1", week("2026-03-02")))
    desk.version(version(2, effective="2026-03-04", roles={"consultant": "120.00"}))
    assert [(line.contract_version, line.amount) for line in desk.lines()] == [
        (1, D("1600.00")),
        (2, D("2880.00")),
    ]
    (record,) = desk.book.rerates
    assert (record.ref, record.from_version, record.to_version) == ("TE-1", 1, 2)
    assert (record.old_rate, record.new_rate) == (D("100.00"), D("120.00"))
    assert (record.old_amount, record.new_amount) == (D("2400.00"), D("2880.00"))
    assert desk.exceptions() == []


def test_new_version_not_governing_unbilled_days_rerates_nothing() -> None:
    desk = Desk()
    desk.version(version(1))
    desk.entry(entry("TE-1", week("2026-03-02")))
    before = dict(desk.book.lines)
    desk.version(version(2, effective="2026-04-01", roles={"consultant": "120.00"}))
    assert desk.book.lines == before
    assert desk.book.rerates == ()


def test_amendment_of_invoiced_lines_raises_one_retroactive_change_with_total_delta() -> None:
    desk = Desk()
    desk.version(version(1))
    desk.entry(entry("TE-1", week("2026-03-02")))
    desk.entry(entry("TE-2", {"2026-03-05": "2.5"}))
    invoice = desk.bill("2026-03")
    assert invoice is not None
    invoiced = {line.line_id: line for line in desk.lines()}
    desk.version(version(2, effective="2026-03-04", roles={"consultant": "120.00"}))
    change = desk.exception(ExceptionType.RETROACTIVE_CHANGE)
    assert set(change.refs) == {"TE-1", "TE-2"}
    # TE-1: 16 h x 100 + 24 h x 120 - 4000 = 480; TE-2: 2.5 h x 120 - 250 = 50
    assert change.amount == D("530.00")
    assert change.state is ExceptionState.OPEN
    assert {line.line_id: line for line in desk.lines()} == invoiced
    assert desk.book.rerates == ()


def test_each_amendment_that_changes_invoiced_lines_raises_its_own_retroactive_change() -> None:
    desk = Desk()
    desk.version(version(1))
    desk.entry(entry("TE-1", week("2026-03-02")))
    desk.bill("2026-03")
    desk.version(version(2, effective="2026-03-02", roles={"consultant": "110.00"}))
    desk.version(version(3, effective="2026-03-02", roles={"consultant": "120.00"}))
    changes = desk.exceptions(ExceptionType.RETROACTIVE_CHANGE)
    assert sorted(change.contract_version for change in changes) == [2, 3]


def test_retroactive_change_bills_nothing_until_approved() -> None:
    desk = Desk()
    desk.version(version(1))
    desk.entry(entry("TE-1", week("2026-03-02")))
    desk.bill("2026-03")
    desk.version(version(2, effective="2026-03-04", roles={"consultant": "120.00"}))
    assert desk.bill("2026-03") is None
    assert desk.bill("2026-04") is None


def test_approved_retroactive_change_becomes_an_adjustment_line_on_the_next_invoice() -> None:
    desk = Desk()
    desk.version(version(1))
    desk.entry(entry("TE-1", week("2026-03-02")))
    desk.bill("2026-03")
    desk.version(version(2, effective="2026-03-04", roles={"consultant": "120.00"}))
    change = desk.exception(ExceptionType.RETROACTIVE_CHANGE)
    desk.approve(change.exception_id)
    assert desk.exception(ExceptionType.RETROACTIVE_CHANGE).state is ExceptionState.APPROVED
    desk.entry(entry("TE-2", {"2026-04-01": "1"}))
    invoice = desk.bill("2026-04")
    assert invoice is not None
    adjustments = [line for line in invoice.lines if line.kind == "adjustment"]
    assert [(line.ref, line.amount) for line in adjustments] == [(change.exception_id, D("480.00"))]
    assert invoice.subtotal == D("600.00")
    assert desk.bill("2026-05") is None


def test_higher_revision_of_an_unbilled_entry_replaces_its_lines() -> None:
    desk = Desk()
    desk.version(version(1))
    desk.entry(entry("TE-1", week("2026-03-30")))
    assert len(desk.lines()) == 2
    desk.entry(entry("TE-1", {"2026-03-31": "4"}, revision=2))
    assert [(line.revision, line.quantity, line.amount) for line in desk.lines()] == [(2, D("4"), D("400.00"))]


def test_lower_or_equal_revision_is_ignored() -> None:
    desk = Desk()
    desk.version(version(1))
    desk.entry(entry("TE-1", {"2026-03-02": "4"}, revision=2))
    before = desk.book
    assert desk.entry(entry("TE-1", {"2026-03-02": "8"}, revision=1)).changed is False
    assert desk.entry(entry("TE-1", {"2026-03-02": "8"}, revision=2)).changed is False
    assert desk.book == before


def test_revision_of_an_invoiced_entry_raises_invoiced_entry_changed() -> None:
    desk = Desk()
    desk.version(version(1))
    desk.entry(entry("TE-1", {"2026-03-02": "4"}))
    desk.bill("2026-03")
    invoiced = dict(desk.book.lines)
    desk.entry(entry("TE-1", {"2026-03-02": "6"}, revision=2))
    changed = desk.exception(ExceptionType.INVOICED_ENTRY_CHANGED)
    assert changed.refs == ("TE-1",)
    assert changed.amount == D("200.00")
    assert desk.book.lines == invoiced
    assert desk.bill("2026-03") is None


def test_approved_invoiced_entry_change_is_billed_as_an_adjustment() -> None:
    desk = Desk()
    desk.version(version(1))
    desk.entry(entry("TE-1", {"2026-03-02": "4"}))
    desk.bill("2026-03")
    desk.entry(entry("TE-1", {"2026-03-02": "6"}, revision=2))
    desk.approve(desk.exception(ExceptionType.INVOICED_ENTRY_CHANGED).exception_id)
    invoice = desk.bill("2026-03")
    assert invoice is not None
    assert invoice.proposal_id == "SOW-1-2026-03-2"
    assert [(line.kind, line.amount) for line in invoice.lines] == [("adjustment", D("200.00"))]


def test_rejection_of_an_unbilled_entry_removes_its_lines() -> None:
    desk = Desk()
    desk.version(version(1))
    desk.entry(entry("TE-1"))
    desk.reject_entry("TE-1", 2)
    assert desk.lines() == []
    assert desk.exceptions() == []
    assert desk.bill("2026-03") is None


def test_rejection_of_an_invoiced_entry_raises_invoiced_entry_changed() -> None:
    desk = Desk()
    desk.version(version(1))
    desk.entry(entry("TE-1"))
    desk.bill("2026-03")
    desk.reject_entry("TE-1", 2)
    changed = desk.exception(ExceptionType.INVOICED_ENTRY_CHANGED)
    assert changed.refs == ("TE-1",)
    assert changed.amount == D("-800.00")
    assert all(desk.billed(line) for line in desk.lines())


def test_amendment_through_the_hub_reports_rerated_lines() -> None:
    hub = CoreHub(
        {
            "tax_rates": [{"jurisdiction": "US-NY", "rate": "0.08875", "effective_from": "2020-01-01"}],
            "legal_entities": [{"legal_entity": "US01", "erp_instance": "erp-us"}],
        }
    )
    contract = {
        "contract_id": "SOW-9",
        "version": 1,
        "effective_date": "2026-01-01",
        "customer_id": "C",
        "legal_entity": "US01",
        "currency": "USD",
        "tax_jurisdiction": "US-NY",
        "start_date": "2026-01-01",
        "end_date": "2026-12-31",
        "rate_card": [{"role": "consultant", "rate": "150.00"}],
    }
    hub.deliver({"id": "c1", "source": "clm", "type": "contract.approved", "data": contract})
    hub.deliver(
        {
            "id": "t1",
            "source": "psa",
            "type": "time_entry.approved",
            "data": {
                "entry_id": "TE-4",
                "revision": 1,
                "contract_id": "SOW-9",
                "resource_id": "EMP-4",
                "role": "consultant",
                "billable": True,
                "work_date": "2026-03-10",
                "hours": "8",
            },
        }
    )
    amended = {
        **contract,
        "version": 2,
        "effective_date": "2026-03-01",
        "rate_card": [{"role": "consultant", "rate": "165.00"}],
    }
    hub.deliver({"id": "c2", "source": "clm", "type": "contract.amended", "data": amended})
    hub.bill("2026-03")
    report = hub.report()
    assert [
        (r["ref"], r["from_version"], r["to_version"], r["old_amount"], r["new_amount"]) for r in report["rerated"]
    ] == [("TE-4", 1, 2, "1200.00", "1320.00")]
    (invoice,) = report["invoices"]
    assert [(line["contract_version"], line["amount"]) for line in invoice["lines"]] == [(2, "1320.00")]
