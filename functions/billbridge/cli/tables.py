"""Tables for people (`--output table`, the default).

On a terminal a table is drawn with rich: amounts and counts right-aligned, long
cells wrapped to the terminal's width. Anywhere else (a pipe, a file, a test's
captured output) the same table is plain text with the same alignment, each
cell whole: rich is imported only when a table is drawn on a terminal (it costs
~40 ms to import; read-only commands stay within 3x a bare `import billbridge`).
`--output json|csv` is for scripts (see billbridge.cli.output).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence

TYPE_CHECKING = False  # `typing` costs ~4 ms to import: its names serve annotations only
if TYPE_CHECKING:
    from typing import Any

NUMERIC_CELL = re.compile(r"^[-+]?[\d,]*\.?\d+%?( [A-Z]{3})?$")
"""`610.00 EUR`, `-12.5`, `3`, `1,234.00`, `12%`: a cell that is an amount or a count."""
EMPTY_CELLS = ("", "-")


def right_aligned(rows: Sequence[Sequence[str]], column: int) -> bool:
    """A column is right-aligned when every filled cell in it is an amount or a count."""
    cells = [str(row[column]) for row in rows if str(row[column]) not in EMPTY_CELLS]
    return bool(cells) and all(NUMERIC_CELL.match(cell) for cell in cells)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    if not rows:
        print("(none)")
        return
    text_rows = [[str(cell) for cell in row] for row in rows]
    right = [right_aligned(text_rows, i) for i in range(len(headers))]
    if sys.stdout.isatty():
        _print_rich_table(headers, text_rows, right)
        return
    widths = [max(len(str(h)), *(len(row[i]) for row in text_rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        padded = [
            cell.rjust(width) if align_right else cell.ljust(width)
            for cell, width, align_right in zip(cells, widths, right, strict=True)
        ]
        return "  ".join(padded).rstrip()

    print(line([str(h) for h in headers]))
    print("  ".join("-" * w for w in widths))
    for row in text_rows:
        print(line(row))


def _print_rich_table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, header_style="bold", pad_edge=False, show_edge=False)
    for header, align_right in zip(headers, right, strict=True):
        table.add_column(str(header), justify="right" if align_right else "left", overflow="fold")
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))  # a cell is text, never rich markup
    Console(soft_wrap=False, highlight=False).print(table)


def money(amount: object, currency: object) -> str:
    """An amount as shown anywhere: always with its own currency, at its minor unit (`610.00 EUR`)."""
    from billbridge.domain.money import shown_money

    return shown_money(amount, currency)
