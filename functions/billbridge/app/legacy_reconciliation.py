"""Reconciling the hub's invoices with a legacy system's, per contract, period and line.

The hub's side is the replay report (`replay_report.build_replay_report`):
invoices that count (not rejected), grouped by (contract, period); their lines
grouped by (kind, ref), e.g. (`time`, entry id), (`expense`, expense id),
(`milestone`, milestone id), (`fee`, fee id), (`retainer`, `retainer`). A
line split at an amendment date or a month end is several hub lines of one
(kind, ref): amounts and quantities are summed, rates compared as a set.

Differences, each naming the contract, the period and (for lines) the line:
- `missing`: the legacy system invoiced it, the hub did not;
- `extra`: the hub invoiced it, the legacy system did not;
- `amount`: both did, for different amounts (a line's amount, an invoice's subtotal or total);
- `rate`: both invoiced the line, at different rates;
- `tax`: the invoice's tax differs (line taxes of a per-line legacy file are summed per invoice).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from billbridge.domain.model import InvoiceStatus
from billbridge.domain.money import ZERO, format_amount

DIFFERENCE_KINDS = ("missing", "extra", "amount", "rate", "tax")


@dataclass(frozen=True, slots=True)
class LegacyLine:
    contract_id: str
    period: str
    kind: str
    ref: str
    quantity: Decimal | None
    rate: Decimal | None
    amount: Decimal
    tax: Decimal | None = None
    location: str = ""
    """Where the row is (`file:line`), to find it again."""


@dataclass(frozen=True, slots=True)
class LegacyInvoice:
    contract_id: str
    period: str
    subtotal: Decimal | None
    tax: Decimal | None
    total: Decimal
    location: str = ""


@dataclass
class _LineSum:
    amount: Decimal = ZERO
    quantity: Decimal = ZERO
    rates: set[Decimal] = field(default_factory=set)
    locations: list[str] = field(default_factory=list)


@dataclass
class _InvoiceSum:
    subtotal: Decimal | None = ZERO
    tax: Decimal | None = ZERO
    total: Decimal = ZERO
    lines: dict[tuple[str, str], _LineSum] = field(default_factory=dict)
    locations: list[str] = field(default_factory=list)
    proposal_ids: list[str] = field(default_factory=list)


def _hub_invoices(report: dict[str, Any]) -> dict[tuple[str, str], _InvoiceSum]:
    invoices: dict[tuple[str, str], _InvoiceSum] = {}
    for invoice in report.get("invoices", []):
        if invoice.get("status") == InvoiceStatus.REJECTED:
            continue
        summed = invoices.setdefault((invoice["contract_id"], invoice["period"]), _InvoiceSum())
        summed.subtotal = (summed.subtotal or ZERO) + Decimal(invoice["subtotal"])
        summed.tax = (summed.tax or ZERO) + Decimal(invoice["tax"])
        summed.total += Decimal(invoice["total"])
        summed.proposal_ids.append(invoice["proposal_id"])
        for line in invoice["lines"]:
            line_sum = summed.lines.setdefault((line["kind"], line["ref"]), _LineSum())
            line_sum.amount += Decimal(line["amount"])
            line_sum.quantity += Decimal(line["quantity"])
            if line.get("rate") is not None:
                line_sum.rates.add(Decimal(line["rate"]))
            line_sum.locations.append(line["line_id"])
    return invoices


def _legacy_from_lines(lines: Iterable[LegacyLine]) -> dict[tuple[str, str], _InvoiceSum]:
    invoices: dict[tuple[str, str], _InvoiceSum] = {}
    taxed: dict[tuple[str, str], bool] = defaultdict(bool)
    for line in lines:
        key = (line.contract_id, line.period)
        summed = invoices.setdefault(key, _InvoiceSum())
        summed.subtotal = (summed.subtotal or ZERO) + line.amount
        if line.tax is not None:
            taxed[key] = True
            summed.tax = (summed.tax or ZERO) + line.tax
        line_sum = summed.lines.setdefault((line.kind, line.ref), _LineSum())
        line_sum.amount += line.amount
        line_sum.quantity += line.quantity or ZERO
        if line.rate is not None:
            line_sum.rates.add(line.rate)
        line_sum.locations.append(line.location)
        summed.locations.append(line.location)
    for key, summed in invoices.items():
        if not taxed[key]:
            summed.tax = None
        summed.total = (summed.subtotal or ZERO) + (summed.tax or ZERO)
    return invoices


def _legacy_from_invoices(rows: Iterable[LegacyInvoice]) -> dict[tuple[str, str], _InvoiceSum]:
    invoices: dict[tuple[str, str], _InvoiceSum] = {}
    for row in rows:
        summed = invoices.setdefault((row.contract_id, row.period), _InvoiceSum())
        summed.subtotal = None if row.subtotal is None or summed.subtotal is None else summed.subtotal + row.subtotal
        summed.tax = None if row.tax is None or summed.tax is None else summed.tax + row.tax
        summed.total += row.total
        summed.locations.append(row.location)
    return invoices


def _contract_currencies(report: dict[str, Any]) -> dict[str, str]:
    """Each contract's invoicing currency, as the hub's invoices carry it (the legacy exports
    carry none): the amounts of a difference are in it."""
    currencies: dict[str, str] = {}
    for invoice in report.get("invoices", []):
        if invoice.get("currency"):
            currencies.setdefault(invoice["contract_id"], str(invoice["currency"]))
    return currencies


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else format_amount(value)


def _rates(rates: set[Decimal]) -> list[str]:
    return [format_amount(rate) for rate in sorted(rates)]


def reconcile_invoices(
    report: dict[str, Any],
    *,
    legacy_lines: Iterable[LegacyLine] = (),
    legacy_invoices: Iterable[LegacyInvoice] = (),
) -> dict[str, Any]:
    """The reconciliation document (JSON-ready): a summary, every difference, and one
    row per (contract, period) with both totals."""
    hub = _hub_invoices(report)
    lines = list(legacy_lines)
    by_line = bool(lines)
    legacy = _legacy_from_lines(lines) if by_line else _legacy_from_invoices(legacy_invoices)
    differences: list[dict[str, Any]] = []
    invoice_rows: list[dict[str, Any]] = []
    lines_compared = matching_lines = 0

    currency_of = _contract_currencies(report)

    def difference(kind: str, contract_id: str, period: str, **details: Any) -> None:
        differences.append(
            {
                "difference": kind,
                "contract_id": contract_id,
                "period": period,
                "currency": currency_of.get(contract_id),
                **details,
            }
        )

    for contract_id, period in sorted(set(hub) | set(legacy)):
        ours, theirs = hub.get((contract_id, period)), legacy.get((contract_id, period))
        found_before = len(differences)
        if ours is None and theirs is not None:
            difference(
                "missing", contract_id, period, line=None, legacy=_amount(theirs.total), legacy_rows=theirs.locations
            )
        elif theirs is None and ours is not None:
            difference(
                "extra", contract_id, period, line=None, billbridge=_amount(ours.total), proposals=ours.proposal_ids
            )
        elif ours is not None and theirs is not None:
            if by_line:
                for line_key in sorted(set(ours.lines) | set(theirs.lines)):
                    lines_compared += 1
                    line = {"kind": line_key[0], "ref": line_key[1]}
                    mine, legacy_line = ours.lines.get(line_key), theirs.lines.get(line_key)
                    if mine is None and legacy_line is not None:
                        difference(
                            "missing",
                            contract_id,
                            period,
                            line=line,
                            legacy=_amount(legacy_line.amount),
                            legacy_rows=legacy_line.locations,
                        )
                        continue
                    if legacy_line is None and mine is not None:
                        difference(
                            "extra",
                            contract_id,
                            period,
                            line=line,
                            billbridge=_amount(mine.amount),
                            lines=mine.locations,
                        )
                        continue
                    assert mine is not None and legacy_line is not None
                    same = True
                    if mine.amount != legacy_line.amount:
                        same = False
                        difference(
                            "amount",
                            contract_id,
                            period,
                            line=line,
                            billbridge=_amount(mine.amount),
                            legacy=_amount(legacy_line.amount),
                            delta=_amount(mine.amount - legacy_line.amount),
                            legacy_rows=legacy_line.locations,
                        )
                    if legacy_line.rates and mine.rates != legacy_line.rates:
                        same = False
                        difference(
                            "rate",
                            contract_id,
                            period,
                            line=line,
                            billbridge=_rates(mine.rates),
                            legacy=_rates(legacy_line.rates),
                            legacy_rows=legacy_line.locations,
                        )
                    matching_lines += same
            elif (theirs.subtotal is not None and ours.subtotal != theirs.subtotal) or ours.total != theirs.total:
                difference(
                    "amount",
                    contract_id,
                    period,
                    line=None,
                    billbridge=_amount(ours.total),
                    legacy=_amount(theirs.total),
                    delta=_amount(ours.total - theirs.total),
                    legacy_rows=theirs.locations,
                )
            if theirs.tax is not None and ours.tax != theirs.tax:
                difference(
                    "tax",
                    contract_id,
                    period,
                    line=None,
                    billbridge=_amount(ours.tax),
                    legacy=_amount(theirs.tax),
                    delta=_amount((ours.tax or ZERO) - theirs.tax),
                    legacy_rows=theirs.locations,
                )
        invoice_rows.append(
            {
                "contract_id": contract_id,
                "period": period,
                "currency": currency_of.get(contract_id),
                "billbridge_total": None if ours is None else _amount(ours.total),
                "legacy_total": None if theirs is None else _amount(theirs.total),
                "differences": len(differences) - found_before,
            }
        )
    counts = {kind: sum(1 for d in differences if d["difference"] == kind) for kind in DIFFERENCE_KINDS}
    return {
        "summary": {
            "compared_by": "line" if by_line else "invoice",
            "contracts": len({c for c, _ in set(hub) | set(legacy)}),
            "invoices": len(invoice_rows),
            "matching_invoices": sum(1 for row in invoice_rows if row["differences"] == 0),
            "lines_compared": lines_compared,
            "matching_lines": matching_lines,
            "differences": counts,
            "total_differences": len(differences),
        },
        "differences": differences,
        "invoices": invoice_rows,
    }
