"""The canonical decimal reader: what it accepts can always be rated, rounded and summed
in the default decimal context; what it refuses, it refuses by rule."""

from __future__ import annotations

import decimal
from decimal import Decimal

import pytest
from billbridge.domain import decimal_text
from billbridge.domain.decimal_text import (
    MAX_SAFE_INTEGER,
    DecimalBounds,
    DecimalTextError,
    Sign,
    check_decimal,
    read_decimal,
    read_positive_integer,
)
from hypothesis import given
from hypothesis import strategies as st


def decimal_texts(bounds: DecimalBounds) -> st.SearchStrategy[str]:
    """Texts inside the bounds: up to the maximum digits on each side of the point."""
    integer = st.integers(min_value=0, max_value=10**bounds.integer_digits - 1)
    places = st.integers(min_value=0, max_value=bounds.decimal_places)

    @st.composite
    def build(draw: st.DrawFn) -> str:
        whole = draw(integer)
        count = draw(places)
        fraction = draw(st.integers(min_value=0, max_value=10**count - 1)) if count else 0
        text = f"{whole}.{fraction:0{count}d}" if count else str(whole)
        return text

    return build()


@given(rate=decimal_texts(decimal_text.RATE), hours=decimal_texts(decimal_text.HOURS))
def test_an_accepted_rate_times_accepted_hours_rounds_without_a_decimal_error(rate: str, hours: str) -> None:
    try:
        rate_value = read_decimal(rate, decimal_text.RATE)
        hours_value = read_decimal(hours, decimal_text.HOURS)
    except DecimalTextError:
        return  # zero hours: refused by its sign rule
    with decimal.localcontext() as context:
        context.traps[decimal.Inexact] = False
        context.traps[decimal.InvalidOperation] = True
        amount = (rate_value * hours_value).quantize(Decimal("0.001"), rounding=decimal.ROUND_HALF_UP)
        total = amount * 1_000_000  # a million such lines on one invoice
        assert total.quantize(Decimal("0.001")) == total


@given(amount=decimal_texts(decimal_text.MONEY), markup=decimal_texts(decimal_text.RATIO))
def test_an_accepted_amount_with_an_accepted_markup_rounds_without_a_decimal_error(amount: str, markup: str) -> None:
    value = read_decimal(amount, decimal_text.MONEY) * (1 + read_decimal(markup, decimal_text.RATIO))
    assert value.quantize(Decimal("0.001"), rounding=decimal.ROUND_HALF_UP) >= 0


@given(text=decimal_texts(decimal_text.MONEY))
def test_reading_is_exact(text: str) -> None:
    assert read_decimal(text, decimal_text.MONEY) == Decimal(text)


@given(digit=st.characters(categories=["Nd"]).filter(lambda c: not ("0" <= c <= "9")))
def test_digits_of_other_scripts_are_refused(digit: str) -> None:
    with pytest.raises(DecimalTextError, match="ASCII digits"):
        read_decimal(f"1{digit}0", decimal_text.MONEY)


@pytest.mark.parametrize(
    ("text", "bounds", "reason"),
    [
        ("1000000000000", decimal_text.MONEY, "13 digits before the point"),
        ("1.00001", decimal_text.MONEY, "5 decimal places"),
        ("-0", decimal_text.SIGNED_MONEY, "negative zero"),
        ("-0.000", decimal_text.SIGNED_MONEY, "negative zero"),
        ("-1", decimal_text.MONEY, "must not be negative"),
        ("0", decimal_text.POSITIVE_MONEY, "greater than zero"),
        ("1e3", decimal_text.MONEY, "no exponent"),
        ("", decimal_text.MONEY, "ASCII digits"),
        ("1.", decimal_text.MONEY, "ASCII digits"),
    ],
)
def test_each_rule_is_named_when_broken(text: str, bounds: DecimalBounds, reason: str) -> None:
    with pytest.raises(DecimalTextError, match=reason):
        read_decimal(text, bounds)


def test_leading_zeros_do_not_count_as_digits() -> None:
    assert read_decimal("000000000000001.50", decimal_text.MONEY) == Decimal("1.50")


def test_a_negative_amount_is_read_where_the_field_allows_it() -> None:
    assert read_decimal("-12.50", decimal_text.SIGNED_MONEY) == Decimal("-12.50")
    assert decimal_text.SIGNED_MONEY.sign is Sign.ANY


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-0"), Decimal("1E+13")])
def test_decimals_built_in_code_are_held_to_the_same_bounds(value: Decimal) -> None:
    with pytest.raises(DecimalTextError):
        check_decimal(value, decimal_text.MONEY)


def test_versions_are_positive_json_safe_integers() -> None:
    assert read_positive_integer(MAX_SAFE_INTEGER) == MAX_SAFE_INTEGER
    for bad in (0, -1, MAX_SAFE_INTEGER + 1, 10**40):
        with pytest.raises(DecimalTextError):
            read_positive_integer(bad)
