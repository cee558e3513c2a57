"""Amounts shown to people carry their currency and the currency's minor unit (billing.md:
amounts rounded to the currency's ISO 4217 minor unit; never added across currencies)."""

from decimal import Decimal

import pytest
from billbridge.domain.money import shown_money


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        ("0", "USD", "0.00 USD"),
        (Decimal("610"), "EUR", "610.00 EUR"),
        ("-1320.00", "USD", "-1320.00 USD"),
        ("5", "JPY", "5 JPY"),
        ("1.5", "BHD", "1.500 BHD"),
        ("1E+3", "GBP", "1000.00 GBP"),
    ],
)
def test_an_amount_is_padded_to_its_currencys_minor_unit(amount: object, currency: str, shown: str) -> None:
    assert shown_money(amount, currency) == shown


def test_a_rate_with_more_digits_than_the_minor_unit_is_never_rounded_for_display() -> None:
    assert shown_money("96.755", "USD") == "96.755 USD"


@pytest.mark.parametrize(("amount", "currency", "shown"), [("-", "USD", "- USD"), ("12", "XYZ", "12 XYZ")])
def test_what_is_not_an_iso_amount_is_shown_as_given(amount: str, currency: str, shown: str) -> None:
    assert shown_money(amount, currency) == shown
