"""Not-to-exceed cap on invoiced time."""

from __future__ import annotations

from decimal import Decimal

from billbridge.domain.model import ExceptionState, ExceptionType

from tests.unit.domain.builders import D, Desk, completion, entry, expense, fee, version


def invoiced_time(desk: Desk) -> Decimal:
    return sum((line.amount for line in desk.lines() if desk.billed(line)), Decimal(0))


def capped_desk(cap: str = "1000.00", rate: str = "100.00") -> Desk:
    desk = Desk()
    desk.version(version(cap=cap, roles={"consultant": rate}))
    return desk


def test_crossing_line_is_split_at_the_remaining_cap() -> None:
    desk = capped_desk()
    desk.entry(entry("TE-1", {"2026-03-02": "7"}))
    desk.entry(entry("TE-2", {"2026-03-03": "3.33"}))
    invoice = desk.bill("2026-03")
    assert invoice is not None
    assert [(line.ref, line.quantity, line.amount) for line in invoice.lines] == [
        ("TE-1", D("7"), D("700.00")),
        ("TE-2", D("3.00"), D("300.00")),
    ]
    held = desk.unbilled()
    assert [(line.ref, line.quantity, line.amount) for line in held] == [("TE-2", D("0.33"), D("33.00"))]


def test_split_part_bills_the_remaining_cap_exactly_with_quantity_rounded_to_hundredths() -> None:
    desk = capped_desk(cap="250.00", rate="150.00")
    desk.entry(entry("TE-1", {"2026-03-02": "8"}))
    invoice = desk.bill("2026-03")
    assert invoice is not None
    (line,) = invoice.lines
    assert line.amount == D("250.00")
    assert line.quantity == D("1.67")  # round(250 / 150, 2)
    (rest,) = desk.unbilled()
    assert rest.amount == D("950.00")
    assert rest.quantity + line.quantity == D("8")


def test_candidates_are_taken_in_order_of_first_date_entry_id_and_split_position() -> None:
    desk = capped_desk(cap="1000.00")
    desk.entry(entry("TE-B", {"2026-03-02": "5"}))
    desk.entry(entry("TE-A", {"2026-03-02": "5"}))
    desk.entry(entry("TE-0", {"2026-03-05": "5"}))
    invoice = desk.bill("2026-03")
    assert invoice is not None
    assert [line.ref for line in invoice.lines] == ["TE-A", "TE-B"]
    assert [line.ref for line in desk.unbilled()] == ["TE-0"]


def test_every_line_after_the_crossing_line_is_held_even_if_it_would_fit() -> None:
    desk = capped_desk(cap="1000.00")
    desk.entry(entry("TE-1", {"2026-03-02": "9"}))
    desk.entry(entry("TE-2", {"2026-03-03": "8"}))
    desk.entry(entry("TE-3", {"2026-03-04": "0.5"}))
    desk.bill("2026-03")
    assert invoiced_time(desk) == D("1000.00")
    assert sorted(line.ref for line in desk.unbilled()) == ["TE-2", "TE-3"]


def test_held_amount_is_one_open_cap_exceeded_per_contract_with_the_lines_and_total() -> None:
    desk = capped_desk()
    desk.entry(entry("TE-1", {"2026-03-02": "12"}))
    desk.entry(entry("TE-2", {"2026-03-03": "5"}))
    desk.bill("2026-03")
    exceeded = desk.exception(ExceptionType.CAP_EXCEEDED)
    assert exceeded.state is ExceptionState.OPEN
    assert set(exceeded.refs) == {"TE-1", "TE-2"}
    assert exceeded.amount == D("700.00")
    assert set(exceeded.line_ids) == {line.line_id for line in desk.unbilled()}


def test_later_run_updates_the_open_cap_exceeded_instead_of_raising_another() -> None:
    desk = capped_desk()
    desk.entry(entry("TE-1", {"2026-03-02": "12"}))
    desk.bill("2026-03")
    desk.entry(entry("TE-2", {"2026-04-01": "1"}))
    assert desk.bill("2026-04") is None
    exceeded = desk.exception(ExceptionType.CAP_EXCEEDED)
    assert exceeded.amount == D("300.00")
    assert set(exceeded.refs) == {"TE-1", "TE-2"}


def test_cap_does_not_limit_expenses_milestones_or_fees() -> None:
    desk = Desk()
    desk.version(
        version(cap="100.00", categories=["travel"], milestones={"M1": "5000.00"}, fees=[fee("F1", "2000.00")])
    )
    desk.expense(expense("EX-1", "300.00"))
    desk.complete(completion("M1"))
    desk.entry(entry("TE-1", {"2026-03-02": "2"}))
    invoice = desk.bill("2026-03")
    assert invoice is not None
    assert sorted((line.kind, line.amount) for line in invoice.lines) == [
        ("expense", D("300.00")),
        ("fee", D("2000.00")),
        ("milestone", D("5000.00")),
        ("time", D("100.00")),
    ]


def test_cap_in_force_is_the_latest_versions_whatever_its_effective_date() -> None:
    desk = capped_desk(cap="1000.00")
    desk.version(version(2, effective="2026-12-01", cap="500.00"))
    desk.entry(entry("TE-1", {"2026-03-02": "8"}))
    desk.bill("2026-03")
    assert invoiced_time(desk) == D("500.00")


def test_later_version_raising_the_cap_releases_held_lines_in_the_next_run() -> None:
    desk = capped_desk()
    desk.entry(entry("TE-1", {"2026-03-02": "7"}))
    desk.entry(entry("TE-2", {"2026-03-03": "5"}))
    desk.bill("2026-03")
    desk.version(version(2, effective="2026-04-01", cap="2000.00"))
    invoice = desk.bill("2026-04")
    assert invoice is not None
    assert [(line.ref, line.quantity, line.amount) for line in invoice.lines] == [("TE-2", D("2.00"), D("200.00"))]
    assert desk.unbilled() == []
    assert desk.exception(ExceptionType.CAP_EXCEEDED).state is ExceptionState.RESOLVED
    assert invoiced_time(desk) == D("1200.00")


def test_partial_cap_raise_releases_up_to_the_new_cap_and_keeps_the_same_exception_open() -> None:
    desk = capped_desk()
    desk.entry(entry("TE-1", {"2026-03-02": "12"}))
    desk.bill("2026-03")
    first = desk.exception(ExceptionType.CAP_EXCEEDED)
    desk.version(version(2, effective="2026-04-01", cap="1050.00"))
    desk.bill("2026-04")
    assert invoiced_time(desk) == D("1050.00")
    again = desk.exception(ExceptionType.CAP_EXCEEDED)
    assert again.exception_id == first.exception_id
    assert again.state is ExceptionState.OPEN
    assert again.amount == D("150.00")


def test_approving_cap_exceeded_releases_the_held_lines() -> None:
    desk = capped_desk()
    desk.entry(entry("TE-1", {"2026-03-02": "12"}))
    desk.bill("2026-03")
    desk.approve(desk.exception(ExceptionType.CAP_EXCEEDED).exception_id)
    invoice = desk.bill("2026-03")
    assert invoice is not None
    assert [(line.quantity, line.amount) for line in invoice.lines] == [(D("2.00"), D("200.00"))]
    assert desk.exception(ExceptionType.CAP_EXCEEDED).state is ExceptionState.APPROVED


def test_writing_off_cap_exceeded_drops_the_held_lines() -> None:
    desk = capped_desk()
    desk.entry(entry("TE-1", {"2026-03-02": "12"}))
    desk.entry(entry("TE-2", {"2026-03-03": "4"}))
    desk.bill("2026-03")
    desk.write_off(desk.exception(ExceptionType.CAP_EXCEEDED).exception_id)
    assert desk.unbilled() == []
    assert desk.exception(ExceptionType.CAP_EXCEEDED).state is ExceptionState.WRITTEN_OFF
    assert desk.bill("2026-04") is None


def test_written_off_cap_lines_stay_dropped_when_a_later_version_raises_the_cap() -> None:
    desk = capped_desk()
    desk.entry(entry("TE-1", {"2026-03-02": "12"}))
    desk.entry(entry("TE-2", {"2026-03-03": "4"}))
    desk.bill("2026-03")
    desk.write_off(desk.exception(ExceptionType.CAP_EXCEEDED).exception_id)
    desk.version(version(2, effective="2026-04-01", cap="5000.00"))
    assert desk.unbilled() == []
    assert desk.bill("2026-04") is None
    assert invoiced_time(desk) == D("1000.00")


def test_rerun_with_held_lines_and_nothing_new_changes_nothing() -> None:
    desk = capped_desk()
    desk.entry(entry("TE-1", {"2026-03-02": "12"}))
    desk.bill("2026-03")
    before = desk.book
    outcome = desk.bill_outcome("2026-03")
    assert outcome.invoice is None
    assert outcome.update.changed is False
    assert desk.book == before
