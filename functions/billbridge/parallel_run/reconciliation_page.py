"""The reconciliation as one offline HTML page (inline CSS, no scripts), in the
style of the KPI report."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from billbridge.app.legacy_reconciliation import DIFFERENCE_KINDS
from billbridge.reporting.html_report import STYLE

EXTRA_STYLE = """
.ok { color: #3a7d44; font-weight: 600; }
.bad { color: #d1495b; font-weight: 600; }
td.diff-missing, td.diff-extra { color: #d1495b; }
td.diff-amount, td.diff-rate, td.diff-tax { color: #9c6644; }
td { white-space: nowrap; }
td:last-child { white-space: normal; }
"""

MAX_DIFFERENCE_ROWS = 5000
"""The page stays readable; the JSON has every difference."""


def render_reconciliation_html(reconciliation: dict[str, Any], *, title: str, run: dict[str, Any]) -> str:
    summary = reconciliation["summary"]
    counts = summary["differences"]
    cards = [
        ("invoices compared", summary["invoices"]),
        ("matching invoices", summary["matching_invoices"]),
        ("lines compared", summary["lines_compared"]),
        ("matching lines", summary["matching_lines"]),
        *((f"{kind}", counts[kind]) for kind in DIFFERENCE_KINDS),
    ]
    verdict = (
        '<p class="ok">No differences with the legacy invoices.</p>'
        if summary["total_differences"] == 0
        else f'<p class="bad">{summary["total_differences"]} difference(s) with the legacy invoices.</p>'
    )
    differences = reconciliation["differences"]
    shown = differences[:MAX_DIFFERENCE_ROWS]
    difference_rows = [
        [*difference_cells(d), _cell(d.get("delta")), ", ".join(d.get("legacy_rows", [])[:3])] for d in shown
    ]
    more = (
        f"<p>{len(differences) - len(shown)} more difference(s) in the JSON file.</p>"
        if len(differences) > len(shown)
        else ""
    )
    run_rows = [[str(k), _cell(v)] for k, v in run.items()]
    invoice_rows = [
        [
            i["contract_id"],
            i["period"],
            _cell(i.get("currency")),
            _cell(i["billbridge_total"]),
            _cell(i["legacy_total"]),
            str(i["differences"]),
        ]
        for i in reconciliation["invoices"]
    ]
    body = "".join(
        [
            f"<h1>{escape(title)}</h1>",
            f'<p class="subtitle">Billbridge invoices against the legacy system, compared by '
            f"{escape(summary['compared_by'])}</p>",
            verdict,
            '<div class="cards">',
            *(
                f'<div class="card"><div class="value">{escape(str(v))}</div>'
                f'<div class="label">{escape(label)}</div></div>'
                for label, v in cards
            ),
            "</div>",
            "<h2>Differences</h2>",
            _table(
                [
                    "difference",
                    "contract",
                    "period",
                    "line",
                    "currency",
                    "billbridge",
                    "legacy",
                    "delta",
                    "legacy rows",
                ],
                difference_rows,
                numeric={5, 6, 7},
                classes=[f"diff-{d['difference']}" for d in shown],
            )
            if shown
            else "<p>None.</p>",
            more,
            "<h2>Invoices per contract and period</h2>",
            _table(
                ["contract", "period", "currency", "billbridge total", "legacy total", "differences"],
                invoice_rows,
                numeric={3, 4, 5},
            ),
            "<h2>The run</h2>",
            _table(["", ""], run_rows),
        ]
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}{EXTRA_STYLE}</style></head><body>{body}</body></html>\n"
    )


def difference_cells(difference: dict[str, Any]) -> list[str]:
    """A difference as the cells the page and the command's table both start with: kind, contract,
    period, line (kind and ref), currency, the hub's figure and the legacy system's."""
    line = difference.get("line")
    return [
        difference["difference"],
        difference["contract_id"],
        difference["period"],
        "" if line is None else f"{line['kind']} {line['ref']}",
        _cell(difference.get("currency")),
        _cell(difference.get("billbridge")),
        _cell(difference.get("legacy")),
    ]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    numeric: set[int] | None = None,
    classes: Sequence[str] | None = None,
) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for index, row in enumerate(rows):
        first_class = f' class="{classes[index]}"' if classes else ""
        cells = []
        for column, value in enumerate(row):
            css = ' class="num"' if column in numeric else (first_class if column == 0 else "")
            cells.append(f"<td{css}>{escape(value)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
