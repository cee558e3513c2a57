"""Each line says what it is on the line itself, for a finance reader."""

from __future__ import annotations

from tests.unit.domain.builders import Desk, completion, entry, expense, fee, version


def test_a_prorated_fee_line_names_its_days_proration_and_version() -> None:
    desk = Desk()
    desk.version(version(fees=[fee("F1", "9300.00")]))
    desk.version(version(number=2, effective="2026-03-15", fees=[fee("F1", "9300.00")]))
    invoice = desk.bill("2026-03")
    assert invoice is not None
    descriptions = [line.description for line in invoice.lines if line.kind == "fee"]
    assert descriptions == [
        "Fee F1, 2026-03: 14 of 31 days (2026-03-01..2026-03-14): 9300.00 USD a month x 14/31 (prorated), "
        "contract version 1",
        "Fee F1, 2026-03: 17 of 31 days (2026-03-15..2026-03-31): 9300.00 USD a month x 17/31 (prorated), "
        "contract version 2",
    ]


def test_a_full_month_fee_line_says_so() -> None:
    desk = Desk()
    desk.version(version(fees=[fee("F1", "3100.00")]))
    invoice = desk.bill("2026-03")
    assert invoice is not None
    (line,) = invoice.lines
    assert line.description == (
        "Fee F1, 2026-03: full month, 31 days (2026-03-01..2026-03-31): 3100.00 USD a month, contract version 1"
    )


def test_time_expense_and_milestone_lines_name_rate_currency_and_version() -> None:
    desk = Desk()
    desk.version(version(categories=("travel",), markup="0.10", milestones={"M1": "5000.00"}))
    desk.entry(entry("TE-1", {"2026-03-02": "8"}, resource_id="EMP-1"))
    desk.expense(expense("EX-1", "200.00"))
    desk.complete(completion("M1"))
    (time,) = desk.lines("time")
    (cost,) = desk.lines("expense")
    (milestone,) = desk.lines("milestone")
    assert (
        time.description == "Time: consultant EMP-1, 8 h on 2026-03-02..2026-03-02 at 100.00 USD/h (contract version 1)"
    )
    assert cost.description == "Expense: travel on 2026-03-10, 200.00 USD + markup 0.10 (contract version 1)"
    assert milestone.description == "Milestone M1 Milestone M1 (contract version 1)"


def test_cap_split_parts_say_which_part_they_are() -> None:
    desk = Desk()
    desk.version(version(cap="250.00", roles={"consultant": "150.00"}))
    desk.entry(entry("TE-1", {"2026-03-02": "8"}))
    invoice = desk.bill("2026-03")
    assert invoice is not None
    assert invoice.lines[0].description.endswith("billed up to the not-to-exceed cap: 1.67 of 8 h")
    (rest,) = desk.unbilled()
    assert rest.description.endswith("held past the not-to-exceed cap: 6.33 of 8 h")
