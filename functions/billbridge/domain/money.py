"""Money: Decimal amounts rounded half-up to the currency's ISO 4217 minor unit."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from billbridge.domain.iso_4217 import MINOR_UNITS

ZERO = Decimal("0")
HOURS_QUANTUM = Decimal("0.01")


class UnknownCurrencyError(ValueError):
    """The currency code is not an ISO 4217 code."""


@lru_cache(maxsize=256)
def minor_unit_quantum(currency: str) -> Decimal:
    """`Decimal('0.01')` for USD, `Decimal('1')` for JPY, `Decimal('0.001')` for BHD."""
    digits = MINOR_UNITS.get(currency)
    if digits is None:
        raise UnknownCurrencyError(f"not an ISO 4217 currency code: {currency!r}")
    return Decimal(1).scaleb(-digits)


def is_iso_currency(currency: str) -> bool:
    """Whether the code is in the ISO 4217 list (with a minor unit amounts can be rounded to)."""
    return currency in MINOR_UNITS


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round half-up to the currency's minor unit (once per line, when it is made). The
    rounding is passed by position: by keyword, `quantize` costs about twice as much."""
    return amount.quantize(minor_unit_quantum(currency), ROUND_HALF_UP)


def round_hours(hours: Decimal) -> Decimal:
    """Round a quantity of hours half-up to two decimals (only where a rule says so)."""
    return hours.quantize(HOURS_QUANTUM, rounding=ROUND_HALF_UP)


def format_amount(amount: Decimal) -> str:
    """A decimal string as the events and reports carry it (never scientific notation)."""
    return format(amount, "f")


def shown_money(amount: object, currency: object) -> str:
    """An amount with its own currency as people read it, padded to the currency's minor unit
    (`0` USD -> `0.00 USD`, `610` EUR -> `610.00 EUR`, `5` JPY -> `5 JPY`). Never rounds: an
    amount with more digits than the minor unit (a rate) keeps them. Anything that is not a
    finite decimal amount, or a code outside ISO 4217, is shown as given."""
    code = str(currency or "")
    try:
        value = Decimal(str(amount))
    except ArithmeticError:
        return f"{amount} {code}".strip()
    digits = MINOR_UNITS.get(code)
    exponent = value.as_tuple().exponent
    if digits is not None and isinstance(exponent, int) and exponent > -digits:
        value = value.quantize(Decimal(1).scaleb(-digits))
    return f"{format_amount(value)} {code}".strip()
