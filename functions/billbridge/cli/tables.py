"""Plain-text tables for people; every command also has `--json` for scripts."""

from __future__ import annotations

from collections.abc import Sequence

from billbridge.domain.money import shown_money


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    if not rows:
        print("(none)")
        return
    widths = [max(len(str(h)), *(len(str(row[i])) for row in rows)) for i, h in enumerate(headers)]
    print("  ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)))


def money(amount: object, currency: object) -> str:
    """An amount as shown anywhere: always with its own currency, at its minor unit (`610.00 EUR`)."""
    return shown_money(amount, currency)
