"""`--output table|json|csv`: one option, the same on every command that lists or shows.

- `table` (default): for people (billbridge.cli.tables);
- `json`: the command's whole document, indented (`--json` is short for it);
- `csv`: a listing is one row per item, a single object one row; columns are the
  document's keys in order, a list of plain values is joined with `; `, anything
  nested is compact JSON in its cell, nothing is an empty cell.

Only the standard library here: read-only commands import this module.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

TYPE_CHECKING = False  # `typing` costs ~4 ms to import: its names serve annotations only
if TYPE_CHECKING:
    from typing import Any


OUTPUT_FORMATS = ("table", "json", "csv")


class UsageError(Exception):
    """A user's mistake found while the command runs (a value it refuses, a state it will not
    replace): the message is printed on one line and the command exits 2."""


def add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output",
        "-o",
        choices=OUTPUT_FORMATS,
        default="table",
        help="table for people (default), json or csv for scripts",
    )
    parser.add_argument("--json", dest="output", action="store_const", const="json", help="same as --output json")


def print_json(document: Any) -> None:
    print(json.dumps(document, indent=2, default=str))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple) and all(not isinstance(v, dict | list | tuple) for v in value):
        return "; ".join("" if v is None else str(v) for v in value)
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value)


def print_csv(document: Any) -> None:
    rows = document if isinstance(document, list) else [document]
    columns: list[str] = []
    for row in rows:
        for key in row if isinstance(row, dict) else ("value",):
            if key not in columns:
                columns.append(key)
    import csv  # only `--output csv` needs it

    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        record = row if isinstance(row, dict) else {"value": row}
        writer.writerow([_cell(record.get(column)) for column in columns])


def emit(args: argparse.Namespace, document: Any, table: Callable[[], None]) -> None:
    """Print `document` as the command's `--output` asks; `table()` draws it for people."""
    output = getattr(args, "output", "table")
    if output == "json":
        print_json(document)
    elif output == "csv":
        print_csv(document)
    else:
        table()


def wants_document(args: argparse.Namespace) -> bool:
    """`--output json|csv`: the command prints its document, not its tables and messages."""
    return getattr(args, "output", "table") != "table"


def not_found(message: str) -> int:
    """An identifier that names nothing: one line on stderr, exit 1 (the answer is no)."""
    print(f"billbridge: {message}", file=sys.stderr)
    return 1


def warn(message: str) -> None:
    """A warning on stderr (a filter that matches nothing): the command still succeeds."""
    print(f"billbridge: warning: {message}", file=sys.stderr)


def warn_if_nothing_matched(found: list[Any], filters: dict[str, Any], what: str) -> None:
    """`billbridge: warning: no exceptions match --type no_rate --contract X` when filters select nothing."""
    given = {option: value for option, value in filters.items() if value not in (None, "", [], ())}
    if given and not found:
        shown = " ".join(f"{option} {value}" for option, value in given.items())
        warn(f"no {what} match {shown}")
