"""Minor units come from the ISO 4217 list itself, not from a locale database."""

from __future__ import annotations

import pytest
from billbridge.domain.iso_4217 import ISO_4217_LIST_DATE, MINOR_UNITS
from billbridge.domain.money import UnknownCurrencyError, is_iso_currency, minor_unit_quantum, round_money

from tests.unit.domain.builders import D


def test_the_table_is_the_iso_4217_list_of_its_date() -> None:
    assert ISO_4217_LIST_DATE == "2024-06-25"
    assert len(MINOR_UNITS) == 168


@pytest.mark.parametrize(
    ("currency", "digits"),
    [
        ("USD", 2),
        ("EUR", 2),
        ("GBP", 2),
        # A locale database (CLDR cash digits) gives 0 for these three; ISO 4217 gives 2.
        ("HUF", 2),
        ("COP", 2),
        ("IDR", 2),
        ("JPY", 0),
        ("KRW", 0),
        ("CLP", 0),
        ("BHD", 3),
        ("KWD", 3),
        ("OMR", 3),
        ("JOD", 3),
        ("TND", 3),
        ("LYD", 3),
        # CLDR gives 0; ISO 4217 gives 3.
        ("IQD", 3),
        ("CLF", 4),
        ("ZWG", 2),
    ],
)
def test_minor_units_are_those_of_iso_4217(currency: str, digits: int) -> None:
    assert MINOR_UNITS[currency] == digits
    assert minor_unit_quantum(currency) == D(1).scaleb(-digits)


@pytest.mark.parametrize("code", ["XYZ", "usd", "US", "HRK", "XAU", "XXX", ""])
def test_codes_outside_the_list_or_without_a_minor_unit_are_refused(code: str) -> None:
    assert not is_iso_currency(code)
    with pytest.raises(UnknownCurrencyError):
        round_money(D("1.005"), code)


def test_iqd_rounds_to_fils_and_huf_to_filler() -> None:
    assert round_money(D("10.0005"), "IQD") == D("10.001")
    assert round_money(D("10.005"), "HUF") == D("10.01")
