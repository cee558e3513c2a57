"""Money: half-up to the currency's minor unit, once per line; tax once per invoice."""

from __future__ import annotations

from decimal import Decimal

import pytest
from billbridge.domain.money import UnknownCurrencyError, minor_unit_quantum, round_money

from tests.unit.domain.builders import D, Desk, entry, version


@pytest.mark.parametrize(
    ("currency", "quantum"),
    [("USD", "0.01"), ("EUR", "0.01"), ("GBP", "0.01"), ("JPY", "1"), ("BHD", "0.001")],
)
def test_minor_unit_follows_iso_4217(currency: str, quantum: str) -> None:
    assert minor_unit_quantum(currency) == D(quantum)


@pytest.mark.parametrize(
    ("amount", "currency", "rounded"),
    [
        ("0.005", "USD", "0.01"),
        ("0.004999", "USD", "0.00"),
        ("2.675", "USD", "2.68"),
        ("-2.675", "USD", "-2.68"),
        ("0.5", "JPY", "1"),
        ("1234.49", "JPY", "1234"),
        ("0.0005", "BHD", "0.001"),
        ("10.0004", "BHD", "10.000"),
    ],
)
def test_amounts_round_half_up_to_the_minor_unit(amount: str, currency: str, rounded: str) -> None:
    result = round_money(D(amount), currency)
    assert result == D(rounded)
    assert result.as_tuple().exponent == D(rounded).as_tuple().exponent


def test_unknown_currency_code_is_refused() -> None:
    with pytest.raises(UnknownCurrencyError):
        round_money(D("1"), "usd")


def test_jpy_line_rounds_to_whole_yen_once_per_line() -> None:
    desk = Desk()
    desk.version(version(currency="JPY", roles={"consultant": "12345"}, tax_jurisdiction="DE"))
    desk.entry(entry("TE-1", {"2026-03-02": "0.5"}))
    desk.entry(entry("TE-2", {"2026-03-03": "0.5"}))
    invoice = desk.bill("2026-03")
    assert invoice is not None
    # 0.5 x 12345 = 6172.5 -> 6173 per line; the lines are not summed before rounding (12345).
    assert [line.amount for line in invoice.lines] == [D("6173"), D("6173")]
    assert invoice.subtotal == D("12346")
    assert invoice.tax == D("2346")  # 12346 x 0.19 = 2345.74 -> 2346


def test_bhd_line_keeps_three_decimals() -> None:
    desk = Desk()
    desk.version(version(currency="BHD", roles={"consultant": "10.0005"}, tax_jurisdiction="DE"))
    desk.entry(entry("TE-1", {"2026-03-02": "1"}))
    invoice = desk.bill("2026-03")
    assert invoice is not None
    assert invoice.lines[0].amount == D("10.001")
    assert invoice.tax == D("1.900")  # 10.001 x 0.19 = 1.90019
    assert invoice.total == D("11.901")


def test_usd_multi_day_line_is_rounded_once_not_per_day() -> None:
    desk = Desk()
    desk.version(version(roles={"consultant": "100.005"}))
    desk.entry(entry("TE-1", {"2026-03-02": "1", "2026-03-03": "1", "2026-03-04": "1"}))
    (line,) = desk.lines()
    # per day: 100.01 x 3 = 300.03; once per line: 300.015 -> 300.02
    assert line.amount == D("300.02")


def test_hours_are_never_rounded() -> None:
    desk = Desk()
    desk.version(version())
    desk.entry(entry("TE-1", {"2026-03-02": "1.337"}))
    (line,) = desk.lines()
    assert line.quantity == D("1.337")
    assert line.amount == D("133.70")


def test_tax_is_rounded_once_per_invoice_not_per_line() -> None:
    desk = Desk()
    desk.version(version(roles={"consultant": "10.00"}))
    for number, day in enumerate(("2026-03-02", "2026-03-03", "2026-03-04"), start=1):
        desk.entry(entry(f"TE-{number}", {day: "1"}))
    invoice = desk.bill("2026-03")
    assert invoice is not None
    assert invoice.subtotal == D("30.00")
    # per line 10.00 x 0.08875 = 0.8875 -> 0.89, x 3 = 2.67; per invoice 2.6625 -> 2.66
    assert invoice.tax == D("2.66")
    assert invoice.total == D("32.66")


def test_invoice_subtotal_is_the_sum_of_its_rounded_lines() -> None:
    desk = Desk()
    desk.version(version(roles={"consultant": "33.333"}))
    desk.entry(entry("TE-1", {"2026-03-02": "1"}))
    desk.entry(entry("TE-2", {"2026-03-03": "1"}))
    invoice = desk.bill("2026-03")
    assert invoice is not None
    assert invoice.subtotal == sum((line.amount for line in invoice.lines), Decimal(0)) == D("66.66")
