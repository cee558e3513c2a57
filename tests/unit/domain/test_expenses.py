"""Expenses: policy categories, markup, currency mismatch."""

from __future__ import annotations

from billbridge.domain.model import ExceptionState, ExceptionType

from tests.unit.domain.builders import D, Desk, expense, version


def test_billable_expense_in_a_policy_category_is_billed_with_markup() -> None:
    desk = Desk()
    desk.version(version(categories=["travel", "lodging"], markup="0.10"))
    desk.expense(expense("EX-1", "123.45", category="lodging"))
    (line,) = desk.lines("expense")
    assert line.amount == D("135.80")  # 123.45 x 1.10 = 135.795 -> 135.80
    invoice = desk.bill("2026-03")
    assert invoice is not None
    assert [(line.kind, line.ref, line.amount) for line in invoice.lines] == [("expense", "EX-1", D("135.80"))]


def test_expense_without_markup_bills_its_amount() -> None:
    desk = Desk()
    desk.version(version(categories=["travel"]))
    desk.expense(expense("EX-1", "250.00"))
    assert [line.amount for line in desk.lines("expense")] == [D("250.00")]


def test_expense_outside_the_policy_categories_is_recorded_without_line_or_exception() -> None:
    desk = Desk()
    desk.version(version(categories=["travel"]))
    desk.expense(expense("EX-1", category="meals"))
    assert "EX-1" in desk.book.expenses
    assert desk.lines("expense") == []
    assert desk.exceptions() == []


def test_non_billable_expense_is_recorded_without_line_or_exception() -> None:
    desk = Desk()
    desk.version(version(categories=["travel"]))
    desk.expense(expense("EX-1", billable=False))
    assert "EX-1" in desk.book.expenses
    assert desk.lines("expense") == []
    assert desk.exceptions() == []


def test_contract_without_expense_policy_bills_no_expense() -> None:
    desk = Desk()
    desk.version(version(categories=None))
    desk.expense(expense("EX-1"))
    assert desk.lines("expense") == []
    assert desk.exceptions() == []


def test_billable_expense_in_another_currency_raises_currency_mismatch() -> None:
    desk = Desk()
    desk.version(version(categories=["travel"]))
    desk.expense(expense("EX-1", "90.00", currency="EUR"))
    assert desk.lines("expense") == []
    mismatch = desk.exception(ExceptionType.CURRENCY_MISMATCH)
    assert mismatch.refs == ("EX-1",)
    assert mismatch.amount == D("90.00")
    assert desk.bill("2026-03") is None


def test_expense_outside_the_term_raises_outside_term() -> None:
    desk = Desk()
    desk.version(version(categories=["travel"], end="2026-02-28"))
    desk.expense(expense("EX-1", on="2026-03-10"))
    assert desk.lines("expense") == []
    assert desk.exception(ExceptionType.OUTSIDE_TERM).refs == ("EX-1",)


def test_expense_of_an_unknown_contract_is_rated_when_the_contract_arrives() -> None:
    desk = Desk()
    desk.expense(expense("EX-1"))
    assert desk.lines("expense") == []
    desk.version(version(categories=["travel"]))
    assert [line.amount for line in desk.lines("expense")] == [D("100.00")]


def test_expense_category_added_by_a_new_version_becomes_billable() -> None:
    desk = Desk()
    desk.version(version(categories=["travel"]))
    desk.expense(expense("EX-1", category="lodging"))
    desk.version(version(2, categories=["travel", "lodging"]))
    assert [line.ref for line in desk.lines("expense")] == ["EX-1"]


def test_same_expense_delivered_twice_changes_nothing() -> None:
    desk = Desk()
    desk.version(version(categories=["travel"]))
    desk.expense(expense("EX-1"))
    before = desk.book
    assert desk.expense(expense("EX-1")).changed is False
    assert desk.book == before


def test_currency_mismatch_resolves_when_the_expense_is_corrected() -> None:
    desk = Desk()
    desk.version(version(categories=["travel"]))
    desk.expense(expense("EX-1", currency="EUR"))
    desk.expense(expense("EX-1", currency="USD"))
    assert [line.ref for line in desk.lines("expense")] == ["EX-1"]
    assert desk.exception(ExceptionType.CURRENCY_MISMATCH).state is ExceptionState.RESOLVED


def test_expense_dated_after_the_period_waits_for_its_month() -> None:
    desk = Desk()
    desk.version(version(categories=["travel"]))
    desk.expense(expense("EX-1", on="2026-04-01"))
    assert desk.bill("2026-03") is None
    april = desk.bill("2026-04")
    assert april is not None
    assert [line.ref for line in april.lines] == ["EX-1"]
