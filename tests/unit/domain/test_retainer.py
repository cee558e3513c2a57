"""Retainer: a prepaid balance offsetting time and expense charges."""

from __future__ import annotations

from tests.unit.domain.builders import D, Desk, completion, entry, expense, fee, version


def retainer_amounts(desk: Desk, period: str) -> list[D]:
    invoice = desk.bill(period)
    assert invoice is not None
    return [line.amount for line in invoice.lines if line.kind == "retainer"]


def test_retainer_offsets_time_and_expense_charges() -> None:
    desk = Desk()
    desk.version(version(retainer="1000.00", categories=["travel"]))
    desk.entry(entry("TE-1", {"2026-03-02": "6"}))
    desk.expense(expense("EX-1", "100.00"))
    assert retainer_amounts(desk, "2026-03") == [D("-700.00")]


def test_retainer_does_not_offset_fees_or_milestones() -> None:
    desk = Desk()
    desk.version(version(retainer="10000.00", fees=[fee("F1", "500.00")], milestones={"M1": "5000.00"}))
    desk.complete(completion("M1"))
    desk.entry(entry("TE-1", {"2026-03-02": "1"}))
    invoice = desk.bill("2026-03")
    assert invoice is not None
    assert [line.amount for line in invoice.lines if line.kind == "retainer"] == [D("-100.00")]
    assert invoice.subtotal == D("5500.00")


def test_retainer_balance_never_goes_below_zero() -> None:
    desk = Desk()
    desk.version(version(retainer="1000.00"))
    desk.entry(entry("TE-1", {"2026-03-02": "6"}))
    assert retainer_amounts(desk, "2026-03") == [D("-600.00")]
    desk.entry(entry("TE-2", {"2026-04-01": "6"}))
    assert retainer_amounts(desk, "2026-04") == [D("-400.00")]
    desk.entry(entry("TE-3", {"2026-05-01": "6"}))
    assert retainer_amounts(desk, "2026-05") == []
    used = sum((line.amount for line in desk.lines("retainer")), D(0))
    assert used == D("-1000.00")


def test_invoice_with_only_fees_gets_no_retainer_line() -> None:
    desk = Desk()
    desk.version(version(retainer="1000.00", fees=[fee("F1", "500.00")]))
    assert retainer_amounts(desk, "2026-03") == []


def test_rejected_invoice_gives_its_retainer_drawdown_back() -> None:
    desk = Desk()
    desk.version(version(retainer="1000.00"))
    desk.entry(entry("TE-1", {"2026-03-02": "6"}))
    first = desk.bill("2026-03")
    assert first is not None
    desk.rejected(first.proposal_id)
    assert retainer_amounts(desk, "2026-03") == [D("-600.00")]
