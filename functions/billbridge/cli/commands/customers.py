"""`billbridge customers list|show ID`: the customer master, the customers' ids
in every system and their contracts."""

from __future__ import annotations

import argparse

from billbridge.cli.output import emit, wants_document
from billbridge.cli.target import add_target_options, local_read_store, open_hub

TYPE_CHECKING = False  # `typing` costs ~4 ms to import: its names serve annotations only
if TYPE_CHECKING:
    from typing import Any


def register(subparsers: Any) -> None:
    customers = subparsers.add_parser("customers", help="customer master data, cross-system ids and contracts")
    commands = customers.add_subparsers(dest="customers_command", metavar="SUBCOMMAND")
    listing = commands.add_parser("list", help="every customer in the master or named by a contract")
    add_target_options(listing)
    listing.set_defaults(handler=list_command)
    show = commands.add_parser("show", help="one customer: its latest version, ids, exemptions and contracts")
    show.add_argument("customer_id")
    add_target_options(show)
    show.set_defaults(handler=show_command)
    customers.set_defaults(handler=lambda args: (customers.print_help(), 2)[1])


def list_command(args: argparse.Namespace) -> int:
    rows = customer_rows(args)
    if wants_document(args):
        emit(args, rows, lambda: None)
        return 0
    print_customer_rows(rows)
    return 0


def customer_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    """What `customers list` prints. On the local state it is read with the standard library
    (billbridge.local.customer_reads); on a deployed stack, or with a book in the
    single-item layout, through the ledger's adapters (`ledger_customer_rows`)."""
    from billbridge.local.customer_reads import customer_rows as stored_customer_rows

    with local_read_store(args) as store:
        rows = None if store is None else stored_customer_rows(store)
    return rows if isinstance(rows, list) else ledger_customer_rows(args)


def ledger_customer_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    from billbridge.reporting.customer_view import customer_rows as view_rows

    with open_hub(args, read_only=True) as hub:
        return view_rows(hub.ledger, hub.ledger.books())


def print_customer_rows(rows: list[dict[str, Any]]) -> None:
    from billbridge.cli.tables import print_table

    print_table(
        ["customer", "name", "status", "version", "currencies", "exemption", "contracts", "pending"],
        [
            [
                r["customer_id"],
                r["name"] or "-",
                r["status"],
                str(r["version"] or "-"),
                ", ".join(r["currencies"]) or "-",
                r["tax_exemption"] or "-",
                ", ".join(r["contracts"]) or "-",
                ", ".join(r["pending_contracts"]) or "-",
            ]
            for r in rows
        ],
    )


def show_command(args: argparse.Namespace) -> int:
    view = customer_document(args)
    if view is None:
        print(f"no customer {args.customer_id} is known")
        return 1
    if wants_document(args):
        emit(args, view, lambda: None)
        return 0
    print_customer(view)
    return 0


def customer_document(args: argparse.Namespace) -> dict[str, Any] | None:
    """What `customers show` prints (None: no such customer); read as `customer_rows` reads."""
    from billbridge.local.customer_reads import customer_detail as stored_customer_detail

    with local_read_store(args) as store:
        view = None if store is None else stored_customer_detail(store, args.customer_id)
    return ledger_customer_document(args) if store is None or isinstance(view, str) else view


def ledger_customer_document(args: argparse.Namespace) -> dict[str, Any] | None:
    from billbridge.reporting.customer_view import customer_detail

    with open_hub(args, read_only=True) as hub:
        return customer_detail(hub.ledger, args.customer_id, hub.ledger.books())


def print_customer(view: dict[str, Any]) -> None:
    from billbridge.cli.tables import print_table

    print(f"Customer {view['customer_id']}: {view.get('name', '')} ({view['status']})")
    if view["in_master"]:
        bill_to = view["bill_to"]
        print(f"  version {view['version']} effective {view['effective_date']} (versions {view['versions']})")
        print(f"  parent: {view['parent_customer_id'] or '-'}; payment terms: net {view['payment_terms_days']} days")
        print(f"  bill to: {bill_to['line1']}, {bill_to['postal_code']} {bill_to['city']}, {bill_to['country']}")
        print(f"  currencies: {', '.join(view['currencies'])}; tax jurisdiction: {view['tax_jurisdiction']}")
        for exemption in view["tax_exemptions"]:
            print(
                f"  tax exemption {exemption['certificate_id']}: "
                f"{exemption['valid_from']}..{exemption['valid_to'] or 'open-ended'}"
            )
    print("\nCross-system ids")
    print_table(["system", "id"], [[k, v] for k, v in view["ids"].items()])
    print("\nContracts")
    print_table(
        ["contract", "version", "currency", "legal entity", "master", "invoices", "open exceptions"],
        [
            [
                c["contract_id"],
                str(c["version"]),
                c["currency"],
                c["legal_entity"],
                c["master_status"] or "-",
                str(c["invoices"]),
                str(c["open_exceptions"]),
            ]
            for c in view["contracts"]
        ],
    )
