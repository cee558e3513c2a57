"""Amendments re-rate unbilled expenses, milestones and held cap rests, one record per line."""

from __future__ import annotations

from tests.unit.domain.builders import D, Desk, completion, entry, expense, version


def test_unbilled_expense_is_rerated_at_the_new_markup() -> None:
    desk = Desk()
    desk.version(version(categories=("travel",), markup="0.10"))
    desk.expense(expense("EX-1", "200.00"))
    desk.version(version(number=2, effective="2026-03-01", categories=("travel",), markup="0.15"))
    assert [line.amount for line in desk.lines("expense")] == [D("230.00")]
    (record,) = desk.book.rerates
    assert (record.ref, record.from_version, record.to_version) == ("EX-1", 1, 2)
    assert (record.old_amount, record.new_amount) == (D("220.00"), D("230.00"))


def test_unbilled_milestone_is_rerated_at_the_new_amount() -> None:
    desk = Desk()
    desk.version(version(milestones={"M1": "5000.00"}))
    desk.complete(completion("M1"))
    desk.version(version(number=2, effective="2026-03-01", milestones={"M1": "5500.00"}))
    assert [line.amount for line in desk.lines("milestone")] == [D("5500.00")]
    (record,) = desk.book.rerates
    assert (record.ref, record.old_amount, record.new_amount) == ("M1", D("5000.00"), D("5500.00"))


def test_held_cap_rest_is_rerated_from_its_exact_amount_at_the_new_rate() -> None:
    desk = Desk()
    desk.version(version(cap="1000.00", roles={"consultant": "150.00"}))
    desk.entry(entry("TE-1", {"2026-03-02": "8"}))
    desk.bill("2026-03")
    desk.version(version(number=2, effective="2026-03-01", cap="5000.00", roles={"consultant": "165.00"}))
    (rest,) = desk.unbilled()
    assert rest.amount == D("220.00")  # 200.00 x 165 / 150
    (record,) = desk.book.rerates
    assert (record.ref, record.old_amount, record.new_amount) == ("TE-1", D("200.00"), D("220.00"))


def test_an_amendment_effective_after_the_lines_records_no_rerate() -> None:
    desk = Desk()
    desk.version(version(categories=("travel",), markup="0.10", milestones={"M1": "5000.00"}))
    desk.expense(expense("EX-1", "200.00", on="2026-03-10"))
    desk.complete(completion("M1", on="2026-03-15"))
    later = version(number=2, effective="2026-04-01", categories=("travel",), markup="0.50", milestones={"M1": "1.00"})
    desk.version(later)
    assert desk.book.rerates == ()
    assert [line.amount for line in desk.lines("expense")] == [D("220.00")]
