"""`billbridge contracts list|show ID`: what the hub knows about a contract."""

from __future__ import annotations

import argparse

from billbridge.cli.output import emit, not_found, wants_document
from billbridge.cli.target import add_target_options, local_read_store, open_hub
from billbridge.local import read_models

TYPE_CHECKING = False  # `typing` costs ~4 ms to import: its names serve annotations only
if TYPE_CHECKING:
    from datetime import datetime
    from typing import Any


def register(subparsers: Any) -> None:
    contracts = subparsers.add_parser("contracts", help="contracts, their versions and cross-system ids")
    commands = contracts.add_subparsers(dest="contracts_command", metavar="SUBCOMMAND")
    listing = commands.add_parser("list", help="every known contract")
    add_target_options(listing)
    listing.set_defaults(handler=list_command)
    show = commands.add_parser("show", help="one contract: versions, id map, lines, invoices, exceptions")
    show.add_argument("contract_id")
    add_target_options(show)
    show.set_defaults(handler=show_command)
    propagation = commands.add_parser(
        "propagation", help="which contract version each system (PSA project, ERP schedule) holds, and since when"
    )
    propagation.add_argument(
        "--stale",
        type=float,
        metavar="HOURS",
        help="only versions unacknowledged for longer than HOURS (exit 1 if there are any)",
    )
    add_target_options(propagation)
    propagation.set_defaults(handler=propagation_command)
    contracts.set_defaults(handler=lambda args: (contracts.print_help(), 2)[1])


def list_command(args: argparse.Namespace) -> int:
    from billbridge.cli.tables import print_table

    with local_read_store(args) as store:
        rows = None if store is None else read_models.contract_rows(store)
    if rows is None:
        rows = _deployed_contract_rows(args)
    emit(
        args,
        rows,
        lambda: print_table(list(rows[0]) if rows else ["contract_id"], [[str(v) for v in r.values()] for r in rows]),
    )
    return 0


def _deployed_contract_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    with open_hub(args, read_only=True) as hub:
        rows = []
        for contract_id in hub.ledger.contract_ids():
            book = hub.ledger.load(contract_id).book
            latest = book.latest_version
            assert latest is not None
            rows.append(
                {
                    "contract_id": contract_id,
                    "version": latest.version,
                    "customer_id": latest.customer_id,
                    "legal_entity": latest.legal_entity,
                    "currency": latest.currency,
                    "invoices": len(book.invoices),
                    "open_exceptions": sum(1 for e in book.exceptions.values() if e.state.value == "open"),
                }
            )
    return rows


def show_command(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    view = contract_document(args, now)
    if view is None:
        return not_found(f"no contract {args.contract_id} is known (see `billbridge contracts list`)")
    if wants_document(args):
        emit(args, view, lambda: None)
        return 0
    print_contract(view)
    return 0


def contract_document(args: argparse.Namespace, now: datetime) -> dict[str, Any] | None:
    """What `contracts show` prints (None: no such contract). On the local state it is read with
    the standard library (billbridge.local.contract_reads); on a deployed stack, or for a
    book in the single-item layout, through the ledger's adapters (`ledger_contract_document`)."""
    from billbridge.local.contract_reads import LEGACY_LAYOUT
    from billbridge.local.contract_reads import contract_document as stored_contract_document

    with local_read_store(args) as store:
        view = LEGACY_LAYOUT if store is None else stored_contract_document(store, args.contract_id, now)
    if isinstance(view, str) and view == LEGACY_LAYOUT:
        return ledger_contract_document(args, now)
    return view


def ledger_contract_document(args: argparse.Namespace, now: datetime) -> dict[str, Any] | None:
    """`contracts show`'s document from the ledger's adapters and the application's views."""
    from billbridge.reporting.contract_view import contract_view
    from billbridge.reporting.downstream_view import command_document, propagation_documents

    with open_hub(args, read_only=True) as hub:
        stored = hub.ledger.load(args.contract_id)
        view = contract_view(stored.book, hub.ledger.mapping(args.contract_id))
        commands = hub.ledger.commands.of_contract(args.contract_id)
    if not stored.revision:
        return None
    view["propagation"] = propagation_documents(commands, now)
    view["commands"] = [command_document(c) for c in sorted(commands, key=lambda c: (c.first_sent_at, c.command_id))]
    return view


def print_contract(view: dict[str, Any]) -> None:
    from billbridge.cli.tables import money, print_table

    print(f"Contract {view['contract_id']} ({view['state']})")
    print_table(
        ["version", "effective", "term", "currency", "legal entity", "tax", "cap", "retainer"],
        [
            [
                str(v["version"]),
                v["effective_date"],
                f"{v['start_date']}..{v['end_date']}",
                v["currency"],
                v["legal_entity"],
                v["tax_jurisdiction"],
                money(v["cap_amount"], v["currency"]) if v["cap_amount"] else "-",
                money(v["retainer_amount"], v["currency"]) if v["retainer_amount"] else "-",
            ]
            for v in view["versions"]
        ],
    )
    print("\nCross-system ids")
    print_table(["system", "id"], [[k, v] for k, v in view["ids"].items()])
    print("\nPropagation (the version each system holds)")
    print_propagation(view["propagation"])
    print("\nCommands to the PSA and the ERP")
    print_table(
        ["command", "state", "system id", "attempts", "answer"],
        [
            [c["command_id"], c["state"], c["reference"] or "-", str(c["attempts"]), c["answer"] or "-"]
            for c in view["commands"]
        ],
    )
    print("\nLines")
    print_table(
        ["kind", "ref", "version", "quantity", "rate", "amount", "invoice", "what it is"],
        [
            [
                line["kind"],
                line["ref"],
                str(line["contract_version"] or "-"),
                line["quantity"],
                money(line["rate"], line["currency"]) if line["rate"] else "-",
                money(line["amount"], line["currency"]),
                line["invoice_id"] or "unbilled",
                line["description"],
            ]
            for line in view["lines"]
        ],
    )
    print("\nInvoices")
    print_table(
        ["proposal", "status", "ERP invoice", "total"],
        [
            [i["proposal_id"], i["status"], i["erp_invoice_number"] or "-", money(i["total"], i["currency"])]
            for i in view["invoices"]
        ],
    )
    print("\nExceptions")
    print_table(
        ["id", "type", "state", "amount", "refs"],
        [
            [e["exception_id"], e["type"], e["state"], money(e["amount"], e["currency"]), ", ".join(e["refs"])]
            for e in view["exceptions"]
        ],
    )


def print_propagation(rows: list[dict[str, Any]]) -> None:
    from billbridge.cli.tables import print_table

    print_table(
        ["contract", "system", "target", "latest", "state", "since", "holds", "acknowledged", "system id"],
        [
            [
                r["contract_id"],
                r["system"],
                r["target"],
                f"v{r['latest_version']}",
                r["state"] + (f" ({r['answer']})" if r["state"] in ("refused", "failed") and r["answer"] else ""),
                r["since"][:19],
                f"v{r['acknowledged_version']}" if r["acknowledged_version"] else "-",
                (r["acknowledged_at"] or "-")[:19],
                r["reference"] or "-",
            ]
            for r in rows
        ],
    )


def propagation_command(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta

    from billbridge.reporting.downstream_view import propagation_documents

    stale_after = None if args.stale is None else timedelta(hours=args.stale)
    with open_hub(args, read_only=True) as hub:
        rows = propagation_documents(hub.ledger.commands.all_commands(), datetime.now(UTC), stale_after=stale_after)
    emit(args, rows, lambda: print_propagation(rows))
    return 1 if stale_after is not None and rows else 0
