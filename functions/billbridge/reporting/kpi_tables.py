"""The KPI report's tables, once: the terminal and the HTML report render the same rows."""

from __future__ import annotations

from billbridge.domain.money import shown_money

TYPE_CHECKING = False  # `typing` costs ~4 ms to import: its names serve annotations only
if TYPE_CHECKING:
    from typing import Any


class KpiTable:
    """A table's headers and rows; `numeric`: the columns aligned right in the HTML report."""

    __slots__ = ("headers", "numeric", "rows")

    def __init__(self, headers: tuple[str, ...], rows: list[list[str]], numeric: frozenset[int] = frozenset()) -> None:
        self.headers = headers
        self.rows = rows
        self.numeric = numeric


def money(amount: Any, currency: str) -> str:
    """An amount as shown anywhere: always with its own currency, at its minor unit (`610.00 EUR`)."""
    return shown_money(amount, currency)


def unbilled_table(kpis: dict[str, Any]) -> KpiTable:
    return KpiTable(
        ("Legal entity", "Currency", "Age (days)", "Hours", "Amount", "Lines"),
        [
            [
                r["legal_entity"],
                r["currency"],
                r["age_bucket"],
                r["hours"],
                money(r["amount"], r["currency"]),
                str(r["lines"]),
            ]
            for r in kpis["unbilled"]["rows"]
        ],
        frozenset({3, 4, 5}),
    )


def held_work_table(kpis: dict[str, Any]) -> KpiTable:
    return KpiTable(
        ("Contract", "Held", "Held by", "Work date", "Hours", "Amount at stake"),
        [
            [
                r["contract_id"],
                f"{r['kind']} {r['ref']}",
                r["held_by"],
                r["work_date"],
                r["hours"] if r["kind"] == "time" else "-",
                money(r["amount"], r["currency"]),
            ]
            for r in kpis["held_work"]["items"]
        ],
        frozenset({4, 5}),
    )


def corrections_table(kpis: dict[str, Any]) -> KpiTable:
    return KpiTable(
        ("Proposal", "Contract", "Total", "Reasons"),
        [
            [r["proposal_id"], r["contract_id"], money(r["total"], r["currency"]), ", ".join(r["reasons"])]
            for r in kpis["corrections"]["rows"]
        ],
        frozenset({2}),
    )


def exceptions_table(kpis: dict[str, Any]) -> KpiTable:
    return KpiTable(
        ("Type", "Currency", "Total", "Open", "Approved", "Written off", "Resolved", "Withdrawn", "Money at risk"),
        [
            [
                r["type"],
                r["currency"],
                str(r["total"]),
                str(r["open"]),
                str(r["approved"]),
                str(r["written_off"]),
                str(r["resolved"]),
                str(r["withdrawn"]),
                money(r["money_at_risk"], r["currency"]),
            ]
            for r in kpis["exceptions"]["rows"]
        ],
        frozenset({2, 3, 4, 5, 6, 7, 8}),
    )


def cap_burn_table(kpis: dict[str, Any]) -> KpiTable:
    return KpiTable(
        ("Contract", "Cap", "Invoiced time", "Remaining", "Held", "Burn"),
        [
            [
                r["contract_id"],
                money(r["cap"], r["currency"]),
                money(r["invoiced_time"], r["currency"]),
                money(r["remaining"], r["currency"]),
                money(r["held"], r["currency"]),
                f"{r['burn_percent']}%",
            ]
            for r in kpis["cap_burn"]
        ],
        frozenset({1, 2, 3, 4, 5}),
    )


def dead_letters_table(kpis: dict[str, Any]) -> KpiTable:
    return KpiTable(
        ("Workflow", "DLQ messages", "Oldest", "Errors"),
        [
            [
                d["workflow"],
                str(d["messages"]),
                d["oldest_sent_at"] or "-",
                ", ".join(f"{k} {v}" for k, v in d["error_types"].items()) or "-",
            ]
            for d in kpis["integration_failures"]["dead_letters"]
        ],
        frozenset({1}),
    )


def propagation_table(kpis: dict[str, Any]) -> KpiTable:
    """Contract versions each system has not acknowledged for longer than the alarm's age."""
    return KpiTable(
        ("Contract", "System", "Latest version", "State", "Sent", "System holds"),
        [
            [
                r["contract_id"],
                r["system"],
                f"v{r['latest_version']}",
                r["state"],
                r["since"][:19],
                f"v{r['acknowledged_version']}" if r["acknowledged_version"] else "-",
            ]
            for r in kpis.get("propagation", {}).get("stale", [])
        ],
    )


def business_kpi_table(kpis: dict[str, Any]) -> KpiTable:
    """The seed's business KPIs in one table: figure, value, what it counts."""
    business = kpis.get("business")
    if business is None:
        return KpiTable(("KPI", "Value", "Over"), [])
    dso, disputes = business["dso"], business["dispute_rate"]
    resolution, leakage = business["failure_resolution"], business["revenue_leakage"]
    approval = kpis["approval_to_invoice"]
    rows = [
        [
            "DSO (days, posting to payment)",
            str(dso["days"] if dso["days"] is not None else "-"),
            ", ".join(f"{r['currency']} {r['days']}" for r in dso["by_currency"])
            + f" ({dso['payments']} payments; {len(dso['outstanding'])} invoices outstanding)",
        ],
        [
            "Dispute rate (%)",
            str(disputes["percent"] if disputes["percent"] is not None else "-"),
            f"{disputes['disputed']} of {disputes['invoices']} invoices: "
            + ", ".join(f"{reason} {count}" for reason, count in disputes["by_reason"].items()),
        ],
        [
            "Failure resolution (median / p90 h)",
            f"{resolution['median_hours'] or '-'} / {resolution['p90_hours'] or '-'}",
            f"{resolution['closed']} closed exceptions; {resolution['open']} open failures "
            f"(oldest {resolution['oldest_open_hours'] or '-'} h)",
        ],
        [
            "Revenue leakage",
            ", ".join(money(r["amount"], r["currency"]) for r in leakage["by_currency"]) or "none",
            f"{len(leakage['rows'])} written-off or withdrawn exceptions",
        ],
        [
            "Approved time to invoice (median / p90 days)",
            f"{approval['median_days'] or '-'} / {approval['p90_days'] or '-'}",
            f"{approval['samples']} billed entries",
        ],
    ]
    return KpiTable(("KPI", "Value", "Over"), rows, frozenset({1}))


def failure_resolution_table(kpis: dict[str, Any]) -> KpiTable:
    business = kpis.get("business") or {"failure_resolution": {"by_kind": []}}
    return KpiTable(
        ("Failure kind", "Closed", "Median (h)", "p90 (h)"),
        [
            [r["kind"], str(r["closed"]), str(r["median_hours"] or "-"), str(r["p90_hours"] or "-")]
            for r in business["failure_resolution"]["by_kind"]
        ],
        frozenset({1, 2, 3}),
    )


def revenue_leakage_table(kpis: dict[str, Any]) -> KpiTable:
    business = kpis.get("business") or {"revenue_leakage": {"by_currency": []}}
    return KpiTable(
        ("Currency", "Written off", "Withdrawn", "Leakage"),
        [
            [
                r["currency"],
                money(r["written_off"], r["currency"]),
                money(r["withdrawn"], r["currency"]),
                money(r["amount"], r["currency"]),
            ]
            for r in business["revenue_leakage"]["by_currency"]
        ],
        frozenset({1, 2, 3}),
    )
