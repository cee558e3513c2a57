"""Recurring monthly fees: prorated per (fee, version) segment, once per month."""

from __future__ import annotations

from tests.unit.domain.builders import D, Desk, entry, fee, version


def fee_lines(desk: Desk, period: str) -> list[tuple[str, int | None, D, D]]:
    invoice = desk.bill(period)
    assert invoice is not None
    return [
        (line.ref, line.contract_version, line.quantity, line.amount) for line in invoice.lines if line.kind == "fee"
    ]


def test_full_month_under_one_version_bills_exactly_the_fee() -> None:
    desk = Desk()
    desk.version(version(fees=[fee("F1", "1000.00")]))
    assert fee_lines(desk, "2026-02") == [("F1", 1, D("28"), D("1000.00"))]
    assert fee_lines(desk, "2026-03") == [("F1", 1, D("31"), D("1000.00"))]


def test_fee_is_prorated_by_days_per_version_segment() -> None:
    desk = Desk()
    desk.version(version(1, fees=[fee("F1", "3100.00")]))
    desk.version(version(2, effective="2026-03-11", fees=[fee("F1", "6200.00")]))
    # 10/31 x 3100 = 1000.00 under v1; 21/31 x 6200 = 4200.00 under v2
    assert fee_lines(desk, "2026-03") == [("F1", 1, D("10"), D("1000.00")), ("F1", 2, D("21"), D("4200.00"))]


def test_fee_proration_is_rounded_half_up_per_segment() -> None:
    desk = Desk()
    desk.version(version(1, fees=[fee("F1", "1000.00")]))
    desk.version(version(2, effective="2026-03-11", fees=[fee("F1", "1000.00")]))  # same fee, new version
    # 10/31 x 1000 = 322.580.. -> 322.58; 21/31 x 1000 = 677.419.. -> 677.42
    assert fee_lines(desk, "2026-03") == [("F1", 1, D("10"), D("322.58")), ("F1", 2, D("21"), D("677.42"))]


def test_fee_starting_mid_month_is_prorated() -> None:
    desk = Desk()
    desk.version(version(fees=[fee("F1", "3000.00", start="2026-04-16")]))
    assert fee_lines(desk, "2026-04") == [("F1", 1, D("15"), D("1500.00"))]


def test_fee_ending_mid_month_is_prorated_and_not_billed_after() -> None:
    desk = Desk()
    desk.version(version(fees=[fee("F1", "3000.00", end="2026-04-10")]))
    assert fee_lines(desk, "2026-04") == [("F1", 1, D("10"), D("1000.00"))]
    assert desk.bill("2026-05") is None


def test_fee_not_active_in_the_month_is_not_billed() -> None:
    desk = Desk()
    desk.version(version(fees=[fee("F1", "3000.00", start="2026-05-01")]))
    assert desk.bill("2026-04") is None


def test_fee_is_billed_at_most_once_per_month() -> None:
    desk = Desk()
    desk.version(version(fees=[fee("F1", "1000.00")]))
    assert desk.bill("2026-03") is not None
    assert desk.bill("2026-03") is None
    desk.entry(entry("TE-1", {"2026-03-20": "1"}))
    supplementary = desk.bill("2026-03")
    assert supplementary is not None
    assert [line.kind for line in supplementary.lines] == ["time"]


def test_fee_billed_once_even_when_a_later_version_splits_the_month() -> None:
    desk = Desk()
    desk.version(version(1, fees=[fee("F1", "1000.00")]))
    desk.bill("2026-03")
    desk.version(version(2, effective="2026-03-15", fees=[fee("F1", "2000.00")]))
    desk.entry(entry("TE-1", {"2026-03-20": "1"}))
    supplementary = desk.bill("2026-03")
    assert supplementary is not None
    assert [line.kind for line in supplementary.lines] == ["time"]


def test_fee_days_after_termination_are_not_billed() -> None:
    desk = Desk()
    desk.version(version(fees=[fee("F1", "3100.00")]))
    desk.terminate("2026-03-10")
    assert fee_lines(desk, "2026-03") == [("F1", 1, D("10"), D("1000.00"))]
    assert desk.bill("2026-04") is None


def test_fee_is_billed_in_jpy_whole_units() -> None:
    desk = Desk()
    desk.version(version(currency="JPY", tax_jurisdiction="DE", fees=[fee("F1", "100000")]))
    desk.terminate("2026-03-10")
    # 100000 x 10 / 31 = 32258.06 -> 32258
    assert fee_lines(desk, "2026-03") == [("F1", 1, D("10"), D("32258"))]
