"""Reconciliation with legacy invoices: each kind of difference per contract, period and line."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from billbridge.app.legacy_reconciliation import LegacyInvoice, LegacyLine, reconcile_invoices


def _invoice(
    contract_id: str,
    period: str,
    lines: list[tuple[str, str, str, str | None, str]],
    tax: str,
    status: str = "proposed",
) -> dict[str, Any]:
    subtotal = sum(Decimal(line[4]) for line in lines)
    return {
        "proposal_id": f"{contract_id}-{period}-1",
        "contract_id": contract_id,
        "period": period,
        "status": status,
        "subtotal": str(subtotal),
        "tax": tax,
        "total": str(subtotal + Decimal(tax)),
        "lines": [
            {
                "line_id": f"{kind}:{ref}:{n}",
                "kind": kind,
                "ref": ref,
                "quantity": quantity,
                "rate": rate,
                "amount": amount,
            }
            for n, (kind, ref, quantity, rate, amount) in enumerate(lines)
        ],
    }


def _line(
    contract_id: str,
    period: str,
    kind: str,
    ref: str,
    quantity: str,
    rate: str | None,
    amount: str,
    tax: str | None = None,
) -> LegacyLine:
    return LegacyLine(
        contract_id,
        period,
        kind,
        ref,
        Decimal(quantity),
        None if rate is None else Decimal(rate),
        Decimal(amount),
        None if tax is None else Decimal(tax),
        location=f"legacy.csv:{ref}",
    )


REPORT = {
    "invoices": [
        # split at an amendment: one (kind, ref), two hub lines
        _invoice(
            "C-1",
            "2026-02",
            [
                ("time", "T-1", "8", "200", "1600"),
                ("time", "T-1", "16", "220", "3520"),
                ("time", "T-2", "4", "150", "600"),
            ],
            tax="100",
        ),
        _invoice("C-1", "2026-03", [("milestone", "M1", "1", "3000", "3000")], tax="0"),
        _invoice("C-2", "2026-02", [("time", "T-9", "1", "100", "100")], tax="0", status="rejected"),
    ]
}


def _kinds(result: dict[str, Any]) -> set[tuple[str, str, str, str | None]]:
    return {
        (d["difference"], d["contract_id"], d["period"], None if d["line"] is None else d["line"]["ref"])
        for d in result["differences"]
    }


def test_the_same_invoices_reconcile_with_no_difference() -> None:
    legacy = [
        _line("C-1", "2026-02", "time", "T-1", "8", "200", "1600", tax="60"),
        _line("C-1", "2026-02", "time", "T-1", "16", "220", "3520", tax="40"),
        _line("C-1", "2026-02", "time", "T-2", "4", "150", "600"),
        _line("C-1", "2026-03", "milestone", "M1", "1", "3000", "3000", tax="0"),
    ]
    result = reconcile_invoices(REPORT, legacy_lines=legacy)
    assert result["differences"] == []
    assert result["summary"]["matching_lines"] == 3
    assert result["summary"]["matching_invoices"] == 2


def test_each_kind_of_difference_is_named_by_contract_period_and_line() -> None:
    legacy = [
        _line("C-1", "2026-02", "time", "T-1", "24", "200", "4800", tax="99"),  # old rate: amount and rate
        _line("C-1", "2026-02", "time", "T-3", "2", "150", "300"),  # the hub did not bill it
        _line("C-2", "2026-02", "time", "T-9", "1", "100", "100"),  # the hub's invoice was rejected
    ]
    result = reconcile_invoices(REPORT, legacy_lines=legacy)
    assert _kinds(result) == {
        ("amount", "C-1", "2026-02", "T-1"),
        ("rate", "C-1", "2026-02", "T-1"),
        ("missing", "C-1", "2026-02", "T-3"),
        ("extra", "C-1", "2026-02", "T-2"),
        ("tax", "C-1", "2026-02", None),
        ("extra", "C-1", "2026-03", None),
        ("missing", "C-2", "2026-02", None),
    }
    amount = next(d for d in result["differences"] if d["difference"] == "amount")
    assert (amount["billbridge"], amount["legacy"], amount["delta"]) == ("5120", "4800", "320")
    rate = next(d for d in result["differences"] if d["difference"] == "rate")
    assert (rate["billbridge"], rate["legacy"]) == (["200", "220"], ["200"])
    assert result["summary"]["differences"] == {"missing": 2, "extra": 2, "amount": 1, "rate": 1, "tax": 1}


def test_per_invoice_legacy_totals_compare_amounts_and_tax() -> None:
    legacy = [
        LegacyInvoice("C-1", "2026-02", Decimal("5720"), Decimal("100"), Decimal("5820")),
        LegacyInvoice("C-1", "2026-03", None, Decimal("10"), Decimal("3005")),
    ]
    result = reconcile_invoices(REPORT, legacy_invoices=legacy)
    assert result["summary"]["compared_by"] == "invoice"
    assert _kinds(result) == {("amount", "C-1", "2026-03", None), ("tax", "C-1", "2026-03", None)}
