"""`billbridge bill --period 2026-03 [--contract ID ...]`: start a billing run and wait for it."""

from __future__ import annotations

import argparse
import sys
import uuid
from typing import Any

from billbridge.app.ports import RunStatus
from billbridge.cli.output import emit, wants_document
from billbridge.cli.target import add_target_options, open_hub


def register(subparsers: Any) -> None:
    from billbridge.cli.main import EXIT_CODES, EXIT_STILL_RUNNING

    parser = subparsers.add_parser(
        "bill",
        help="run the billing workflow for a month (and optionally some contracts)",
        epilog=EXIT_CODES,
    )
    parser.add_argument("--period", required=True, type=calendar_month, help="calendar month, YYYY-MM")
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
    parser.add_argument(
        "--wait",
        type=positive_seconds,
        default=3600.0,
        metavar="SECONDS",
        help="with --stack: wait at most this long for the run (default 3600); past it the run goes on "
        f"in AWS and the command exits {EXIT_STILL_RUNNING}",
    )
    add_target_options(parser)
    parser.set_defaults(handler=bill_command)


def positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: the wait must be more than 0 seconds")
    return seconds


def calendar_month(text: str) -> str:
    """`--period`: a calendar month written YYYY-MM (argparse refuses anything else in one line)."""
    from billbridge.domain.billing_run import InvalidPeriodError, Period

    try:
        Period.parse(text)
    except InvalidPeriodError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a calendar month written YYYY-MM") from None
    return text


def bill_command(args: argparse.Namespace) -> int:
    from billbridge.app.billing_requests import execution_name, run_input
    from billbridge.cli.main import EXIT_HUB_FAILED, EXIT_STILL_RUNNING, EXIT_USAGE
    from billbridge.cli.tables import print_table
    from billbridge.reporting.replay_report import invoice_document

    request_id = args.request_id or uuid.uuid4().hex[:12]
    name = execution_name(args.period, args.contracts, request_id)
    with open_hub(args) as hub:
        known = set(hub.ledger.contract_ids())
        unknown = sorted(set(args.contracts or ()) - known)
        if unknown:
            print(
                f"billbridge: no such contract: {', '.join(unknown)} (see `billbridge contracts list`)", file=sys.stderr
            )
            return EXIT_USAGE
        before = {c: set(hub.ledger.load(c).book.invoices) for c in known}
        result = hub.start_run(run_input(args.period, args.contracts or None, name), name)
        drained = hub.drain()
        hub.changed = True
        new_invoices = []
        for contract_id in hub.ledger.contract_ids():
            book = hub.ledger.load(contract_id).book
            for proposal_id, invoice in book.invoices.items():
                if proposal_id not in before.get(contract_id, set()):
                    new_invoices.append(invoice_document(invoice))
    if result.get("waited_out"):
        print(
            f"billbridge: billing run {name} still RUNNING after {args.wait:.0f} s; it goes on in AWS: "
            f"aws stepfunctions describe-execution --execution-arn {result['executionArn']}",
            file=sys.stderr,
        )
        return EXIT_STILL_RUNNING
    failures = [f"step failed: {line}" for line in result.get("failed_steps", [])]
    failures += [f"consumer crashed: {line}" for line in getattr(drained, "errors", [])]
    if result["status"] != RunStatus.SUCCEEDED:
        failures.insert(0, f"execution {result['status']}: {result.get('error') or ''}".rstrip())
    status = RunStatus.SUCCEEDED if not failures else RunStatus.FAILED
    if wants_document(args):
        emit(
            args, {"execution": result, "status": status, "failures": failures, "invoices": new_invoices}, lambda: None
        )
    else:
        print(f"billing run {name}: {status}")
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
    if failures:
        print(f"FAILED: {len(failures)} failure(s) (tracebacks above, on stderr):", file=sys.stderr)
        for line in failures:
            print(f"  {line}", file=sys.stderr)
        return EXIT_HUB_FAILED
    return 0
