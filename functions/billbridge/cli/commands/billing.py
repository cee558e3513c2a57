"""`billbridge bill --period 2026-03 [--contract ID ...]`: start a billing run and wait for it."""

from __future__ import annotations

import argparse
import uuid
from typing import Any

from billbridge.cli.hub_target import add_target_options, open_hub, print_json


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("bill", help="run the billing workflow for a month (and optionally some contracts)")
    parser.add_argument("--period", required=True, help="calendar month, YYYY-MM")
    parser.add_argument(
        "--contract",
        action="append",
        dest="contracts",
        metavar="ID",
        help="bill only this contract (repeatable)",
    )
    parser.add_argument(
        "--request-id",
        help="names the run request: the same request id never starts a second execution "
        "(default: a new id, i.e. a new run; re-running a period bills only what is new)",
    )
    add_target_options(parser)
    parser.set_defaults(handler=bill_command)


def bill_command(args: argparse.Namespace) -> int:
    from billbridge.app.billing_requests import execution_name
    from billbridge.app.replay_report import invoice_document
    from billbridge.cli.tables import print_table

    request_id = args.request_id or uuid.uuid4().hex[:12]
    name = execution_name(args.period, args.contracts, request_id)
    with open_hub(args) as hub:
        before = {c: set(hub.ledger.load(c).book.invoices) for c in hub.ledger.contract_ids()}
        result = hub.start_run({"period": args.period, "contract_ids": args.contracts or None, "run_id": name}, name)
        hub.drain()
        hub.changed = True
        new_invoices = []
        for contract_id in hub.ledger.contract_ids():
            book = hub.ledger.load(contract_id).book
            for proposal_id, invoice in book.invoices.items():
                if proposal_id not in before.get(contract_id, set()):
                    new_invoices.append(invoice_document(invoice))
    if args.json:
        print_json({"execution": result, "invoices": new_invoices})
    else:
        print(f"billing run {name}: {result['status']}")
        print_table(
            ["proposal", "status", "lines", "subtotal", "tax", "total"],
            [
                [
                    i["proposal_id"],
                    i["status"],
                    str(len(i["lines"])),
                    *(f"{i[key]} {i['currency']}" for key in ("subtotal", "tax", "total")),
                ]
                for i in new_invoices
            ],
        )
    return 0 if result["status"] == "SUCCEEDED" else 1
