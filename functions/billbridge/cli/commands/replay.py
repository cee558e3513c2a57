"""`billbridge replay SCENARIO.json --report REPORT.json [--compare LEGACY.csv] [--expected EXPECTED.json]`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from billbridge.cli.target import add_replaced_state_options, confirm_replacing_state, default_state_path


def register(subparsers: Any) -> None:
    from billbridge.cli.main import EXIT_CODES

    parser = subparsers.add_parser(
        "replay",
        help="replay a scenario through the whole local stack and write the replay report",
        description="Replay a scenario through the whole local stack: each delivery signed as its vendor "
        "would sign it and posted to the local webhook endpoint over HTTP, each billing run an execution "
        "of the deployed state machine definition. The report is computed from the ledger.",
        epilog=EXIT_CODES,
    )
    parser.add_argument("scenario", type=Path, help="scenario file (deliveries and billing runs)")
    parser.add_argument("--report", type=Path, required=True, help="where to write the replay report (JSON)")
    parser.add_argument("--compare", type=Path, help="legacy invoice totals (CSV: contract_id,period,total)")
    parser.add_argument("--expected", type=Path, help="an expected report to check the result against")
    add_replaced_state_options(parser, what="the replay (kept for operator commands afterwards)")
    progress = parser.add_mutually_exclusive_group()
    progress.add_argument(
        "--progress", dest="progress", action="store_true", default=None, help="show progress (default: on a terminal)"
    )
    progress.add_argument("--no-progress", dest="progress", action="store_false", help="never show progress")
    parser.set_defaults(handler=replay_command)


def replay_command(args: argparse.Namespace) -> int:
    from billbridge.cli.main import EXIT_DIFFERENCES, EXIT_HUB_FAILED
    from billbridge.cli.tables import print_table
    from billbridge.local.scenario_replay import (
        ScenarioReplayer,
        generate_webhook_secrets,
        legacy_differences,
    )
    from billbridge.local.stack import LocalStack
    from billbridge.reporting.report_comparison import compare_report

    scenario = json.loads(args.scenario.read_text(encoding="utf-8"))
    state_path = Path(args.state_file or default_state_path())
    confirm_replacing_state(str(state_path), yes=args.yes, command="billbridge replay")
    secrets = generate_webhook_secrets()
    from billbridge.parallel_run.progress_bar import ProgressBar

    show_progress = sys.stderr.isatty() if args.progress is None else args.progress
    bar = ProgressBar(unit="steps", min_interval=0.0) if show_progress else None
    try:
        with (
            LocalStack(secrets=secrets, state_file=state_path, reset_state=True) as stack,
            ScenarioReplayer(stack, secrets) as replayer,
        ):
            result = replayer.run(scenario, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(result.report, indent=2) + "\n", encoding="utf-8")

    refused = result.refusals
    print(
        f"replayed {scenario.get('name', args.scenario.name)}: {len(result.deliveries)} deliveries "
        f"({len(refused)} refused), {len(result.runs)} billing run(s)"
    )
    for delivery in refused:
        print(f"  step {delivery.step}: HTTP {delivery.status} {delivery.body.get('error', '')}")
    for run in result.runs:
        print(f"  billing run {run.period} (step {run.step}): {run.shown_status}")
    for reason, count in result.dead_lettered_with_reason.items():
        print(f"  dead-lettered (the sender's error): {count} x {reason}")
    print_table(
        ["proposal", "status", "lines", "subtotal", "tax", "total"],
        [
            [
                i["proposal_id"],
                i["status"],
                str(len(i["lines"])),
                *(f"{i[key]} {i['currency']}" for key in ("subtotal", "tax", "total")),
            ]
            for i in result.report["invoices"]
        ],
    )
    print(f"report written to {args.report}; local state saved to {state_path}")
    failures = result.failures
    if failures:
        print(f"FAILED: {len(failures)} failure(s) of the hub (tracebacks above, on stderr):", file=sys.stderr)
        for line in failures:
            print(f"  {line}", file=sys.stderr)
    status = 0
    if args.compare:
        differences = legacy_differences(result.report, args.compare)
        if differences:
            print(f"{len(differences)} difference(s) with {args.compare}:")
            print_table(
                ["contract", "period", "billbridge", "legacy", "difference"],
                [[d["contract_id"], d["period"], d["billbridge"], d["legacy"], d["difference"]] for d in differences],
            )
            status = EXIT_DIFFERENCES
        else:
            print(f"no differences with {args.compare}")
    if args.expected:
        problems = compare_report(result.report, json.loads(args.expected.read_text(encoding="utf-8")))
        for problem in problems:
            print(f"  mismatch: {problem}")
        print("matches the expected report" if not problems else f"{len(problems)} mismatch(es)")
        status = status or (EXIT_DIFFERENCES if problems else 0)
    return EXIT_HUB_FAILED if failures else status
