"""`billbridge trace ID`: from the raw webhook to the payment.

ID is an ERP invoice number, a proposal id, an entry (expense, milestone) id or a correlation id.
"""

from __future__ import annotations

import argparse

from billbridge.cli.output import emit, wants_document
from billbridge.cli.target import add_target_options, local_read_store, open_hub

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
    trace = trace_document(args)
    if isinstance(trace, str):
        print(trace)
        return 1
    if wants_document(args):
        emit(args, trace, lambda: None)
        return 0
    print_trace(trace)
    return 0


def trace_document(args: argparse.Namespace) -> dict[str, Any] | str:
    """What `trace` prints, or why the id names nothing. On the local state it is read with the
    standard library (billbridge.local.trace_reads); on a deployed stack, or with a book in
    the single-item layout, through the ledger (`ledger_trace_document`)."""
    from billbridge.local import trace_reads

    with local_read_store(args) as store:
        if store is not None:
            try:
                trace = trace_reads.trace(store, args.identifier)
            except trace_reads.UnknownIdentifierError as unknown:
                return str(unknown.args[0])
            if not isinstance(trace, str):
                return trace
    return ledger_trace_document(args)


def ledger_trace_document(args: argparse.Namespace) -> dict[str, Any] | str:
    from billbridge.cli.commands.operations_target import raw_payloads_of
    from billbridge.reporting.trace_lineage import UnknownIdentifierError, trace_lineage

    with open_hub(args, read_only=True) as hub:
        try:
            return trace_lineage(args.identifier, hub.ledger, raw_payloads_of(hub))
        except UnknownIdentifierError as unknown:
            return str(unknown.args[0])


def print_trace(trace: dict[str, Any]) -> None:
    from billbridge.reporting.lineage_tree import tree_lines

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
