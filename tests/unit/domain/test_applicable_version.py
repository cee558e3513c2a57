"""Which contract version applies: highest number whose effective date <= d."""

from __future__ import annotations

from billbridge.domain.model import ExceptionState, ExceptionType

from tests.unit.domain.builders import D, Desk, d, entry, timeline, version, week


def test_applicable_version_is_the_highest_number_effective_on_the_date() -> None:
    v1 = version(1, effective="2026-01-01")
    v2 = version(2, effective="2026-03-01")
    v3 = version(3, effective="2026-05-01")
    line = timeline(v1, v2, v3)
    assert line.applicable_on(d("2025-12-31")) is None
    assert line.applicable_on(d("2026-02-28")) == v1
    assert line.applicable_on(d("2026-03-01")) == v2
    assert line.applicable_on(d("2026-04-30")) == v2
    assert line.applicable_on(d("2026-05-01")) == v3


def test_retroactive_amendment_wins_from_its_date_on() -> None:
    v1 = version(1, effective="2026-01-01")
    v2 = version(2, effective="2026-05-01")
    v3 = version(3, effective="2026-03-01")  # retroactive: earlier date, higher number
    line = timeline(v1, v2, v3)
    assert line.applicable_on(d("2026-02-28")) == v1
    assert line.applicable_on(d("2026-03-01")) == v3
    assert line.applicable_on(d("2026-06-15")) == v3


def test_version_order_of_arrival_does_not_matter_for_the_timeline() -> None:
    versions = [version(1), version(2, effective="2026-04-01"), version(3, effective="2026-02-01")]
    assert timeline(*versions).applicable_on(d("2026-04-02")) == timeline(*reversed(versions)).applicable_on(
        d("2026-04-02")
    )


def test_retroactive_amendment_rates_unbilled_work_from_its_date() -> None:
    desk = Desk()
    desk.version(version(1))
    desk.version(version(2, effective="2026-06-01", roles={"consultant": "130.00"}))
    desk.version(version(3, effective="2026-03-04", roles={"consultant": "120.00"}))
    desk.entry(entry("TE-1", week("2026-03-02")))
    assert [(line.contract_version, line.quantity, line.amount) for line in desk.lines()] == [
        (1, D("16"), D("1600.00")),
        (3, D("24"), D("2880.00")),
    ]


def test_stale_version_is_acknowledged_audited_and_has_no_effect() -> None:
    desk = Desk()
    desk.version(version(1))
    desk.version(version(3, roles={"consultant": "150.00"}))
    before = desk.book
    update = desk.version(version(2, effective="2026-02-01", roles={"consultant": "1.00"}))
    assert update.changed is False
    assert update.book == before
    assert [record.action for record in update.audit] == ["version_ignored"]
    assert 2 not in desk.book.versions


def test_same_version_with_the_same_body_changes_nothing() -> None:
    desk = Desk()
    desk.version(version(1))
    before = desk.book
    update = desk.version(version(1))
    assert update.changed is False
    assert update.book == before


def test_same_version_with_a_different_body_raises_version_conflict() -> None:
    desk = Desk()
    desk.version(version(1))
    desk.entry(entry("TE-1"))
    desk.version(version(1, roles={"consultant": "999.00"}))
    conflict = desk.exception(ExceptionType.VERSION_CONFLICT)
    assert conflict.refs == ("1",)
    assert conflict.state is ExceptionState.OPEN
    assert desk.book.versions[1].rate_card[0].rate == D("100.00")
    assert [line.amount for line in desk.lines()] == [D("800.00")]


def test_work_outside_the_term_is_not_billable() -> None:
    desk = Desk()
    desk.version(version(start="2026-02-01", end="2026-03-31"))
    desk.entry(entry("TE-1", {"2026-01-31": "8"}))
    desk.entry(entry("TE-2", {"2026-04-01": "8"}))
    assert desk.lines() == []
    outside = desk.exceptions(ExceptionType.OUTSIDE_TERM)
    assert sorted(e.refs for e in outside) == [("TE-1",), ("TE-2",)]


def test_work_before_the_first_effective_date_is_outside_term() -> None:
    desk = Desk()
    desk.version(version(effective="2026-03-01", start="2026-01-01"))
    desk.entry(entry("TE-1", {"2026-02-27": "8"}))
    assert desk.lines() == []
    assert desk.exception(ExceptionType.OUTSIDE_TERM).refs == ("TE-1",)


def test_only_the_days_outside_the_term_are_held() -> None:
    desk = Desk()
    desk.version(version(end="2026-03-31"))
    desk.entry(entry("TE-1", week("2026-03-30")))
    assert [(line.quantity, line.line_date) for line in desk.lines()] == [(D("16"), d("2026-03-31"))]
    assert desk.exception(ExceptionType.OUTSIDE_TERM).amount == D("2400.00")


def test_termination_date_is_still_billable_and_the_day_after_is_not() -> None:
    desk = Desk()
    desk.version(version())
    desk.terminate("2026-03-10")
    desk.entry(entry("TE-1", {"2026-03-10": "8", "2026-03-11": "8"}))
    assert [(line.quantity, line.line_date) for line in desk.lines()] == [(D("8"), d("2026-03-10"))]
    assert desk.exception(ExceptionType.OUTSIDE_TERM).refs == ("TE-1",)


def test_termination_ends_every_version_including_later_amendments() -> None:
    desk = Desk()
    desk.version(version(1))
    desk.terminate("2026-03-10")
    desk.version(version(2, effective="2026-02-01", roles={"consultant": "110.00"}))
    desk.entry(entry("TE-1", {"2026-03-11": "8"}))
    assert desk.lines() == []
    assert desk.exception(ExceptionType.OUTSIDE_TERM).refs == ("TE-1",)


def test_termination_drops_unbilled_work_after_its_date() -> None:
    desk = Desk()
    desk.version(version())
    desk.entry(entry("TE-1", {"2026-03-20": "8"}))
    assert len(desk.lines()) == 1
    desk.terminate("2026-03-10")
    assert desk.lines() == []
    assert desk.exception(ExceptionType.OUTSIDE_TERM).refs == ("TE-1",)
