"""The few statistics the KPIs are made of, over Decimals (money and durations never become floats)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal


def one_decimal(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def percent(part: Decimal, whole: Decimal) -> Decimal | None:
    """`part` as a percentage of `whole`, to one decimal; unknown (None) when `whole` is zero."""
    if not whole:
        return None
    return one_decimal(part * 100 / whole)


def median(values: Sequence[Decimal]) -> Decimal | None:
    """The median of sorted `values`; None when there are none."""
    if not values:
        return None
    middle = len(values) // 2
    if len(values) % 2:
        return values[middle]
    return (values[middle - 1] + values[middle]) / 2


def percentile(values: Sequence[Decimal], rank_percent: int) -> Decimal | None:
    """The nearest-rank percentile of sorted `values`; None when there are none."""
    if not values:
        return None
    return values[max(math.ceil(rank_percent / 100 * len(values)), 1) - 1]
