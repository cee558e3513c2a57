"""`billbridge intake FILE --source psa`: bulk intake of a file of actuals on the local stack.

The file goes where a data platform would drop it (`intake/{source}/NAME` in the intake
bucket), through the same splitter and chunk workers as on AWS; then the actuals queue is
drained (the rows are rated into their contracts' books). Prints the result (rows accepted,
duplicates, refused rows with their reasons) and writes it beside the local file
(`NAME.result.json`), as the deployed intake writes it beside the dropped object.

Exit 0 when every row has an outcome (refused rows are the file's errors, counted, still 0);
2 when the file could not be processed at all; 3 when a function crashed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from billbridge import topology

MAX_PRINTED_REFUSALS = 50


def register(subparsers: Any) -> None:
    from billbridge.cli.main import EXIT_CODES

    parser = subparsers.add_parser(
        "intake",
        help="bulk intake of a CSV or JSON-lines file of time entries, expenses and milestones (local stack)",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", type=Path, help="a .csv or .jsonl file (docs/decisions/0012: columns, identity)")
    parser.add_argument(
        "--source", required=True, choices=topology.WEBHOOK_SOURCES, help="the system the file comes from"
    )
    parser.add_argument("--result", type=Path, help="where to write the result (default: FILE.result.json)")
    parser.add_argument("--state-file", help="the local state (default: .billbridge/local-state.sqlite)")
    parser.add_argument("--json", action="store_true", help="print the whole result as JSON")
    parser.set_defaults(handler=intake_command)


def intake_command(args: argparse.Namespace) -> int:
    from billbridge.cli.main import EXIT_HUB_FAILED, EXIT_USAGE
    from billbridge.local.intake_pipeline import run_intake
    from billbridge.local.stack import LocalStack
    from billbridge.local.store import default_state_path

    body = args.file.read_bytes()
    state = Path(args.state_file) if args.state_file else default_state_path()
    state.parent.mkdir(parents=True, exist_ok=True)
    with LocalStack(state_file=state, lazy_billing=True) as stack:
        result = run_intake(stack, args.file, source=args.source, body=body)
        with stack.unit_of_work():
            drained = stack.drain()
    crashes = list(result.pop("local_errors", [])) + [f"consumer crashed: {e}" for e in drained.errors]
    destination = args.result or args.file.with_name(args.file.name + topology.INTAKE_RESULT_SUFFIX)
    destination.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(result, indent=1, ensure_ascii=False))
    else:
        _print_summary(result, destination)
    if crashes:
        print(f"FAILED: {len(crashes)} failure(s) (tracebacks above, on stderr):", file=sys.stderr)
        for line in crashes:
            print(f"  {line}", file=sys.stderr)
        return EXIT_HUB_FAILED
    if result.get("status") != "completed":
        print(f"billbridge: {args.file} could not be processed: {result.get('error')}", file=sys.stderr)
        return EXIT_USAGE
    return 0


def _print_summary(result: dict[str, Any], destination: Path) -> None:
    from billbridge.cli.tables import print_table

    print(
        f"{result.get('file')}: {result.get('status')}, {result.get('rows', 0)} rows: "
        f"{result.get('accepted', 0)} accepted, {result.get('duplicates', 0)} duplicate(s), "
        f"{result.get('refused', 0)} refused"
    )
    print(f"result: {destination}")
    refused = result.get("refused_rows") or []
    if refused:
        print_table(
            ["row", "line", "type", "field", "reason"],
            [
                [str(r["row"]), str(r["line"]), r.get("type", ""), r.get("field", ""), r["reason"]]
                for r in refused[:MAX_PRINTED_REFUSALS]
            ],
        )
        if len(refused) > MAX_PRINTED_REFUSALS:
            print(f"... and {len(refused) - MAX_PRINTED_REFUSALS} more refused row(s) in {destination}")
