"""The one reader of decimal numbers written as text: amounts, rates, hours, ratios.

Every number the hub is given as a decimal string goes through `read_decimal`
with the bounds of its field (docs/spec/events.md, "Numbers"). The grammar is
deliberately narrow so that whatever is read can be processed by every
consumer, stored in DynamoDB and put on EventBridge:

- ASCII digits only (`"\u0661\u0665\u0660"`, Arabic-Indic 150, is refused: Python's `Decimal` would read it as 150),
- an optional leading `-` only where the field may be negative, never `+`,
- digits before the point, and digits after it when there is a point
  (`"7.5"`, not `".5"` or `"7."`), no exponent, no spaces, no NaN or Infinity,
- at most `integer_digits` digits before the point and `decimal_places` after,
  so that products and sums stay far inside the 28 significant digits of the
  default decimal context (a rate of thirty 9s cannot be rounded there),
- no negative zero (`"-0"`, `"-0.00"`),
- the sign the field allows: any, zero or more, or more than zero.

Integers (versions, revisions) are JSON integers; `read_positive_integer`
bounds them to the JSON-safe range (1 to 2**53 - 1, RFC 7493 I-JSON), inside
EventBridge's int64 and DynamoDB's 38 digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

MAX_SAFE_INTEGER = 2**53 - 1
"""The largest integer every JSON reader holds exactly (RFC 7493, I-JSON)."""

_DECIMAL_TEXT = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?", re.ASCII)


class Sign(Enum):
    ANY = "any"
    ZERO_OR_MORE = "zero or more"
    MORE_THAN_ZERO = "more than zero"


@dataclass(frozen=True, slots=True)
class DecimalBounds:
    """What one kind of field accepts: digits before and after the point, and its sign."""

    name: str
    integer_digits: int
    decimal_places: int
    sign: Sign
    example: str

    def describe(self) -> str:
        return (
            f"{self.name}: a decimal string such as {self.example!r}, at most {self.integer_digits} digits "
            f"before the point and {self.decimal_places} after, {self.sign.value}"
        )


SIGNED_MONEY = DecimalBounds("amount", integer_digits=12, decimal_places=4, sign=Sign.ANY, example="1250.00")
"""An amount that may be negative (none of the contract's fields is, today)."""
MONEY = DecimalBounds("amount", integer_digits=12, decimal_places=4, sign=Sign.ZERO_OR_MORE, example="1250.00")
"""Contract terms (milestone, fee, cap, retainer) and ERP invoice figures: below a trillion."""
POSITIVE_MONEY = DecimalBounds(
    "amount", integer_digits=12, decimal_places=4, sign=Sign.MORE_THAN_ZERO, example="1250.00"
)
"""Expenses and payments: the contract has no credits, an amount is more than zero."""
RATE = DecimalBounds("rate", integer_digits=9, decimal_places=4, sign=Sign.ZERO_OR_MORE, example="150.00")
"""A price per hour."""
HOURS = DecimalBounds("hours", integer_digits=2, decimal_places=4, sign=Sign.MORE_THAN_ZERO, example="7.5")
"""Hours of one day (at most 24, checked by the field)."""
RATIO = DecimalBounds("ratio", integer_digits=3, decimal_places=6, sign=Sign.ZERO_OR_MORE, example="0.10")
"""A fraction: "0.10" is 10 %."""


class DecimalTextError(ValueError):
    """The text is not a decimal the field accepts; `reason` says why, without echoing much of it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_decimal(text: str, bounds: DecimalBounds) -> Decimal:
    """The value of `text` under `bounds`, or DecimalTextError naming the broken rule."""
    match = _DECIMAL_TEXT.fullmatch(text)
    if match is None:
        raise DecimalTextError(
            f"must be a decimal string of ASCII digits such as {bounds.example!r} "
            f"(no exponent, spaces or sign '+'), not {_shown(text)}"
        )
    minus, integer_part, fraction = match.group(1), match.group(2), match.group(3) or ""
    significant_integer = integer_part.lstrip("0") or "0"
    if len(significant_integer) > bounds.integer_digits:
        raise DecimalTextError(
            f"has {len(significant_integer)} digits before the point; at most {bounds.integer_digits} are accepted"
        )
    if len(fraction) > bounds.decimal_places:
        raise DecimalTextError(f"has {len(fraction)} decimal places; at most {bounds.decimal_places} are accepted")
    value = Decimal(text)
    if minus and value == 0:
        raise DecimalTextError("must not be negative zero")
    if bounds.sign is Sign.ZERO_OR_MORE and value < 0:
        raise DecimalTextError("must not be negative")
    if bounds.sign is Sign.MORE_THAN_ZERO and value <= 0:
        raise DecimalTextError("must be greater than zero")
    return value


def check_decimal(value: Decimal, bounds: DecimalBounds) -> Decimal:
    """A Decimal built in code (not read from text) held to the same bounds: finite, then as its text."""
    if not value.is_finite():
        raise DecimalTextError("must be a finite decimal")
    return read_decimal(format(value, "f"), bounds)


def read_positive_integer(value: int) -> int:
    """A version or revision: 1 to 2**53 - 1."""
    if value < 1:
        raise DecimalTextError("must be a positive integer")
    if value > MAX_SAFE_INTEGER:
        raise DecimalTextError(f"must be at most {MAX_SAFE_INTEGER} (2**53 - 1)")
    return value


def _shown(text: str) -> str:
    return repr(text[:40] + ("..." if len(text) > 40 else ""))
