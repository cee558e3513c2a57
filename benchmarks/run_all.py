"""Run every benchmark, write `benchmarks/results/figures.json`, regenerate the README tables.

    python -m benchmarks.run_all [--quick] [--only NAME ...]

Default sizes keep the whole run around 12-15 minutes on a 2-core machine (the
2,000-contract billing run is most of it); `--quick` runs each at a small size
(a few minutes). Each benchmark's figures go
under its name in figures.json, with the run's date, Python and sizes; the
sections between this module's markers in benchmarks/README.md are rewritten
from them (other sections of the README are left as they are).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.util import find_spec
from pathlib import Path
from typing import Any

BENCHMARKS_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCHMARKS_DIR / "results"
FIGURES = RESULTS_DIR / "figures.json"
README = BENCHMARKS_DIR / "README.md"

Runner = Callable[[bool], dict[str, Any]]


def cold_start(quick: bool) -> dict[str, Any]:
    from benchmarks import cold_start as bench

    return bench.run(runs=3 if quick else 11, first_call_runs=2 if quick else 5, first_event_runs=1 if quick else 5)


def ingest_throughput(quick: bool) -> dict[str, Any]:
    from benchmarks import ingest_throughput as bench

    figures = bench.run(contracts=5, single=50 if quick else 300, batches=1 if quick else 3)
    figures["history"] = bench.run_history(100 if quick else 10_000)
    return figures


def aws_calls(quick: bool) -> dict[str, Any]:
    from benchmarks import aws_calls as bench

    return bench.run(contracts=2 if quick else 4, entries_per_contract=20 if quick else 50)


def billing_scale(quick: bool) -> dict[str, Any]:
    from benchmarks import billing_scale as bench

    # 10 entries per contract at every size, so that the time per contract compares across sizes
    # (a contract's tasks read and write its own partition; the billing run's cost per contract
    # does not depend on other contracts).
    return bench.run(
        sizes=(20,) if quick else (200, 2000, 10_000),
        entries=10,
        definition_only=(40,) if quick else (),
        large_contracts=(300,) if quick else (20_000,),
    )


def package_size(quick: bool) -> dict[str, Any]:
    from benchmarks import package_size as bench

    return bench.run(first_use_rounds=3 if quick else 11)


def domain_throughput(quick: bool) -> dict[str, Any]:
    from benchmarks import domain_throughput as bench

    if not quick:
        return dict(bench.main([]))
    with tempfile.TemporaryDirectory() as temp:  # quick figures must not replace its own results file
        return dict(bench.main(["--contracts", "100", "--entries", "10000", "--output", f"{temp}/domain.json"]))


def command_time(quick: bool) -> dict[str, Any]:
    from benchmarks import command_time as bench

    return bench.run(runs=1 if quick else 5, include_bill=not quick, read_only_runs=3 if quick else 15)


def parallel_run(quick: bool) -> dict[str, Any]:
    from benchmarks import parallel_run as bench

    # The 1,000,000-entry history (about 10 minutes alone) runs with `python -m benchmarks.parallel_run`.
    if quick:
        return bench.run(entries=10_000, contracts=200, months=12)
    return bench.run(entries=100_000, contracts=2000, months=12)


def ledger_scale(quick: bool) -> dict[str, Any]:
    from benchmarks import ledger_scale as bench

    if quick:
        return bench.run(bench.QUICK_SHAPES, hub_shapes=bench.QUICK_SHAPES[:2])
    # The whole hub at every shape: minutes each since the local stack's stand-ins read only
    # a Query's partition (`billbridge.local.stand_in_boundary.faster_stand_ins`).
    return bench.run(bench.DEFAULT_SHAPES)


def amendment_cost(quick: bool) -> dict[str, Any]:
    from benchmarks import amendment_cost as bench

    return bench.run(bench.QUICK_SIZES if quick else bench.DEFAULT_SIZES)


def intake(quick: bool) -> dict[str, Any]:
    from benchmarks import intake as bench

    return bench.run(rows=5_000 if quick else 100_000, heap_rows=2_000 if quick else None)


RUNNERS: dict[str, Runner] = {
    "cold_start": cold_start,
    "ingest_throughput": ingest_throughput,
    "aws_calls": aws_calls,
    "billing_scale": billing_scale,
    "package_size": package_size,
    "domain_throughput": domain_throughput,
    "command_time": command_time,
    "parallel_run": parallel_run,
    "ledger_scale": ledger_scale,
    "amendment_cost": amendment_cost,
    "intake": intake,
}


def available(name: str) -> bool:
    return find_spec(f"benchmarks.{name}") is not None


def run_benchmarks(names: list[str], quick: bool) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for name in names:
        if not available(name):
            figures[name] = {"skipped": "module not present"}
            continue
        print(f"== {name}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            result = RUNNERS[name](quick)
        except Exception as error:  # one failing benchmark must not lose the others' figures
            traceback.print_exc()
            result = {"error": f"{type(error).__name__}: {error}"}
        result["elapsed_s"] = round(time.perf_counter() - started, 1)
        figures[name] = result
        print(f"   {name}: {result['elapsed_s']} s", file=sys.stderr, flush=True)
    return figures


def merged(previous: dict[str, Any], fresh: dict[str, Any], quick: bool) -> dict[str, Any]:
    return {
        **previous,
        **fresh,
        "run": {
            "date": datetime.now(UTC).strftime("%Y-%m-%d"),
            "quick": quick,
            "python_host": platform.python_version(),
            "machine": platform.machine(),
            "cpus": _cpu_count(),
        },
    }


def _cpu_count() -> int:
    import os

    return os.cpu_count() or 0


# -- README sections -----------------------------------------------------------------------------

SECTION_TITLES = {
    "overview": "Performance and cost: how these figures are made",
    "cold_start": "Cold start proxy (import time per Lambda entrypoint)",
    "ingest_throughput": "Ingest throughput on the local stack",
    "aws_calls": "AWS calls and cost per effect",
    "ledger_scale": "Ledger cost per entry as a contract's history grows",
    "billing_scale": "Billing run scale",
    "package_size": "Package size",
    "command_time": "Operator command wall time",
    "parallel_run": "Parallel run at history scale",
    "amendment_cost": "Amendment cost as a contract's history grows",
    "intake": "Bulk intake of a 100,000-row file",
}


def _marker(name: str, end: bool = False) -> str:
    return f"<!-- {'/' if end else ''}perf:{name} -->"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def render_overview(figures: dict[str, Any]) -> str:
    run = figures.get("run", {})
    return (
        "`python -m benchmarks.run_all` (or `make bench`) runs every benchmark (about 12-15 minutes; "
        "`--quick` for a few; `--only NAME ...` for some) and writes `benchmarks/results/figures.json`; "
        "the sections below are regenerated from it. Each module also runs alone: "
        "`python -m benchmarks.<name> --help`. Figures are medians of the same run; ratios compare "
        "figures of the same run. The machine is shared and noisy: compare ratios, not milliseconds, "
        "across runs.\n\n"
        f"Last run: {run.get('date', '?')}, {'quick' if run.get('quick') else 'default'} sizes, "
        f"host Python {run.get('python_host', '?')}, {run.get('machine', '?')}, {run.get('cpus', '?')} CPUs."
    )


def render_cold_start(f: dict[str, Any]) -> str:
    rows = [
        [
            label,
            row["import_ms"],
            row["import_ratio_to_naive"],
            row["process_ms"],
            row["process_ratio_to_naive"],
        ]
        for label, row in f["imports"].items()
    ]
    first = f["first_invocation"]
    first_rows = [
        [label, r["import_ms"], r["first_call_ms"], r["import_plus_first_call_ms"], r["second_call_ms"]]
        for label, r in first.items()
    ]
    goal = f["goal_webhook_import_ratio_max"]
    return "\n\n".join(
        [
            f"{f['python']}, byte-compiled code and dependencies, median of {f['runs']} fresh processes per "
            "row (round-robin). `import ms`: the handler module's import timed inside the process; "
            '`process ms`: wall time of `python -c "import module"` including interpreter start. '
            "The naive handler imports Powertools Logger, Tracer, Metrics, APIGatewayRestResolver, "
            "pydantic and boto3 at module level and builds the first three and the resolver there.",
            _table(["entrypoint", "import ms", "x naive", "process ms", "x naive"], rows),
            f"Goal: webhook import at most {goal:.0%} of the naive handler's: "
            f"{f['webhook_import_ratio_to_naive']:.0%} ({_verdict(f['webhook_import_ratio_to_naive'] <= goal)}); "
            f"whole process {f['webhook_process_ratio_to_naive']:.0%}.",
            f"First invocation (median of {f['first_call_runs']} processes each): import, then one signed "
            "delivery handled against a moto server (secret read, S3 put, DynamoDB claim, EventBridge put), "
            "then a second one. Lazy imports move cost into the first call; this is the figure that "
            "counts for a cold request.",
            _table(
                ["handler", "import ms", "first call ms", "import + first call ms", "second call ms"],
                first_rows,
            ),
            f"Webhook import + first call: {f['webhook_first_invocation_ratio_to_naive']:.0%} of the naive handler's.",
            *render_first_events(f),
        ]
    )


def render_first_events(f: dict[str, Any]) -> list[str]:
    """Issue 19: import + first handled event of every entrypoint beside its naive twin, the goals,
    and where the imports' time goes."""
    events = f.get("first_events")
    if not events:
        return []
    rows = [
        [
            label,
            row["hub"]["import_ms"],
            row["naive"]["import_ms"],
            row["import_ratio"],
            row["hub"]["import_plus_first_event_ms"],
            row["naive"]["import_plus_first_event_ms"],
            row["cold_ratio"],
            ", ".join(sorted(set(row["hub"]["errors"]) | set(row["naive"]["errors"]))) or "-",
        ]
        for label, row in events.items()
    ]
    goal_rows = [
        [g["goal"], f"<= {g['max']:.2f}", g["ratio"], g["row"], _verdict(g["met"])] for g in f.get("goals", [])
    ]
    webhook_top = f["first_invocation"]["webhook"].get("top_imports_ms", [])
    top_rows = [["webhook", ", ".join(f"{name} {ms}" for name, ms in webhook_top)]] if webhook_top else []
    top_rows += [
        [label, ", ".join(f"{name} {ms}" for name, ms in row["top_imports_ms"])] for label, row in events.items()
    ]
    return [
        "**Import + first handled event** (the headline figure), median of "
        f"{f.get('first_event_runs', '?')} rounds; each round runs a month's flow for a contract of its "
        "own in fresh processes against one moto server (the contract approved, a time entry, the billing "
        "run's tasks with the results of the ones before, the invoice posted by the ERP, the scheduled "
        "start and the KPIs), once through the hub's handler and once through its naive twin: the same "
        "handler behind the usual eager prelude (Powertools Logger, Tracer and Metrics built at module "
        "level, pydantic, boto3, and for the consumers the batch utilities). `errors`: a handler that "
        "raised (a batch with every record failed raises by design).",
        _table(
            [
                "entrypoint",
                "import ms",
                "naive import ms",
                "x naive",
                "import + first event ms",
                "naive import + first event ms",
                "x naive",
                "errors",
            ],
            rows,
        ),
        _table(["goal (issue 19)", "ratio at most", "measured (worst row)", "row", "verdict"], goal_rows),
        "`python -X importtime`, one more round of the hub's handlers (import + first event): self time "
        "per package in ms (our modules by name), top ten. The flag itself slows imports: read the order, "
        "not the milliseconds.",
        _table(["entrypoint", "top ten imports (self ms)"], top_rows),
    ]


GOAL_INGEST_ENTRIES_PER_S = 100
"""Issue 22: the history's first 10,000 entries through the full local stack."""


def render_ingest(f: dict[str, Any]) -> str:
    parts = []
    history = f.get("history")
    if history:
        kinds = ", ".join(f"{n:,} {kind}" for kind, n in history["records_by_kind"].items())
        parts += [
            f"The generated history's first {history['time_entries']:,} time entries (records {history['records']:,}: "
            f"{kinds}; {history['contracts']:,} contracts), delivered as signed CloudEvents batches of up to "
            f"{history['batch_size']} events to the webhook handler (API Gateway proxy events, in-process), with "
            f"`drain()` (rules, queues, consumers) after every {history['drain_every_deliveries']} deliveries. Every "
            "time entry is checked in its contract's book. The stand-ins are the local stack's own (no "
            "benchmark-only patch).",
            _table(
                [
                    "entries",
                    "records",
                    "deliveries",
                    "deliver s",
                    "drain s",
                    "CPU s",
                    "entries/s",
                    "entries/CPU s",
                    "load average (1/5/15 min, after)",
                ],
                [
                    [
                        history["time_entries"],
                        history["records"],
                        history["deliveries"],
                        history["deliver_s"],
                        history["drain_s"],
                        history["cpu_s"],
                        history["entries_per_s"],
                        history["entries_per_cpu_s"],
                        " / ".join(str(x) for x in history["load_average"]),
                    ]
                ],
            ),
            f"Goal: at least {GOAL_INGEST_ENTRIES_PER_S} entries/s: {history['entries_per_s']} "
            f"({_verdict(history['entries_per_s'] >= GOAL_INGEST_ENTRIES_PER_S)}).",
        ]
    rows = [
        [
            name,
            f[name]["entries"],
            f[name]["deliveries"],
            f[name]["deliver_s"],
            f[name]["drain_s"],
            f[name].get("cpu_s", "-"),
            f[name]["entries_per_s"],
        ]
        for name in ("single", "batched")
    ]
    parts += [
        f"Synthetic phases: {f['contracts']} contracts; signed deliveries handed to the webhook handler in-process, "
        "one event or 100 events per delivery, then `drain()` until quiet.",
        _table(["deliveries of", "entries", "deliveries", "deliver s", "drain s", "CPU s", "entries/s"], rows),
        "These are local-stack figures: most of the time is moto's request handling (every AWS call the handlers "
        "make is parsed, dispatched and serialized by moto in-process). They say nothing about Lambda throughput, "
        "which scales with concurrency; see the cost section for the hub's own time per invocation.",
    ]
    return "\n\n".join(parts)


def render_aws_calls(f: dict[str, Any]) -> str:
    book_items = f.get("contract_items") or f.get("book_compressed") or {}  # earlier runs: one book item
    prices = [[key, f"{p['usd']:.10g}", p["what"]] for key, p in f["prices"].items()]
    items = list(f["single"]["usd_per_million_entries_by_item"])
    cost_rows = [
        [
            key,
            f["single"]["units_per_entry"][key],
            f["single"]["usd_per_million_entries_by_item"][key],
            f["batched"]["units_per_entry"][key],
            f["batched"]["usd_per_million_entries_by_item"][key],
        ]
        for key in items
    ]
    cost_rows.append(["**total**", "", f["single_usd_per_million_entries"], "", f["batched_usd_per_million_entries"]])
    calls = sorted(set(f["single"]["calls_per_entry"]) | set(f["batched"]["calls_per_entry"]))
    call_rows = [
        [name, f["single"]["calls_per_entry"].get(name, 0), f["batched"]["calls_per_entry"].get(name, 0)]
        for name in calls
    ]
    line_rows = [[name, n] for name, n in f["calls_per_invoice_line"].items()]
    single_goal, batched_goal = f["goal_single_usd_per_million_max"], f["goal_batched_usd_per_million_max"]
    batched_ok = f["batched_usd_per_million_entries"] <= batched_goal
    return "\n\n".join(
        [
            f"{f['contracts']} contracts x {f['entries'] // max(f['contracts'], 1)} time entries: half delivered one "
            "per request, half in batches of 100, then one billing run "
            f"({f['invoice_lines']} invoice lines; the run's own Standard execution "
            f"{f['billing_transitions']} state transitions, {f.get('billing_children', 0)} Express child "
            f"execution(s) entering {f.get('billing_child_transitions', 0)} states, billed "
            f"{f.get('billing_child_express_ms', 0):g} ms). Items holding "
            f"the books at the end: median {book_items.get('median_bytes')} bytes, largest "
            f"{book_items.get('max_bytes')} bytes. Billing-run costs "
            "are spread over the entries billed.",
            f"Prices, {f['price_date']}:",
            _table(["item", "USD per unit", "what"], prices),
            "Hub calls per accepted time entry (handlers' own boto3 calls; the modelled AWS-side work is "
            "in the units below):",
            _table(["service:operation", "one per request", "batches of 100"], call_rows),
            "Hub calls per invoice line in the billing run (including Step Functions' Lambda invokes):",
            _table(["service:operation", "calls per line"], line_rows),
            "Units and USD per 1,000,000 time entries (ingest + their share of the billing run):",
            _table(
                [
                    "item",
                    "units/entry (single)",
                    "USD/M (single)",
                    "units/entry (batch 100)",
                    "USD/M (batch 100)",
                ],
                cost_rows,
            ),
            f"Goals: batches of 100 at most USD {batched_goal:g} per million: USD "
            f"{f['batched_usd_per_million_entries']} ({_verdict(batched_ok)}); "
            f"one per request at most USD {single_goal:g}: USD {f['single_usd_per_million_entries']} "
            f"({_verdict(f['single_usd_per_million_entries'] <= single_goal)}). Dominant cost: "
            f"`{f['batched']['dominant_cost']}` (batched), `{f['single']['dominant_cost']}` (single).",
            "Modelled, not measured: Lambda duration (own CPU time, the invocation thread's CPU less that "
            "inside AWS calls, so the shared machine's waits for a core do not count, scaled to a 512 MB "
            "function's CPU share, "
            "plus an assumed round trip per AWS call), the Express children's duration (the sum of their "
            "tasks' billed durations, as if one contract ran at a time: an upper bound), DynamoDB storage "
            "(not included: a small delivery's raw body kept 400 days in its claim costs about USD 2.3 per "
            "million entries, decision 5), cold starts (not included), the SQS pollers' empty "
            "receives (a fixed cost per queue, not per entry), CloudWatch Logs, metrics and X-Ray (not "
            "included).",
        ]
    )


def render_billing_scale(f: dict[str, Any]) -> str:
    rows = [
        [
            size,
            r["entries_per_contract"],
            r["run_s"],
            r["ms_per_contract"],
            r.get("cpu_ms_per_contract", ""),
            r["invoices_proposed"],
            r["children"],
            r["parent_events"],
            r["child_events_max"],
            r["contracts_in_largest_child"],
            r["transitions_per_contract"],
        ]
        for size, r in f["sizes"].items()
    ]
    rows += [
        [
            size,
            "stand-in tasks",
            r["run_s"],
            r["ms_per_contract"],
            r.get("cpu_ms_per_contract", ""),
            r["invoices_proposed"],
            r["children"],
            r["parent_events"],
            r["child_events_max"],
            r["contracts_in_largest_child"],
            r["transitions_per_contract"],
        ]
        for size, r in f.get("definition_only", {}).items()
    ]
    definition = next(iter(f["sizes"].values()))["definition"]
    projected = f["projection"]
    return "\n\n".join(
        [
            "Books built by the hub's use cases on the in-memory ledger and batch-written to the local "
            "ledger table; one billing run over all contracts by moto's interpreter of the deployed "
            "definition (a Distributed Map over batches of "
            f"{f['batch_size']} contracts, one child execution each), tasks run in-process, one at a time. "
            "History events: the run's own execution (`parent`) as moto records it, and the largest child "
            "execution's (moto keeps no history for children: the benchmark gives each one its own, plus "
            "the ExecutionStarted/Succeeded pair AWS records)."
            + (
                " Rows with stand-in tasks run the same definition with SelectContracts over named ids and "
                "compose/post that return at once (no ledger): they measure the state machine's history and "
                "the interpreter's time per contract, not billing work."
                if f.get("definition_only")
                else ""
            )
            + (
                " A row `N of M` bills the first N contracts of a ledger holding M "
                "(`--ledger-contracts M`): the time per contract billed against a larger table."
                if any(" of " in size for size in f["sizes"])
                else ""
            ),
            _table(
                [
                    "contracts",
                    "entries each",
                    "run s",
                    "ms/contract",
                    "CPU ms/contract",
                    "invoices",
                    "children",
                    "parent events",
                    "child events (max)",
                    "contracts in that child",
                    "transitions/contract",
                ],
                rows,
            ),
            f"At {projected['contracts']:,} contracts, from the measured per-item figures: "
            f"{projected['children']:,} children; parent {projected['parent_events']} events (flat across "
            f"sizes), a child {projected['child_events_per_contract']} events per contract x "
            f"{projected['batch_size']} = {projected['child_events']:,}; largest execution "
            f"{projected['max_events_per_execution']:,} of {projected['limit']:,} "
            f"({_verdict(projected['under_limit'])}). A child would reach the limit at "
            f"{projected['largest_batch_under_limit']:,} contracts per batch.",
            f"From the definition: {definition['per_contract_invoiced']} states entered per invoiced contract "
            f"({', '.join(f'{k}: {v}' for k, v in definition['per_contract_by_outcome'].items())}), plus "
            f"{definition['per_child_fixed']} per child and {definition['run_fixed']} per run; "
            f"{definition['retries_and_catches_add']}.",
            "CPU ms/contract: the process's CPU time during the run (the interpreter, the stand-ins and "
            "the tasks together) per contract; unlike the wall time it does not grow when other jobs share "
            "the machine. The local stack's DynamoDB `Query` reads only the partition it names, of the "
            "table or of the lookup index, as DynamoDB does "
            "(`billbridge.local.dynamodb_partitions`), so a contract's tasks do not slow down as the "
            "ledger table fills. `--quick` runs 20 contracts; "
            "`python -m benchmarks.billing_scale --contracts N [N ...] --entries M` any sizes.",
            *render_large_contract(f.get("large_contract", {})),
        ]
    )


def render_large_contract(large: dict[str, Any]) -> list[str]:
    """One contract with many unbilled lines, billed end to end (`billing_scale --large-contract`)."""
    if not large:
        return []
    rows = [
        [
            f"{r['lines']:,}",
            r["status"],
            r["invoice_lines"],
            r["run_s"],
            f"{r['transactions']} / {r['transaction_items_max']}",
            r["task_payload_bytes_max"],
            f"{r['longest_task']} {r['task_ms_max'].get(r['longest_task'], 0) / 1000:.1f} s",
            _verdict(r["within_limits"]),
        ]
        for r in large.values()
    ]
    return [
        "**One large contract** (`python -m benchmarks.billing_scale --large-contract LINES`): one contract "
        "with that many unbilled one-day time entries, built and seeded as above, billed by one run of the "
        "same definition on the local stack (compose and reserve, then post). Transactions: how many "
        "`TransactWriteItems` and the most items in one (DynamoDB allows 100); payload: the largest task "
        "input or output (Step Functions carries 256 KB); the longest task's time on the local stack "
        "(compose's Lambda timeout is 300 s).",
        _table(
            [
                "lines",
                "run",
                "invoice lines",
                "run s",
                "transactions / most items",
                "largest payload bytes",
                "longest task",
                "within limits",
            ],
            rows,
        ),
    ]


def render_package_size(f: dict[str, Any]) -> str:
    code, layer = f["code_asset"], f["dependency_layer"]
    rows = [
        ["function code asset", code["unpacked_mb"], code["zipped_mb"], code["files"]],
        ["dependency layer", layer["unpacked_mb"], layer["zipped_mb"], layer["files"]],
    ]
    top = ", ".join(f"{name} {mb} MB" for name, mb in layer["largest_mb"].items())
    return "\n\n".join(
        [
            "Built by the stack's own local bundlers into a temporary directory (byte-compiled; the layer "
            "for Linux arm64 and Python 3.13, without the runtime-provided boto3/botocore).",
            _table(["artifact", "unpacked MB", "zipped MB", "files"], rows),
            f"Together {f['total_unpacked_mb']} MB of Lambda's {f['lambda_unzipped_limit_mb']} MB unzipped "
            f"limit. Largest in the layer: {top}.",
            *_layer_goal_lines(f),
        ]
    )


def _layer_goal_lines(f: dict[str, Any]) -> list[str]:
    if "layer_goal_mb" not in f:
        return []
    layer, goal = f["dependency_layer"], f["layer_goal_mb"]
    unexcluded = f["layer_without_exclusions"]
    verdict = "met" if layer["unpacked_mb"] <= goal else "**not met**"
    return [
        f"Layer goal (issue 19): at most {goal} MB unpacked: {layer['unpacked_mb']} MB ({verdict}). Without "
        f"`infra.bundling.LAYER_EXCLUSIONS` the same requirements make {unexcluded['unpacked_mb']} MB "
        f"({unexcluded['files']} files).",
        *_first_use_lines(f.get("first_use", {})),
    ]


def _first_use_lines(first_use: dict[str, Any]) -> list[str]:
    if "median_ms" not in first_use:
        return []
    libraries = list(next(iter(first_use["median_ms"].values())))
    rows = [[operation, *times.values()] for operation, times in first_use["median_ms"].items()]
    return [
        f"What the smaller layer costs: the first use of the cryptography in a container (import, set-up, one "
        f"operation; fresh processes of the runtime's Python 3.13, isolated, wheels for {first_use['platform']}, "
        f"median of {first_use['rounds']}; decision 26), ms:",
        _table(["operation", *libraries], rows),
    ]


def render_command_time(f: dict[str, Any]) -> str:
    rows = [
        [
            name,
            (
                ("read-only (standard library)" if r.get("standard_library_reads") else "read-only (ledger adapters)")
                if r["read_only"]
                else ("starts the stand-ins" if r["starts_stand_ins"] else "-")
            ),
            r["median_ms"],
            r["ratio_to_bare_import"],
        ]
        for name, r in f["commands"].items()
    ]
    goal = f["goal_read_only_ratio_max"]
    return "\n\n".join(
        [
            f"Fresh processes, median of {f['runs']} per command ({f.get('read_only_runs', f['runs'])} for the bare "
            "import and the read-only commands), round-robin in one run, on a local state "
            f"built by `billbridge demo` ({f['demo_state_build_s']} s). Ratio: the command's wall time over "
            '`python -c "import billbridge"` (interpreter start included) of the same run. Read-only commands '
            "read the SQLite store without starting the stand-ins; `config load` starts the local stack "
            "without the billing workflow; `bill` creates the state machine and runs it.",
            _table(["command", "path", "median ms", "x bare import"], rows),
            f"Goal: read-only commands at most {goal:g}x the bare import: worst {f['read_only_ratio_max']}x "
            f"({_verdict(f['read_only_ratio_max'] <= goal)}); the commands that read with the standard library: "
            f"worst {f.get('standard_library_ratio_max', '-')}x "
            f"({_verdict(f.get('standard_library_ratio_max', goal + 1) <= goal)}).",
        ]
    )


def render_parallel_run(f: dict[str, Any]) -> str:
    g = f["generated"]
    r = f["reconciliation"]
    return "\n\n".join(
        [
            f"A generated history (seed {g['seed']}): {g['entries']:,} time entries over {g['contracts']:,} "
            f"contracts and {g['months']} months ({g['amended_contracts']} amended with a rate change, "
            f"{g['capped_contracts']} capped, {g['expenses']:,} expenses, {g['milestones']} milestones, "
            f"{g['corrections']:,} corrected entries), {f['export_mb']} MB of export files, through "
            "`billbridge parallel-run` in its own process: reading and validating, ingest, "
            f"{len(f['billing_runs'])} monthly billing runs, the report and the reconciliation with "
            f"{g['legacy_lines']:,} legacy invoice lines.",
            _table(
                [
                    "entries",
                    "records",
                    "wall s",
                    "entries/s",
                    "CPU s",
                    "entries/CPU s",
                    "workers",
                    "peak RSS MB (largest process / all)",
                    "store MB",
                    "invoices",
                    "checkpoints",
                ],
                [
                    [
                        f"{g['entries']:,}",
                        f"{f['records']:,}",
                        f["wall_s"],
                        f["entries_per_s"],
                        f["cpu_s"],
                        f.get("entries_per_cpu_s", "-"),
                        f.get("workers", 1),
                        f"{f['peak_rss_mb']} / {f.get('peak_rss_mb_all_processes', f['peak_rss_mb'])}",
                        f["store_mb"],
                        f["invoices"],
                        f["checkpoints"],
                    ]
                ],
            ),
            f"Goal: at least {f['goal_entries_per_s_min']:,} entries/s end to end: {f['entries_per_s']:,} "
            f"({_verdict(f['goal_met'])}), with the machine's 1-minute load average at "
            f"{' -> '.join(str(x) for x in f.get('load_average_1m', ['?']))} on {f.get('cpus', '?')} CPUs "
            "(other work shares the cores: wall time depends on it, CPU seconds much less). "
            f"Reconciliation: {r['total_differences']:,} differences "
            f"({', '.join(f'{k} {v:,}' for k, v in r['differences'].items())}) over {r['lines_compared']:,} lines.",
        ]
    )


def render_ledger_scale(f: dict[str, Any]) -> str:
    direct_rows = [
        [
            name,
            row["entries"],
            f"{row['item_bytes'].get('median')} / {row['item_bytes'].get('max')}",
            row["wru_per_entry"],
            row["rru_per_entry"],
            row["dynamodb_calls_per_entry"],
            ", ".join(f"{k} {n}" for k, n in row["calls_per_entry"].items()),
            row["consumer_own_ms_per_entry_last_tenth"],
            row["billing_wru_per_line"],
            row["billing_calls_per_line"],
        ]
        for name, row in f.get("direct", {}).items()
    ]
    dv = f.get("direct_verdicts", {})
    goals = f["goals"]
    parts = [
        "`python -m benchmarks.ledger_scale`. **The ledger under the use cases** (`SyncContract`, "
        "`RecordActuals`, `ComposeInvoice` over `DynamoLedger` on moto; every DynamoDB call counted, its "
        "units computed by `aws_calls.dynamodb_units`): per time entry ingested, and per invoice line in the "
        "billing run. Consumer ms: the use case's own CPU time per entry (its thread's CPU time less that "
        "inside DynamoDB calls) over the last tenth of each contract's entries. Item bytes: every item "
        "of the contracts' partitions (median / largest).",
        _table(
            [
                "shape",
                "entries",
                "item bytes",
                "WRU/entry",
                "RRU/entry",
                "DynamoDB calls/entry",
                "calls",
                "consumer ms/entry",
                "billing WRU/line",
                "billing calls/line",
            ],
            direct_rows,
        ),
        f"Write units per entry flat (largest within {goals['flat_units_max_ratio']}x of smallest): spread "
        f"{dv.get('wru_spread')} ({_verdict(dv.get('wru_flat', False))}); calls spread {dv.get('calls_spread')}. "
        f"Consumer time {' vs '.join(dv.get('consumer_cpu_compared', []))}: x{dv.get('consumer_cpu_ratio')} "
        f"(goal within {goals['flat_cpu_max_ratio']}x: {_verdict(dv.get('consumer_cpu_flat', False))}).",
    ]
    rows = []
    for name, row in f.get("shapes", {}).items():
        items = row.get("contract_items", {})
        rows.append(
            [
                name,
                row["entries"],
                f"{items.get('median_bytes')} / {items.get('max_bytes')}",
                row["single"]["wru_per_entry"],
                row["batched"]["wru_per_entry"],
                row["single"]["aws_calls_per_entry"],
                row["batched"]["aws_calls_per_entry"],
                row["single"]["consumer_own_ms_per_entry"],
                row["batched"]["consumer_own_ms_per_entry"],
                row["single"]["usd_per_million_entries"],
                row["batched"]["usd_per_million_entries"],
            ]
        )
    if rows:
        v = f.get("verdicts", {})
        cost = v.get("cost", {})
        cost_lines = [
            f"{name}: batches of 100 USD {c['batched']} ({_verdict(c['batched_ok'])}), one per request USD "
            f"{c['single']} ({_verdict(c['single_ok'])})"
            for name, c in cost.items()
        ]
        missing = [name for name in goals["cost_shapes"] if name not in cost]
        parts += [
            "**The whole hub** (one `benchmarks.aws_calls` run per shape on a fresh local stack: half the "
            "entries one per request, half in batches of 100, then one billing run; ingest units per entry, "
            "USD per 1,000,000 entries including their share of the billing run; AWS calls: the hub's own; "
            "on the local stack's stand-ins, whose Query reads only its partition as DynamoDB does):",
            _table(
                [
                    "shape",
                    "entries",
                    "item bytes",
                    "WRU/entry (single)",
                    "WRU/entry (batch)",
                    "AWS calls/entry (single)",
                    "AWS calls/entry (batch)",
                    "consumer ms/entry (single)",
                    "consumer ms/entry (batch)",
                    "USD/M (single)",
                    "USD/M (batch)",
                ],
                rows,
            ),
            f"Cost goals (at most USD {goals['batched_usd_per_million_max']:g} batched, "
            f"{goals['single_usd_per_million_max']:g} one per request, at {' and '.join(goals['cost_shapes'])}): "
            + "; ".join(cost_lines)
            + (f"; not measured through the whole hub in this run: {', '.join(missing)}" if missing else "")
            + ".",
        ]
    return "\n\n".join(parts)


def render_amendment_cost(f: dict[str, Any]) -> str:
    rows = [
        [
            f"1x{r['entries']}",
            r["lines_rated_under_the_amendment"],
            r.get("invocations", 1),
            r["dynamodb_calls"],
            r.get("dynamodb_calls_per_invocation_max", r["dynamodb_calls"]),
            r["wru"],
            r["rru"],
            round(r["wru"] / max(r["lines_rated_under_the_amendment"], 1), 3),
            round(r["rru"] / max(r["entries"], 1), 3),
            r["own_ms"],
            r.get("own_cpu_ms", ""),
            r.get("own_cpu_ms_per_invocation_max", ""),
            r.get("peak_memory_growth_mb_per_invocation_max", ""),
            r.get("resident_memory_growth_mb", r.get("peak_memory_growth_mb", "")),
            r["usd_per_amendment"],
        ]
        for r in f["sizes"].values()
    ]
    return "\n\n".join(
        [
            "`python -m benchmarks.amendment_cost`. One contract with N approved, unbilled one-day time entries "
            "(seeded through the same rule and store on moto, in batches, uncounted), then one `contract.amended` "
            "(version 2 from 2026-03-16, a new consultant rate) through `SyncContract`, applied in pages "
            "(decision 24: 2,000 inputs a page, 2 pages an invocation, the rest asked for by a "
            "`contract.amendment_continued` request, each delivered here as one invocation), every DynamoDB call "
            "counted with its units; own ms: the use case's wall time less the wall time inside DynamoDB calls; "
            "own CPU ms: its CPU time less the CPU time inside them (a loaded machine inflates the first, not the "
            "second), in all and in the largest invocation; peak memory growth: how far the process's peak "
            "resident memory rose during an invocation above what it held when the invocation began (its page, "
            "and what moto keeps of its writes); resident memory growth: what the process held after the whole "
            "amendment more than before it (mostly moto's table holding the items written).",
            _table(
                [
                    "contract",
                    "lines re-rated",
                    "invocations",
                    "DynamoDB calls",
                    "calls, largest invocation",
                    "WRU",
                    "RRU",
                    "WRU per line re-rated",
                    "RRU per entry",
                    "own ms",
                    "own CPU ms",
                    "own CPU ms, largest invocation",
                    "peak memory growth MB, largest invocation",
                    "resident memory growth MB, whole amendment",
                    "USD per amendment",
                ],
                rows,
            ),
            f"Write units grow {f['wru_ratio_largest_to_smallest']}x for {f['entries_ratio']}x the entries. An "
            "amendment writes the input items whose lines it re-rates (one conditional write each, with the "
            "head's new epoch) and no other (decision 5, section 7): write units per line re-rated are flat. It "
            "reads every input once, a page at a time, so read units grow with the contract, and an "
            "invocation's memory and CPU with its pages, not with the contract (decision 24; decision 21 what "
            "the whole-book amendment cost before).",
        ]
    )


RENDERERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "cold_start": render_cold_start,
    "ingest_throughput": render_ingest,
    "aws_calls": render_aws_calls,
    "billing_scale": render_billing_scale,
    "package_size": render_package_size,
    "command_time": render_command_time,
    "parallel_run": render_parallel_run,
    "ledger_scale": render_ledger_scale,
    "amendment_cost": render_amendment_cost,
    "intake": lambda figures: _render_intake(figures),
}


def _render_intake(figures: dict[str, Any]) -> str:
    from benchmarks import intake as bench

    return bench.render(figures)


def section(name: str, body: str) -> str:
    return f"{_marker(name)}\n## {SECTION_TITLES[name]}\n\n{body}\n{_marker(name, end=True)}"


def rendered_sections(figures: dict[str, Any]) -> dict[str, str]:
    sections = {"overview": section("overview", render_overview(figures))}
    for name, render in RENDERERS.items():
        result = figures.get(name)
        if not isinstance(result, dict) or "error" in result or "skipped" in result:
            continue
        try:
            sections[name] = section(name, render(result))
        except (KeyError, TypeError, ValueError, StopIteration) as error:
            sections[name] = section(name, f"(figures incomplete: {type(error).__name__}: {error})")
    return sections


def replace_sections(text: str, sections: dict[str, str]) -> str:
    """Replace each marked section in place; append the ones not there yet."""
    for name, body in sections.items():
        start, end = _marker(name), _marker(name, end=True)
        if start in text and end in text:
            head, _, rest = text.partition(start)
            _, _, tail = rest.partition(end)
            text = head + body + tail
        else:
            text = text.rstrip("\n") + ("\n\n" if text.strip() else "") + body + "\n"
    return text


def update_readme(readme: Path, figures: dict[str, Any]) -> None:
    """Rewrite this module's sections of the README, reading the file right before writing it."""
    sections = rendered_sections(figures)
    current = readme.read_text(encoding="utf-8") if readme.exists() else "# Benchmarks\n"
    readme.write_text(replace_sections(current, sections), encoding="utf-8")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a few minutes")
    parser.add_argument("--only", nargs="+", choices=sorted(RUNNERS), help="run only these")
    args = parser.parse_args(argv)
    names = args.only or list(RUNNERS)
    previous = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    figures = merged(previous, run_benchmarks(names, args.quick), args.quick)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    FIGURES.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    update_readme(README, figures)
    print(f"figures: {FIGURES.name} and {README.name} written", file=sys.stderr)
    return figures


if __name__ == "__main__":
    main()
