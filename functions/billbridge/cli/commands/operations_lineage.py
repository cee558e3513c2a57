"""`billbridge trace ID`: from the raw webhook to the payment.

ID is an ERP invoice number, a proposal id, an entry (expense, milestone) id or a correlation id.
"""

from __future__ import annotations

import argparse

from billbridge.cli.output import emit, wants_document
from billbridge.cli.target import add_target_options, open_hub

TYPE_CHECKING = False  # `typing` costs ~4 ms to import: its names serve annotations only
if TYPE_CHECKING:
    from typing import Any


def register(subparsers: Any) -> None:
    trace = subparsers.add_parser(
        "trace",
        help="the chain raw webhook -> canonical event -> ledger lines -> proposal -> ERP invoice -> payments",
    )
    trace.add_argument(
        "identifier", help="ERP invoice number, proposal id, entry/expense/milestone id, or correlation id"
    )
    add_target_options(trace)
    trace.set_defaults(handler=trace_command)


def trace_command(args: argparse.Namespace) -> int:
    from billbridge.cli.commands.operations_target import raw_payloads_of
    from billbridge.reporting.trace_lineage import UnknownIdentifierError, trace_lineage, tree_lines

    with open_hub(args, read_only=True) as hub:
        try:
            trace = trace_lineage(args.identifier, hub.ledger, raw_payloads_of(hub))
        except UnknownIdentifierError as unknown:
            print(unknown.args[0])
            return 1
    if wants_document(args):
        emit(args, trace, lambda: None)
        return 0
    print("\n".join(tree_lines(trace["tree"])))
    if trace["audit"]:
        from billbridge.cli.tables import print_table

        print("\nAudit trail")
        print_table(
            ["recorded", "contract", "action", "ref", "source", "detail"],
            [
                [
                    r.get("recorded_at", ""),
                    r.get("contract_id", ""),
                    r["action"],
                    r["ref"],
                    r.get("source_ref", ""),
                    r.get("detail", ""),
                ]
                for r in trace["audit"]
            ],
        )
    return 0
