"""A held entry is evaluated again when a revision of it arrives."""

from __future__ import annotations

from billbridge.domain.model import ExceptionState, ExceptionType

from tests.unit.domain.builders import D, Desk, entry, expense, version


def test_revision_that_now_rates_resolves_the_exception_and_bills() -> None:
    desk = Desk()
    desk.version(version(cost_centers=("CC-1",)))
    desk.entry(entry("TE-1", cost_center="CC-9"))
    desk.entry(entry("TE-1", cost_center="CC-1", revision=2))
    assert desk.exception(ExceptionType.INVALID_COST_CENTER).state is ExceptionState.RESOLVED
    assert [line.amount for line in desk.lines()] == [D("800.00")]


def test_revision_still_failing_the_same_check_updates_the_open_exception() -> None:
    desk = Desk()
    desk.version(version(end="2026-03-31"))
    desk.entry(entry("TE-1", {"2026-04-01": "8"}))
    desk.entry(entry("TE-1", {"2026-04-01": "4", "2026-04-02": "2"}, revision=2))
    held = desk.exception(ExceptionType.OUTSIDE_TERM)
    assert held.state is ExceptionState.OPEN
    assert held.amount == D("600.00")
    assert "2026-04-02" in held.detail


def test_expense_revision_into_the_term_resolves_its_outside_term() -> None:
    desk = Desk()
    desk.version(version(categories=("travel",), end="2026-03-31"))
    desk.expense(expense("EX-1", on="2026-04-03"))
    desk.expense(expense("EX-1", on="2026-03-30"))
    assert desk.exception(ExceptionType.OUTSIDE_TERM).state is ExceptionState.RESOLVED
    assert [line.amount for line in desk.lines("expense")] == [D("100.00")]
