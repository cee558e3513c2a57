"""The KPI report as one offline HTML file: inline CSS, inline SVG charts drawn
here, no scripts, no fonts or styles fetched from anywhere.

What the page looks like is data, read at the top of the module: the style sheet
(`STYLE`), the palette and geometry, the page (`PAGE`) and a chart's frame
(`SVG_CHART`) as templates; the functions below only fill them.

Input is the JSON-ready KPI document (`kpis.kpi_document(compute_kpis(...))`):
amounts are decimal strings and stay so in the tables; they become floats only
to compute bar geometry.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from html import escape
from string import Template
from typing import Any

from billbridge.reporting.kpi_tables import (
    KpiTable,
    business_kpi_table,
    cap_burn_table,
    corrections_table,
    dead_letters_table,
    exceptions_table,
    failure_resolution_table,
    held_work_table,
    money,
    propagation_table,
    revenue_leakage_table,
    unbilled_table,
)

PALETTE = ("#2f6690", "#d1495b", "#edae49", "#66a182", "#8d6a9f", "#3a7d44", "#9c6644", "#00798c")
AXIS_COLOUR = "#8795a1"
OVER_LIMIT_COLOUR = PALETTE[1]
"""A bar past its full scale (a cap burnt beyond 100%) and the full-scale line itself."""
CHART_WIDTH = 640
BAR_AREA_HEIGHT = 200
MARGIN_LEFT = 70
MARGIN_BOTTOM = 40
MARGIN_TOP = 30

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem; color: #1d2733; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #d6dde5; padding-bottom: 0.2rem; }
.subtitle { color: #5b6b7c; margin-top: 0; }
.cards { display: flex; flex-wrap: wrap; gap: 1rem; margin: 1rem 0; }
.card { border: 1px solid #d6dde5; border-radius: 6px; padding: 0.6rem 1rem; min-width: 10rem; }
.card .value { font-size: 1.4rem; font-weight: 600; }
.card .label { color: #5b6b7c; font-size: 0.85rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #e4e9ee; padding: 0.25rem 0.7rem; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
svg.chart { display: block; margin: 0.5rem 0; background: #fbfcfd; border: 1px solid #e4e9ee; }
svg.chart text { font-size: 11px; fill: #1d2733; }
svg.chart .title { font-size: 13px; font-weight: 600; }
.note { color: #5b6b7c; font-size: 0.85rem; }
"""


PAGE = Template(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Billbridge KPIs as of $as_of</title>
<style>$style</style>
</head>
<body>
<h1>Billbridge operating KPIs</h1>
<p class="subtitle">As of $as_of, $contracts contracts, computed from the ledger.</p>
<div class="cards">$cards</div>
$sections
</body>
</html>
"""
)
"""The page around the cards and sections (every value substituted is escaped HTML)."""

SVG_CHART = Template(
    '<svg class="chart" id="$chart_id" data-chart="$chart_id" role="img" aria-label="$title" '
    'xmlns="http://www.w3.org/2000/svg" width="$width" height="$height" viewBox="0 0 $width $height">'
    '<title>$title</title><text class="title" x="10" y="18">$title</text>$content</svg>'
)
"""One chart: an inline SVG with its title (for screen readers and as a caption) and its content."""


def render_html_report(kpis: dict[str, Any]) -> str:
    unbilled = kpis["unbilled"]
    approval = kpis["approval_to_invoice"]
    corrections = kpis["corrections"]
    exceptions = kpis["exceptions"]
    failures = kpis["integration_failures"]
    held = kpis["held_work"]
    money_tiles = (
        _money_tiles("unbilled", "Unbilled approved work", unbilled["totals"])
        + _money_tiles("held-work", "Held work (no line yet)", held["totals"])
        + _money_tiles("money-at-risk", "Money at risk", exceptions["money_at_risk"])
    )
    cards = [
        (
            "Approval to invoice (median / p90 days)",
            f"{approval['median_days'] or '-'} / {approval['p90_days'] or '-'}",
        ),
        (
            "Invoices requiring correction",
            f"{corrections['requiring_correction']} of {corrections['invoices']}",
        ),
        ("Open exceptions", str(exceptions["open"])),
        ("Dead-lettered messages", str(failures["dead_lettered_messages"])),
    ]
    sections = [
        _section(
            "Unbilled approved work by age",
            _grouped_bars(
                "unbilled-by-age",
                "Unbilled amount by age bucket (days since the line date)",
                unbilled["buckets"],
                _unbilled_series(unbilled),
            )
            + _kpi_table(unbilled_table(kpis)),
        ),
        _section(
            "Held work by age",
            _grouped_bars(
                "held-work-by-age",
                "Held amount by age bucket (days since the work)",
                held["buckets"],
                _unbilled_series(held),
            )
            + '<p class="note">Approved work an open exception holds (no_rate, invalid_cost_center, '
            "outside_term, unknown_milestone, currency_mismatch): it has no line yet, so it is not in the "
            "unbilled figures above.</p>" + _kpi_table(held_work_table(kpis)),
        ),
        _section(
            "Days from approval to invoice",
            _grouped_bars(
                "approval-to-invoice",
                "Billed entries by days from approval to invoice",
                [h["label"] for h in approval["histogram"]],
                [("entries", [Decimal(h["count"]) for h in approval["histogram"]])],
            )
            + f'<p class="note">Median {escape(str(approval["median_days"] or "-"))} days, '
            f"p90 {escape(str(approval['p90_days'] or '-'))} days over {approval['samples']} billed entries; "
            f"{approval['from_audit_times']} measured from audit times (approval reached the hub, proposal "
            f"made), {approval['from_dates']} from dates (line date, ERP posting date or period end).</p>",
        ),
        _section(
            "Invoices requiring correction",
            _kpi_table(corrections_table(kpis)),
        ),
        _section(
            "Exceptions by type",
            _horizontal_bars(
                "exceptions-by-type",
                "Exceptions by type (all states; open and money at risk in the label)",
                [
                    (
                        f"{r['type']} ({r['currency']})",
                        Decimal(r["total"]),
                        f"{r['total']} ({r['open']} open, {money(r['money_at_risk'], r['currency'])} at risk)",
                    )
                    for r in exceptions["rows"]
                ],
            )
            + _kpi_table(exceptions_table(kpis)),
        ),
        _section(
            "Cap burn per contract",
            _horizontal_bars(
                "cap-burn",
                "Invoiced time as a share of the cap (%)",
                [
                    (r["contract_id"], Decimal(r["burn_percent"] or "0"), f"{r['burn_percent']}%")
                    for r in kpis["cap_burn"]
                ],
                full_scale=Decimal(100),
            )
            + _kpi_table(cap_burn_table(kpis)),
        ),
        _section(
            "Integration failures",
            _horizontal_bars(
                "dead-letters",
                "Dead-lettered messages per workflow",
                [(d["workflow"], Decimal(d["messages"]), str(d["messages"])) for d in failures["dead_letters"]],
            )
            + _kpi_table(dead_letters_table(kpis))
            + _table(
                ["Billing failure", "Contract", "Period", "State", "Resolution (h)"],
                [
                    [
                        f["exception_id"],
                        f["contract_id"],
                        f["period"] or "-",
                        f["state"],
                        f["resolution_hours"] or "-",
                    ]
                    for f in failures["billing_failed"]
                ],
                numeric={4},
            ),
        ),
    ]
    if kpis.get("business") is not None:
        dso = kpis["business"]["dso"]
        disputes = kpis["business"]["dispute_rate"]
        cards.append(("DSO (days)", str(dso["days"] if dso["days"] is not None else "-")))
        cards.append(("Dispute rate", f"{disputes['percent'] if disputes['percent'] is not None else '-'}%"))
        sections.insert(
            0,
            _section(
                "Business KPIs",
                _kpi_table(business_kpi_table(kpis))
                + _kpi_table(failure_resolution_table(kpis))
                + _kpi_table(revenue_leakage_table(kpis)),
            ),
        )
    propagation = kpis.get("propagation")
    if propagation is not None:
        counts = propagation["counts"]
        cards.append(
            (
                "Contract versions acknowledged / pending, refused or failed",
                f"{counts['acknowledged']} / {counts['pending'] + counts['refused'] + counts['failed']}",
            )
        )
        sections.append(
            _section(
                "Propagation to the PSA and the ERP",
                f'<p class="note">Latest contract version per contract and system: '
                f"{counts['acknowledged']} acknowledged, {counts['pending']} pending, {counts['refused']} refused, "
                f"{counts['failed']} failed; unacknowledged for more than {propagation['stale_after_hours']} h:</p>"
                + _kpi_table(propagation_table(kpis)),
            )
        )
    card_html = money_tiles + "".join(
        f'<div class="card"><div class="value">{escape(value)}</div><div class="label">{escape(label)}</div></div>'
        for label, value in cards
    )
    return PAGE.substitute(
        as_of=escape(kpis["as_of"]),
        style=STYLE,
        contracts=kpis["contracts"],
        cards=card_html,
        sections="\n".join(sections),
    )


def _money_tiles(kind: str, label: str, totals: Sequence[dict[str, Any]]) -> str:
    """One tile per currency: amounts in different currencies are never added."""
    if not totals:
        return (
            f'<div class="card money" data-tile="{escape(kind)}" data-currency="">'
            f'<div class="value">none</div><div class="label">{escape(label)}</div></div>'
        )
    return "".join(
        f'<div class="card money" data-tile="{escape(kind)}" data-currency="{escape(total["currency"])}">'
        f'<div class="value">{escape(money(total["amount"], total["currency"]))}</div>'
        f'<div class="label">{escape(label)} in {escape(total["currency"])}</div></div>'
        for total in totals
    )


def _unbilled_series(unbilled: dict[str, Any]) -> list[tuple[str, list[Decimal]]]:
    series: dict[str, dict[str, Decimal]] = {}
    for row in unbilled["rows"]:
        name = f"{row['legal_entity']} {row['currency']}"
        values = series.setdefault(name, {})
        values[row["age_bucket"]] = values.get(row["age_bucket"], Decimal(0)) + Decimal(row["amount"])
    return [(name, [values.get(b, Decimal(0)) for b in unbilled["buckets"]]) for name, values in series.items()]


def _section(title: str, body: str) -> str:
    return f"<section>\n<h2>{escape(title)}</h2>\n{body}\n</section>"


def _kpi_table(table: KpiTable) -> str:
    return _table(table.headers, table.rows, numeric=set(table.numeric))


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    if not rows:
        return '<p class="note">None.</p>'

    def cell(tag: str, index: int, text: str) -> str:
        css = ' class="num"' if index in numeric else ""
        return f"<{tag}{css}>{escape(str(text))}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(cell("td", i, c) for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _svg(chart_id: str, title: str, height: int, content: str) -> str:
    return SVG_CHART.substitute(
        chart_id=escape(chart_id), title=escape(title), width=CHART_WIDTH, height=height, content=content
    )


def _no_data(height: int) -> str:
    return f'<text x="{CHART_WIDTH / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle">no data</text>'


def _grouped_bars(
    chart_id: str, title: str, categories: Sequence[str], series: Sequence[tuple[str, Sequence[Decimal]]]
) -> str:
    height = MARGIN_TOP + BAR_AREA_HEIGHT + MARGIN_BOTTOM + 10 + 16 * max(len(series), 1)
    peak = max((float(v) for _, values in series for v in values), default=0.0)
    if not series or peak <= 0:
        return _svg(chart_id, title, height, _no_data(height))
    plot_width = CHART_WIDTH - MARGIN_LEFT - 20
    baseline = MARGIN_TOP + BAR_AREA_HEIGHT
    group_width = plot_width / max(len(categories), 1)
    bar_width = group_width * 0.8 / len(series)
    right = CHART_WIDTH - 20
    parts = [
        f'<line x1="{MARGIN_LEFT}" y1="{baseline}" x2="{right}" y2="{baseline}" stroke="{AXIS_COLOUR}"/>',
        f'<line x1="{MARGIN_LEFT}" y1="{MARGIN_TOP}" x2="{MARGIN_LEFT}" y2="{baseline}" stroke="{AXIS_COLOUR}"/>',
        f'<text x="{MARGIN_LEFT - 6}" y="{MARGIN_TOP + 4}" text-anchor="end">{escape(_short(peak))}</text>',
        f'<text x="{MARGIN_LEFT - 6}" y="{baseline}" text-anchor="end">0</text>',
    ]
    for index, category in enumerate(categories):
        x0 = MARGIN_LEFT + index * group_width + group_width * 0.1
        parts.append(
            f'<text x="{MARGIN_LEFT + (index + 0.5) * group_width:.1f}" y="{baseline + 16}" '
            f'text-anchor="middle">{escape(category)}</text>'
        )
        for number, (name, values) in enumerate(series):
            value = float(values[index]) if index < len(values) else 0.0
            bar_height = BAR_AREA_HEIGHT * value / peak
            color = PALETTE[number % len(PALETTE)]
            parts.append(
                f'<rect class="bar" x="{x0 + number * bar_width:.1f}" y="{baseline - bar_height:.1f}" '
                f'width="{bar_width:.1f}" height="{bar_height:.1f}" fill="{color}">'
                f"<title>{escape(name)} {escape(category)}: {escape(str(values[index]))}</title></rect>"
            )
    legend_y = baseline + MARGIN_BOTTOM
    for number, (name, _) in enumerate(series):
        y = legend_y + 16 * number
        color = PALETTE[number % len(PALETTE)]
        parts.append(
            f'<rect x="{MARGIN_LEFT}" y="{y - 9}" width="10" height="10" fill="{color}"/>'
            f'<text x="{MARGIN_LEFT + 16}" y="{y}">{escape(name)}</text>'
        )
    return _svg(chart_id, title, height, "".join(parts))


def _horizontal_bars(
    chart_id: str, title: str, rows: Sequence[tuple[str, Decimal, str]], full_scale: Decimal | None = None
) -> str:
    row_height = 22
    height = MARGIN_TOP + row_height * max(len(rows), 1) + 20
    peak = max([float(value) for _, value, _ in rows] + ([float(full_scale)] if full_scale else []), default=0.0)
    if not rows or peak <= 0:
        return _svg(chart_id, title, height, _no_data(height))
    label_width = 230
    plot_width = CHART_WIDTH - label_width - 70
    parts = []
    for index, (label, value, shown) in enumerate(rows):
        y = MARGIN_TOP + index * row_height
        width = plot_width * float(value) / peak
        over = full_scale is not None and value > full_scale
        color = OVER_LIMIT_COLOUR if over else PALETTE[index % len(PALETTE)] if full_scale is None else PALETTE[0]
        parts.append(
            f'<text x="{label_width - 8}" y="{y + 14}" text-anchor="end">{escape(label)}</text>'
            f'<rect class="bar" x="{label_width}" y="{y + 3}" width="{width:.1f}" height="{row_height - 6}" '
            f'fill="{color}"><title>{escape(label)}: {escape(shown)}</title></rect>'
            f'<text x="{label_width + width + 6:.1f}" y="{y + 14}">{escape(shown)}</text>'
        )
    if full_scale is not None:
        x = label_width + plot_width * float(full_scale) / peak
        parts.append(
            f'<line x1="{x:.1f}" y1="{MARGIN_TOP - 4}" x2="{x:.1f}" y2="{height - 14}" stroke="{OVER_LIMIT_COLOUR}" '
            f'stroke-dasharray="4 3"/><text x="{x:.1f}" y="{height - 4}" text-anchor="middle">'
            f"{escape(_short(float(full_scale)))}</text>"
        )
    return _svg(chart_id, title, height, "".join(parts))


def _short(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 10_000:
        return f"{value / 1_000:.0f}k"
    return f"{value:,.0f}"
