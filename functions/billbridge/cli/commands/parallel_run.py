"""`billbridge parallel-run`: a year of exported history (or a scenario) through the
hub's use cases on an embedded SQLite ledger, reconciled with the legacy invoices."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from billbridge.app.ports import RunStatus

EXIT_CODES = """exit codes:
  0  the run completed; no difference with the legacy invoices (or none given)
  1  the run completed with differences (legacy invoices, or --expected)
  2  input rows or deliveries were refused (each named by file, line and field)
  3  a billing run FAILED or an event was dead-lettered: the hub did not bill everything
  4  an input file cannot be read at all, or --resume does not match the store"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "parallel-run",
        help="replay exported history (or a scenario) through the hub on SQLite and reconcile with legacy invoices",
        description=(
            "Drives the hub's use cases and domain over exported history in bulk on an embedded SQLite "
            "ledger, bills every month, writes the replay report and a reconciliation with the legacy "
            "invoices per contract, period and line (JSON and HTML). File formats: docs/parallel-run.md."
        ),
        epilog=EXIT_CODES,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--history", type=Path, help="a directory of export files with their conventional names")
    source.add_argument("--scenario", type=Path, help="a scenario file (deliveries and billing runs) instead")
    parser.add_argument("--config", type=Path, help="the billing configuration (a scenario's `config` document)")
    parser.add_argument("--contracts", type=Path, action="append", default=[], help="contracts (JSON)")
    parser.add_argument("--time-entries", type=Path, action="append", default=[], help="time entries (CSV/JSONL)")
    parser.add_argument("--expenses", type=Path, action="append", default=[], help="expenses (CSV/JSONL)")
    parser.add_argument("--milestones", type=Path, action="append", default=[], help="milestones (CSV/JSONL)")
    parser.add_argument("--legacy-invoices", type=Path, help="the legacy invoices (CSV per line or per invoice)")
    parser.add_argument("--out", type=Path, required=True, help="directory for the report, reconciliation and store")
    parser.add_argument("--store", type=Path, help="the SQLite ledger (default: OUT/ledger.sqlite)")
    parser.add_argument("--through", help="bill every month up to this one (YYYY-MM; default: the last month seen)")
    parser.add_argument("--checkpoint-every", type=int, default=100_000, help="records per committed checkpoint")
    parser.add_argument("--resume", action="store_true", help="continue from the store's last committed checkpoint")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes sharing the contracts (one store each: STORE-1-of-N.sqlite, ...); e.g. one per core",
    )
    parser.add_argument("--expected", type=Path, help="an expected report to check the result against")
    progress = parser.add_mutually_exclusive_group()
    progress.add_argument("--progress", dest="progress", action="store_true", default=None, help="show progress")
    progress.add_argument("--no-progress", dest="progress", action="store_false", help="never show progress")
    parser.set_defaults(handler=parallel_run_command)


def _history_files(args: argparse.Namespace) -> Any:
    from billbridge.parallel_run.export_files import HistoryFiles

    files = HistoryFiles.in_directory(args.history) if args.history else HistoryFiles()
    if args.config:
        files.config = args.config
    for role in ("contracts", "time_entries", "expenses", "milestones"):
        given = getattr(args, role)
        if given:
            setattr(files, role, list(given))
    if args.legacy_invoices:
        files.legacy_invoices = [args.legacy_invoices]
    return files


def parallel_run_command(args: argparse.Namespace) -> int:
    from billbridge.adapters.sqlite_ledger import LedgerStoreError
    from billbridge.parallel_run.export_files import ExportFileError
    from billbridge.parallel_run.history_run import ResumeError

    try:
        return _run(args)
    except (ExportFileError, ResumeError, LedgerStoreError) as error:
        print(f"parallel-run: {error}", file=sys.stderr)
        return 4


def _run(args: argparse.Namespace) -> int:
    from billbridge.app.legacy_reconciliation import reconcile_invoices
    from billbridge.cli.tables import print_table
    from billbridge.parallel_run.export_files import RejectedRow, read_legacy_invoices
    from billbridge.parallel_run.history_run import peak_rss_mb
    from billbridge.parallel_run.progress_bar import ProgressBar
    from billbridge.parallel_run.reconciliation_page import difference_cells, render_reconciliation_html
    from billbridge.reporting.report_comparison import compare_report

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    store = args.store or out / "ledger.sqlite"
    show_progress = sys.stderr.isatty() if args.progress is None else args.progress
    bar = ProgressBar() if show_progress else None
    rejected: list[RejectedRow] = []
    if args.scenario:
        hub, report, summary = _run_scenario(args.scenario, store)
        runs, dead_letters, published = hub.runs, hub.dead_letters, hub.publisher.counts
        files = None
    else:
        from billbridge.parallel_run.history_run import run_history

        files = _history_files(args)
        if not files.contracts:
            print("parallel-run: no contracts file (contracts.json or --contracts)", file=sys.stderr)
            return 4
        try:
            result = run_history(
                files,
                store,
                through=args.through,
                checkpoint_every=args.checkpoint_every,
                resume=args.resume,
                progress=bar,
                workers=args.workers,
            )
        finally:
            if bar:
                bar.close()
        report = result.report
        runs, dead_letters, published = result.runs, result.dead_letters, result.published
        rejected += result.rejected
        summary = {
            "records": result.records,
            "resumed_from_record": result.resumed_from,
            "months_billed": result.periods,
            "checkpoints": result.checkpoints,
            "seconds": round(result.seconds, 2),
            "records_per_second": round((result.records - result.resumed_from) / result.seconds, 1)
            if result.seconds
            else None,
            "workers": args.workers,
            "peak_rss_mb_per_worker": result.peak_rss_mb,
            "stores": [str(path) for path in result.stores],
        }

    write_json(out / "replay-report.json", report)
    summary.update(
        {
            "invoices": len(report["invoices"]),
            "exceptions": len(report["exceptions"]),
            "billing_runs": [run.as_json() for run in runs],
            "dead_letters": [d.as_json() for d in dead_letters],
            "published_events": dict(sorted(published.items())),
        }
    )
    legacy_path = args.legacy_invoices or (files.legacy_invoices[0] if files and files.legacy_invoices else None)
    reconciliation = None
    if legacy_path is not None:
        lines, invoices = read_legacy_invoices(legacy_path, rejected)
        reconciliation = reconcile_invoices(report, legacy_lines=lines, legacy_invoices=invoices)
        write_json(out / "reconciliation.json", reconciliation)
        page = render_reconciliation_html(
            reconciliation,
            title=f"Parallel run: {args.scenario.name if args.scenario else (args.history or out).name}",
            run={k: v for k, v in summary.items() if not isinstance(v, list | dict)},
        )
        (out / "reconciliation.html").write_text(page, encoding="utf-8")
    summary["rejected_rows"] = [r.as_json() for r in rejected]
    summary["peak_rss_mb_main"] = peak_rss_mb()
    (out / "run-summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")

    print(
        f"parallel run: {summary.get('records', summary.get('deliveries'))} inputs, {len(runs)} billing run(s), "
        f"{summary['invoices']} invoice(s), {summary['exceptions']} exception(s)"
    )
    if "records_per_second" in summary:
        print(
            f"  {summary['seconds']} s, {summary['records_per_second']} records/s, "
            f"{summary['checkpoints']} checkpoint(s)"
        )
    for row in rejected[:20]:
        print(f"  refused: {row}")
    if len(rejected) > 20:
        print(f"  ... {len(rejected) - 20} more refused row(s) in {out / 'run-summary.json'}")
    for dead in dead_letters[:20]:
        print(f"  dead-lettered: {dead.where} {dead.event_type}: {dead.error}")
    for run in runs:
        if run.status != RunStatus.SUCCEEDED:
            print(f"  billing run {run.period}: {run.status}")
            for failure in run.failures:
                print(f"    {failure['contract_id']}: {failure['error']}: {failure['message']}")
                print("      " + failure["traceback"].replace("\n", "\n      "))
    print(f"report: {out / 'replay-report.json'}; store: {', '.join(summary.get('stores', [str(store)]))}")
    status = 0
    if reconciliation is not None:
        counts = reconciliation["summary"]["differences"]
        print(
            f"reconciliation with {legacy_path}: {reconciliation['summary']['total_differences']} difference(s) "
            + " ".join(f"{k}={v}" for k, v in counts.items())
            + f"; {out / 'reconciliation.html'}"
        )
        first = reconciliation["differences"][:10]
        if first:
            print_table(
                ["difference", "contract", "period", "line", "currency", "billbridge", "legacy"],
                [difference_cells(d) for d in first],
            )
        status = 1 if reconciliation["summary"]["total_differences"] else 0
    if args.expected:
        problems = compare_report(report, json.loads(args.expected.read_text(encoding="utf-8")))
        for problem in problems:
            print(f"  mismatch: {problem}")
        print("matches the expected report" if not problems else f"{len(problems)} mismatch(es)")
        status = status or (1 if problems else 0)
    if rejected:
        status = max(status, 2)
    if dead_letters or any(run.status != RunStatus.SUCCEEDED for run in runs):
        status = 3
    return status


LARGE_DOCUMENT_ITEMS = 20_000
"""Above this many invoice lines, invoices or differences a document is written compact:
Python's JSON encoder is pure Python (and many times slower) when it indents."""


def write_json(path: Path, document: dict[str, Any]) -> None:
    invoices = document.get("invoices", ())
    items = len(invoices) + sum(len(i.get("lines", ())) for i in invoices) + len(document.get("differences", ()))
    with path.open("w", encoding="utf-8") as handle:
        if items > LARGE_DOCUMENT_ITEMS:
            write_compact_json(handle, document)
        else:
            json.dump(document, handle, indent=2)
        handle.write("\n")


def write_compact_json(handle: Any, document: dict[str, Any]) -> None:
    """`json.dump(document, handle, separators=(",", ":"))`, byte for byte, with the C encoder:
    `json.dump` always encodes in Python; `json.dumps` uses C but builds the whole text at once.
    Each item of a top-level list is encoded on its own, so the text is never held whole."""
    compact = {"separators": (",", ":")}
    if not all(isinstance(key, str) for key in document):
        json.dump(document, handle, **compact)
        return
    handle.write("{")
    for position, (key, value) in enumerate(document.items()):
        handle.write(("," if position else "") + json.dumps(key) + ":")
        if isinstance(value, list):
            handle.write("[")
            for index, item in enumerate(value):
                handle.write(("," if index else "") + json.dumps(item, **compact))
            handle.write("]")
        else:
            handle.write(json.dumps(value, **compact))
    handle.write("}")


def _run_scenario(path: Path, store: Path) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    from billbridge.adapters.sqlite_ledger import SqliteLedger
    from billbridge.app.billing_config_document import billing_config_from
    from billbridge.parallel_run.bulk_hub import BulkHub
    from billbridge.reporting.replay_report import build_replay_report

    scenario = json.loads(path.read_text(encoding="utf-8"))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{store}{suffix}").unlink(missing_ok=True)
    with SqliteLedger(store) as ledger:
        if scenario.get("config"):
            ledger.save_config(billing_config_from(scenario["config"]))
        hub = BulkHub(ledger)
        hub.run_scenario(scenario)
        report = build_replay_report(ledger.books())
    counts = hub.deliveries
    summary: dict[str, Any] = {
        "scenario": scenario.get("name", path.name),
        "deliveries": counts.accepted + counts.duplicate + counts.conflict + counts.rejected,
        "accepted": counts.accepted,
        "duplicates": counts.duplicate,
        "conflicts": counts.conflict,
        "refused": counts.rejected,
        "refusal_reasons": counts.reasons,
    }
    return hub, report, summary
