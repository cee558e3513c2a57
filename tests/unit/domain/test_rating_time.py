"""Rating time and materials: rates, holds, splits, pending and re-rating."""

from __future__ import annotations

from dataclasses import replace

from billbridge.domain.model import ExceptionState, ExceptionType
from billbridge.domain.rating import rate_time_entry

from tests.unit.domain.builders import D, Desk, d, entry, timeline, version, week


def test_non_billable_entry_is_recorded_without_line_or_exception() -> None:
    desk = Desk()
    desk.version(version())
    update = desk.entry(entry("TE-1", billable=False))
    assert update.changed is True
    assert "TE-1" in desk.book.entries
    assert desk.lines() == []
    assert desk.exceptions() == []
    assert desk.bill("2026-03") is None


def test_resource_rate_beats_role_rate() -> None:
    v1 = version(roles={"consultant": "100.00"}, resources={"R-7": "140.00"})
    result = rate_time_entry(entry("TE-1", resource_id="R-7", role="consultant"), timeline(v1))
    (line,) = result.lines
    assert line.rate == D("140.00")
    assert line.amount == D("1120.00")
    assert line.rate_rule == "rate_card[resource_id=R-7]"


def test_resource_rate_beats_role_rate_whatever_the_rate_card_order() -> None:
    v1 = version(roles={"consultant": "100.00"}, resources={"R-7": "140.00"})
    reordered = replace(v1, rate_card=v1.rate_card[::-1])
    assert reordered.rate_card[0].role == "consultant"
    line = rate_time_entry(entry("TE-1", resource_id="R-7"), timeline(reordered)).lines[0]
    assert line.rate == D("140.00")


def test_role_rate_applies_to_a_resource_without_its_own_line() -> None:
    v1 = version(roles={"consultant": "100.00"}, resources={"R-7": "140.00"})
    line = rate_time_entry(entry("TE-1", resource_id="R-8"), timeline(v1)).lines[0]
    assert line.rate == D("100.00")
    assert line.rate_rule == "rate_card[role=consultant]"


def test_no_matching_rate_raises_no_rate_and_bills_nothing() -> None:
    desk = Desk()
    desk.version(version())
    desk.entry(entry("TE-1", role="architect"))
    assert desk.lines() == []
    no_rate = desk.exception(ExceptionType.NO_RATE)
    assert no_rate.refs == ("TE-1",)
    assert no_rate.state is ExceptionState.OPEN


def test_cost_center_outside_the_contract_list_raises_invalid_cost_center() -> None:
    desk = Desk()
    desk.version(version(cost_centers=["CC-1", "CC-2"]))
    desk.entry(entry("TE-1", cost_center="CC-9"))
    desk.entry(entry("TE-2", {"2026-03-03": "8"}, cost_center="CC-2"))
    assert [line.ref for line in desk.lines()] == ["TE-2"]
    invalid = desk.exception(ExceptionType.INVALID_COST_CENTER)
    assert invalid.refs == ("TE-1",)
    assert invalid.amount == D("800.00")


def test_empty_cost_center_list_accepts_any_cost_center() -> None:
    desk = Desk()
    desk.version(version(cost_centers=[]))
    desk.entry(entry("TE-1", cost_center="anything"))
    assert len(desk.lines()) == 1
    assert desk.exceptions() == []


def test_psa_rate_mismatch_is_billed_at_the_contract_rate_with_the_difference() -> None:
    desk = Desk()
    desk.version(version(roles={"consultant": "100.00"}))
    desk.entry(entry("TE-1", {"2026-03-02": "7.5"}, bill_rate="95.00"))
    (line,) = desk.lines()
    assert (line.rate, line.amount) == (D("100.00"), D("750.00"))
    mismatch = desk.exception(ExceptionType.RATE_MISMATCH)
    assert mismatch.refs == ("TE-1",)
    assert mismatch.amount == D("37.50")  # |7.5 x 100.00 - 7.5 x 95.00|, whichever rate is higher
    assert "95.00" in mismatch.detail and "100.00" in mismatch.detail


def test_psa_rate_equal_to_the_contract_rate_raises_nothing() -> None:
    desk = Desk()
    desk.version(version())
    desk.entry(entry("TE-1", bill_rate="100.00"))
    assert desk.exceptions() == []
    assert desk.bill("2026-03") is not None


def test_rate_mismatch_is_informational_and_the_line_is_invoiced() -> None:
    desk = Desk()
    desk.version(version())
    desk.entry(entry("TE-1", bill_rate="90.00"))
    invoice = desk.bill("2026-03")
    assert invoice is not None
    assert invoice.subtotal == D("800.00")


def test_entry_is_split_by_effective_date() -> None:
    v1 = version(1)
    v2 = version(2, effective="2026-03-04", roles={"consultant": "120.00"})
    lines = rate_time_entry(entry("TE-1", week("2026-03-02")), timeline(v1, v2)).lines
    assert [(line.contract_version, line.quantity, line.rate, line.amount, line.line_date) for line in lines] == [
        (1, D("16"), D("100.00"), D("1600.00"), d("2026-03-03")),
        (2, D("24"), D("120.00"), D("2880.00"), d("2026-03-06")),
    ]


def test_weekly_entry_straddling_a_month_end_gives_two_lines_each_billed_in_its_month() -> None:
    desk = Desk()
    desk.version(version())
    desk.entry(entry("TE-1", week("2026-03-30")))  # Mon 30 Mar .. Fri 3 Apr
    assert [(line.quantity, line.line_date) for line in desk.lines()] == [
        (D("16"), d("2026-03-31")),
        (D("24"), d("2026-04-03")),
    ]
    march = desk.bill("2026-03")
    assert march is not None
    assert [(line.ref, line.quantity, line.amount) for line in march.lines] == [("TE-1", D("16"), D("1600.00"))]
    april = desk.bill("2026-04")
    assert april is not None
    assert [(line.ref, line.quantity, line.amount) for line in april.lines] == [("TE-1", D("24"), D("2400.00"))]


def test_split_by_version_and_month_together_gives_one_line_per_group() -> None:
    v1 = version(1)
    v2 = version(2, effective="2026-04-02", roles={"consultant": "120.00"})
    lines = rate_time_entry(entry("TE-1", week("2026-03-30")), timeline(v1, v2)).lines
    assert [(line.contract_version, line.quantity, line.line_date) for line in lines] == [
        (1, D("16"), d("2026-03-31")),
        (1, D("8"), d("2026-04-01")),
        (2, D("16"), d("2026-04-03")),
    ]
    assert len({line.line_id for line in lines}) == 3


def test_entry_of_an_unknown_contract_is_pending_until_the_contract_arrives() -> None:
    desk = Desk()
    update = desk.entry(entry("TE-1"))
    assert update.changed is True
    assert "TE-1" in desk.book.entries
    assert desk.lines() == []
    assert desk.exceptions() == []
    assert "entry_pending" in [record.action for record in update.audit]
    desk.version(version())
    assert [line.amount for line in desk.lines()] == [D("800.00")]


def test_no_rate_entry_is_rated_again_on_a_new_version_and_its_exception_resolved() -> None:
    desk = Desk()
    desk.version(version())
    desk.entry(entry("TE-1", role="architect"))
    desk.version(version(2, roles={"consultant": "100.00", "architect": "150.00"}))
    assert [line.amount for line in desk.lines()] == [D("1200.00")]
    assert desk.exception(ExceptionType.NO_RATE).state is ExceptionState.RESOLVED


def test_invalid_cost_center_entry_is_rated_again_on_a_new_version() -> None:
    desk = Desk()
    desk.version(version(cost_centers=["CC-1"]))
    desk.entry(entry("TE-1", cost_center="CC-2"))
    desk.version(version(2, cost_centers=["CC-1", "CC-2"]))
    assert [line.amount for line in desk.lines()] == [D("800.00")]
    assert desk.exception(ExceptionType.INVALID_COST_CENTER).state is ExceptionState.RESOLVED


def test_outside_term_entry_is_rated_again_when_a_version_extends_the_term() -> None:
    desk = Desk()
    desk.version(version(end="2026-03-31"))
    desk.entry(entry("TE-1", {"2026-04-02": "8"}))
    desk.version(version(2, end="2026-06-30"))
    assert [line.amount for line in desk.lines()] == [D("800.00")]
    assert desk.exception(ExceptionType.OUTSIDE_TERM).state is ExceptionState.RESOLVED


def test_held_entry_that_still_does_not_rate_stays_open() -> None:
    desk = Desk()
    desk.version(version())
    desk.entry(entry("TE-1", role="architect"))
    desk.version(version(2, roles={"consultant": "110.00"}))
    assert desk.lines() == []
    assert desk.exception(ExceptionType.NO_RATE).state is ExceptionState.OPEN


def test_rating_is_deterministic() -> None:
    line = timeline(version(1), version(2, effective="2026-03-04", roles={"consultant": "120.00"}))
    item = entry("TE-1", week("2026-03-02"))
    assert rate_time_entry(item, line) == rate_time_entry(item, line)
