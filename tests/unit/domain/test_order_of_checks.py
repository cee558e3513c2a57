"""The order of checks for time entries, expenses and milestone completions."""

from __future__ import annotations

from billbridge.domain.model import ExceptionState, ExceptionType

from tests.unit.domain.builders import D, Desk, completion, entry, expense, version


def test_invalid_cost_center_holds_the_whole_entry_before_the_term_is_looked_at() -> None:
    desk = Desk()
    desk.version(version(cost_centers=("CC-1",), end="2026-03-31"))
    desk.entry(entry("TE-1", {"2026-03-31": "8", "2026-04-01": "8"}, cost_center="CC-9"))
    assert desk.lines() == []
    assert [e.type for e in desk.exceptions()] == [ExceptionType.INVALID_COST_CENTER]
    assert desk.exception(ExceptionType.INVALID_COST_CENTER).amount == D("1600.00")


def test_days_outside_the_term_are_checked_before_the_rate() -> None:
    desk = Desk()
    desk.version(version(roles={"designer": "90.00"}, end="2026-03-31"))
    desk.entry(entry("TE-1", {"2026-03-31": "8", "2026-04-01": "2"}, role="consultant"))
    assert desk.lines() == []
    outside = desk.exception(ExceptionType.OUTSIDE_TERM)
    no_rate = desk.exception(ExceptionType.NO_RATE)
    assert "2026-04-01" in outside.detail and "2026-03-31" not in outside.detail
    assert "2026-03-31" in no_rate.detail and "2026-04-01" not in no_rate.detail


def test_an_entry_has_at_most_one_open_exception_of_each_type() -> None:
    desk = Desk()
    desk.version(version(number=1, roles={"designer": "90.00"}, end="2026-04-30"))
    desk.version(version(number=2, effective="2026-04-01", roles={"designer": "95.00"}, end="2026-04-30"))
    desk.entry(entry("TE-1", {"2026-03-31": "8", "2026-04-01": "8", "2026-05-04": "2"}, role="consultant"))
    types = sorted(e.type.value for e in desk.exceptions(state=ExceptionState.OPEN))
    assert types == ["no_rate", "outside_term"]


def test_non_billable_expense_raises_nothing_whatever_its_date() -> None:
    desk = Desk()
    desk.version(version(categories=("travel",), end="2026-03-31"))
    desk.expense(expense("EX-1", on="2026-05-10", category="meals"))
    desk.expense(expense("EX-2", on="2026-05-10", billable=False))
    desk.expense(expense("EX-3", on="2025-12-10", category="meals", currency="EUR"))
    assert desk.lines("expense") == []
    assert desk.exceptions() == []


def test_expense_without_a_policy_raises_nothing_outside_the_term() -> None:
    desk = Desk()
    desk.version(version(end="2026-03-31"))
    desk.expense(expense("EX-1", on="2026-06-01"))
    assert desk.exceptions() == []


def test_billable_expense_outside_the_term_is_checked_before_its_currency() -> None:
    desk = Desk()
    desk.version(version(categories=("travel",), end="2026-03-31"))
    desk.expense(expense("EX-1", "610.00", on="2026-04-02", currency="EUR"))
    held = desk.exception(ExceptionType.OUTSIDE_TERM)
    assert (held.amount, held.currency) == (D("610.00"), "EUR")
    assert desk.exceptions(ExceptionType.CURRENCY_MISMATCH) == []


def test_currency_mismatch_carries_the_expense_currency() -> None:
    desk = Desk()
    desk.version(version(categories=("travel",)))
    desk.expense(expense("EX-502", "610.00", currency="EUR"))
    mismatch = desk.exception(ExceptionType.CURRENCY_MISMATCH)
    assert (mismatch.amount, mismatch.currency) == (D("610.00"), "EUR")


def test_unknown_milestone_is_checked_before_the_term() -> None:
    desk = Desk()
    desk.version(version(milestones={"M1": "5000.00"}, end="2026-03-31"))
    desk.complete(completion("M9", on="2026-04-15"))
    assert [e.type for e in desk.exceptions()] == [ExceptionType.UNKNOWN_MILESTONE]
    assert desk.exception(ExceptionType.UNKNOWN_MILESTONE).refs == ("M9",)


def test_known_milestone_completed_outside_the_term_raises_outside_term_with_its_id() -> None:
    desk = Desk()
    desk.version(version(milestones={"M1": "5000.00"}, end="2026-03-31"))
    desk.complete(completion("M1", on="2026-04-15"))
    held = desk.exception(ExceptionType.OUTSIDE_TERM)
    assert held.refs == ("M1",)
    assert held.amount == D("5000.00")
    assert desk.lines("milestone") == []
