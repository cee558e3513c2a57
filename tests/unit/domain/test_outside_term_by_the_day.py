"""`outside_term` is decided per day: days in the term bill, the others are held."""

from __future__ import annotations

from billbridge.domain.model import ExceptionState, ExceptionType

from tests.unit.domain.builders import D, Desk, entry, version


def test_days_in_the_term_bill_and_days_outside_are_held_at_the_rate_that_would_apply() -> None:
    desk = Desk()
    desk.version(version(roles={"consultant": "96.75"}))
    desk.terminate("2026-06-24")
    desk.entry(entry("TE-1", {"2026-06-23": "7.5", "2026-06-24": "6", "2026-06-25": "7.5", "2026-06-26": "6.25"}))
    (line,) = desk.lines()
    assert (line.quantity, line.amount) == (D("13.5"), D("1306.13"))
    held = desk.exception(ExceptionType.OUTSIDE_TERM)
    assert held.amount == D("1330.31")  # 13.75 h x 96.75
    assert held.refs == ("TE-1",)


def test_days_before_any_version_are_held_at_zero() -> None:
    desk = Desk()
    desk.version(version(effective="2026-03-01", start="2026-03-01"))
    desk.entry(entry("TE-1", {"2026-02-27": "8", "2026-03-02": "8"}, bill_rate="120.00"))
    assert [line.quantity for line in desk.lines()] == [D("8")]
    assert desk.exception(ExceptionType.OUTSIDE_TERM).amount == D("0")


def test_a_version_that_brings_the_held_days_into_the_term_releases_them_and_resolves() -> None:
    desk = Desk()
    desk.version(version(end="2026-03-31"))
    desk.entry(entry("TE-1", {"2026-03-31": "8", "2026-04-01": "4"}))
    assert desk.bill("2026-03") is not None
    desk.version(version(number=2, effective="2026-01-01", end="2026-06-30"))
    assert desk.exception(ExceptionType.OUTSIDE_TERM).state is ExceptionState.RESOLVED
    invoice = desk.bill("2026-04")
    assert invoice is not None
    assert [(line.ref, line.quantity, line.amount) for line in invoice.lines] == [("TE-1", D("4"), D("400.00"))]


def test_days_without_a_rate_are_held_per_day_and_released_after_the_rest_was_invoiced() -> None:
    desk = Desk()
    desk.version(version(roles={"consultant": "100.00"}))
    desk.version(version(number=2, effective="2026-03-04", roles={"architect": "150.00"}))
    desk.entry(entry("TE-1", {"2026-03-02": "8", "2026-03-03": "8", "2026-03-04": "4"}))
    held = desk.exception(ExceptionType.NO_RATE)
    assert "2026-03-04" in held.detail and held.state is ExceptionState.OPEN
    first = desk.bill("2026-03")
    assert first is not None and first.subtotal == D("1600.00")
    desk.version(version(number=3, effective="2026-03-04", roles={"consultant": "110.00"}))
    assert desk.exception(ExceptionType.NO_RATE).state is ExceptionState.RESOLVED
    second = desk.bill("2026-03")
    assert second is not None
    assert [(line.ref, line.quantity, line.amount, line.contract_version) for line in second.lines] == [
        ("TE-1", D("4"), D("440.00"), 3)
    ]
