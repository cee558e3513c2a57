"""A termination over invoiced days raises one `retroactive_change` with a negative delta."""

from __future__ import annotations

from billbridge.domain.model import ExceptionState, ExceptionType

from tests.unit.domain.builders import D, Desk, entry, fee, version


def test_invoiced_days_after_the_termination_date_are_credited() -> None:
    desk = Desk()
    desk.version(version(roles={"consultant": "96.75"}))
    desk.entry(entry("TE-6102", {"2026-06-24": "4"}))
    desk.entry(entry("TE-6103", {"2026-06-29": "8"}))
    assert desk.bill("2026-06") is not None
    desk.terminate("2026-06-24")
    change = desk.exception(ExceptionType.RETROACTIVE_CHANGE)
    assert change.refs == ("TE-6103",)
    assert change.amount == D("-774.00")
    assert change.state is ExceptionState.OPEN
    assert desk.exceptions(ExceptionType.OUTSIDE_TERM) == []


def test_only_the_days_of_a_line_after_the_date_are_credited() -> None:
    desk = Desk()
    desk.version(version())
    desk.entry(entry("TE-1", {"2026-06-23": "8", "2026-06-24": "8", "2026-06-25": "5"}))
    desk.bill("2026-06")
    desk.terminate("2026-06-24")
    assert desk.exception(ExceptionType.RETROACTIVE_CHANGE).amount == D("-500.00")


def test_fee_days_after_the_date_are_credited_at_the_daily_share() -> None:
    desk = Desk()
    desk.version(version(fees=[fee("F1", "3000.00")]))
    desk.bill("2026-06")
    desk.terminate("2026-06-24")
    assert desk.exception(ExceptionType.RETROACTIVE_CHANGE).amount == D("-600.00")  # 6 of 30 days


def test_approving_the_credit_puts_a_negative_adjustment_on_the_next_invoice() -> None:
    desk = Desk()
    desk.version(version())
    desk.entry(entry("TE-1", {"2026-06-29": "8"}))
    desk.entry(entry("TE-2", {"2026-06-22": "2"}))
    desk.bill("2026-06")
    desk.terminate("2026-06-24")
    desk.approve(desk.exception(ExceptionType.RETROACTIVE_CHANGE).exception_id)
    desk.entry(entry("TE-3", {"2026-06-23": "1"}))
    invoice = desk.bill("2026-06")
    assert invoice is not None
    assert [(line.kind, line.amount) for line in invoice.lines] == [("time", D("100.00")), ("adjustment", D("-800.00"))]


def test_termination_with_nothing_invoiced_after_it_raises_nothing() -> None:
    desk = Desk()
    desk.version(version())
    desk.entry(entry("TE-1", {"2026-06-22": "8"}))
    desk.bill("2026-06")
    desk.terminate("2026-06-24")
    assert desk.exceptions(ExceptionType.RETROACTIVE_CHANGE) == []


def test_an_earlier_termination_supersedes_the_open_credit_of_a_later_one() -> None:
    desk = Desk()
    desk.version(version())
    desk.entry(entry("TE-1", {"2026-06-29": "8"}))
    desk.entry(entry("TE-2", {"2026-06-22": "2"}))
    desk.bill("2026-06")
    desk.terminate("2026-06-24", number=8)
    desk.terminate("2026-06-15", number=9)
    states = {e.exception_id.rsplit(":", 1)[1]: (e.state, e.amount) for e in desk.exceptions()}
    assert states == {
        "termination-v8": (ExceptionState.WITHDRAWN, D("-800.00")),
        "termination-v9": (ExceptionState.OPEN, D("-1000.00")),
    }
