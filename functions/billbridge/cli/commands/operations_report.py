"""`billbridge report [--as-of DATE] [--html FILE]`: operating KPIs from the ledger.

On the local state the KPIs are computed over records read from the stored items with the
standard library (`billbridge.local.report_reads`); on a deployed stack (`--stack`), and on a
local state that must be read through the ledger (a book in the single-item layout, dead
letters waiting), over the ledger's books (`ledger_kpis`). One implementation computes them
(`billbridge.reporting.kpis.compute_kpis`).
"""

from __future__ import annotations

import argparse
from datetime import date

from billbridge.cli.output import emit, wants_document
from billbridge.cli.target import add_target_options, local_read_store, open_hub

TYPE_CHECKING = False  # `typing` costs ~4 ms to import: its names serve annotations only
if TYPE_CHECKING:
    from datetime import datetime
    from typing import Any

    from billbridge.reporting.kpi_tables import KpiTable

DEAD_LETTERS_SAMPLED = 100


def _path(text: str) -> Any:
    from pathlib import Path  # `pathlib` costs more than it serves a report that writes no page

    return Path(text)


def register(subparsers: Any) -> None:
    report = subparsers.add_parser(
        "report",
        help="KPIs: unbilled by age, approval-to-invoice days, corrections, exceptions, cap burn, failures",
    )
    report.add_argument("--as-of", type=date.fromisoformat, help="ages are counted to this date (default today)")
    report.add_argument("--html", type=_path, help="also write a single-file HTML report with charts")
    add_target_options(report)
    report.set_defaults(handler=report_command)


def ledger_kpis(args: argparse.Namespace, *, as_of: date, now: datetime | None) -> dict[str, Any]:
    """The KPIs over the ledger's books, its audit trails, command log and dead-letter queues."""
    from billbridge.cli.commands.operations_target import dead_letter_queues_of
    from billbridge.reporting.kpis import DeadLetterDepth, compute_kpis, timings_from_audit

    with open_hub(args, read_only=True) as hub:
        books = hub.ledger.books()
        commands = hub.ledger.commands.all_commands()
        trails = {book.contract_id: hub.ledger.audit_trail_of_contract(book.contract_id) for book in books}
        queues = dead_letter_queues_of(hub)
        dead_letters = []
        for depth in queues.depths():
            sampled = queues.peek(depth.workflow, limit=DEAD_LETTERS_SAMPLED) if depth.messages else []
            error_types: dict[str, int] = {}
            for message in sampled:
                key = message.error_type or "(no error attributes)"
                error_types[key] = error_types.get(key, 0) + 1
            sent = [m.sent_at for m in sampled if m.sent_at]
            dead_letters.append(
                DeadLetterDepth(depth.workflow, depth.messages, min(sent) if sent else None, error_types, tuple(sent))
            )
    return compute_kpis(
        books,
        as_of=as_of,
        timings=timings_from_audit(trails),
        dead_letters=dead_letters,
        commands=commands,
        now=now,
    )


def report_kpis(args: argparse.Namespace, *, as_of: date, now: datetime | None) -> dict[str, Any]:
    """The KPIs of the state the command targets: read with the standard library on the local state
    when it can be, through the ledger otherwise."""
    with local_read_store(args) as store:
        if store is not None:
            from billbridge.local.report_reads import local_kpis

            kpis = local_kpis(store, as_of=as_of, now=now)
            if kpis is not None:
                return kpis
    return ledger_kpis(args, as_of=as_of, now=now)


def report_command(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from billbridge.reporting.kpis import kpi_document

    as_of = args.as_of or date.today()
    document = kpi_document(report_kpis(args, as_of=as_of, now=None if args.as_of else datetime.now(UTC)))
    if args.html:
        from billbridge.reporting.html_report import render_html_report

        args.html.parent.mkdir(parents=True, exist_ok=True)
        args.html.write_text(render_html_report(document), encoding="utf-8")
    if wants_document(args):
        emit(args, document, lambda: None)
    else:
        print_report(document)
        if args.html:
            print(f"\nHTML report written to {args.html}")
    return 0


def _print(table: KpiTable) -> None:
    from billbridge.cli.tables import print_table

    print_table(table.headers, table.rows)


def print_report(kpis: dict[str, Any]) -> None:
    from billbridge.reporting import kpi_tables

    def per_currency(totals: list[dict[str, Any]]) -> str:
        return ", ".join(kpi_tables.money(t["amount"], t["currency"]) for t in totals) or "none"

    print(f"Billbridge KPIs as of {kpis['as_of']} ({kpis['contracts']} contracts)")
    if kpis.get("business") is not None:
        print("\nBusiness KPIs")
        _print(kpi_tables.business_kpi_table(kpis))
        _print(kpi_tables.failure_resolution_table(kpis))
        _print(kpi_tables.revenue_leakage_table(kpis))
    print(f"\nUnbilled approved work: {per_currency(kpis['unbilled']['totals'])}")
    print("by age (days since the line date) and legal entity")
    _print(kpi_tables.unbilled_table(kpis))
    print(
        f"\nHeld work (approved, no line yet: an open exception holds it): {per_currency(kpis['held_work']['totals'])}"
    )
    _print(kpi_tables.held_work_table(kpis))
    approval = kpis["approval_to_invoice"]
    print(
        f"\nApproval to invoice: median {approval['median_days'] or '-'} days, "
        f"p90 {approval['p90_days'] or '-'} days "
        f"over {approval['samples']} billed entries ({approval['from_audit_times']} from audit times, "
        f"{approval['from_dates']} from dates)"
    )
    corrections = kpis["corrections"]
    print(
        f"\nInvoices requiring correction: {corrections['requiring_correction']} "
        f"of {corrections['invoices']} "
        f"({corrections['share_percent'] or '0'}%): "
        + ", ".join(f"{reason} {count}" for reason, count in corrections["by_reason"].items())
    )
    _print(kpi_tables.corrections_table(kpis))
    print(
        "\nExceptions by type (money at risk = open, not informational): "
        + per_currency(kpis["exceptions"]["money_at_risk"])
    )
    _print(kpi_tables.exceptions_table(kpis))
    print("\nCap burn (invoiced time / cap)")
    _print(kpi_tables.cap_burn_table(kpis))
    failures = kpis["integration_failures"]
    print(
        f"\nIntegration failures: {failures['dead_lettered_messages']} dead-lettered message(s), "
        f"{len(failures['billing_failed'])} billing failure(s) ({failures['billing_failed_open']} open), "
        f"median resolution {failures['median_resolution_hours'] or '-'} h"
    )
    _print(kpi_tables.dead_letters_table(kpis))
    propagation = kpis["propagation"]
    counts = propagation["counts"]
    print(
        "\nContract versions propagated to the PSA and the ERP (latest version per contract and system): "
        + ", ".join(f"{counts[state]} {state}" for state in ("acknowledged", "pending", "refused", "failed"))
        + f"; {counts['stale']} unacknowledged for more than {propagation['stale_after_hours']} h"
    )
    _print(kpi_tables.propagation_table(kpis))
