"""Wall time of the operator commands against a bare `python -c "import billbridge"`, same run.

    python -m benchmarks.command_time [--runs 7] [--read-only-runs 15]

Builds a local state once (`billbridge demo`, in a temporary directory), then
times fresh processes round-robin: the bare import, each read-only command
(they read the SQLite store without starting the stand-ins) and commands that
must start the local stack (`config load`, which writes; `bill`, a billing run
over the demo's contracts). Figures are medians of `--runs` processes per
command (`--read-only-runs` for the bare import and the read-only commands, which
take a few tens of milliseconds each: on a shared machine a median of five of them
moves by a few tenths of a ratio from run to run); ratios are against the bare
import's median of the same run.

Commands run as a user runs them: the `billbridge` console script next to the
interpreter (`python -m billbridge.cli.main` when there is none), over a
package whose modules are byte-compiled first, as `pip install` leaves them
(with PYTHONDONTWRITEBYTECODE set, every process would otherwise recompile the
modules it imports, a cost no installed copy pays).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

GOAL_READ_ONLY_RATIO_MAX = 3.0
STANDARD_LIBRARY_READS = frozenset(
    {
        "contracts list",
        "contracts show",
        "exceptions list",
        "exceptions show",
        "trace",
        "dlq list",
        "config show",
        "customers list",
        "sync list",
        "sync show",
        "status",
        "report",
    }
)
"""Read-only commands whose local reads use the standard library alone (billbridge.local.read_models,
contract_reads, customer_reads, exception_reads, trace_reads, report_reads): every read-only command
(`report` since decision 27)."""
CONTRACT = "SOW-GLX-2026-01"


def _commands(
    state: Path, config: Path, exception_id: str, correlation_id: str, command_id: str
) -> dict[str, tuple[bool, list[str]]]:
    """name -> (read-only, argv after `billbridge`)."""
    target = ["--state-file", str(state)]
    return {
        "contracts list": (True, ["contracts", "list", *target]),
        "contracts show": (True, ["contracts", "show", CONTRACT, *target]),
        "exceptions list": (True, ["exceptions", "list", *target]),
        "exceptions show": (True, ["exceptions", "show", exception_id, *target]),
        "report": (True, ["report", *target]),
        "trace": (True, ["trace", correlation_id, *target]),
        "dlq list": (True, ["dlq", "list", *target]),
        "config show": (True, ["config", "show", *target]),
        "customers list": (True, ["customers", "list", *target]),
        "sync list": (True, ["sync", "list", *target]),
        "sync show": (True, ["sync", "show", command_id, *target]),
        "status": (True, ["status", *target]),
        "config load": (False, ["config", "load", str(config), *target]),
        "bill": (False, ["bill", "--period", "2026-04", *target]),
    }


def _wall(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, check=False, timeout=600)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[2:5])} exited {result.returncode}: {result.stderr[-400:]}")
    return elapsed


def run(runs: int = 7, *, include_bill: bool = True, read_only_runs: int | None = None) -> dict[str, Any]:
    import compileall

    import billbridge

    python = sys.executable
    script = Path(python).with_name("billbridge")
    cli = [str(script)] if script.is_file() else [python, "-m", "billbridge.cli.main"]
    compileall.compile_dir(str(Path(billbridge.__file__).parent), quiet=1)
    env = {k: v for k, v in os.environ.items() if k not in ("BILLBRIDGE_LOCAL_STATE", "BILLBRIDGE_STATE_FILE")}
    with tempfile.TemporaryDirectory(prefix="billbridge-commands-") as temp:
        work = Path(temp)
        state = work / "state.sqlite"
        started = time.perf_counter()
        subprocess.run(
            [*cli, "demo", "--state-file", str(state), "--report", str(work / "demo.json")],
            capture_output=True,
            text=True,
            env=env,
            cwd=work,
            check=True,
            timeout=900,
        )
        demo_s = time.perf_counter() - started
        report = json.loads((work / "demo.json").read_text())
        exception_id = report["exceptions"][0]["exception_id"]
        correlation_id = next(
            line["correlation_id"]
            for invoice in report["invoices"]
            for line in invoice["lines"]
            if line.get("correlation_id")
        )
        config = work / "config.json"
        from billbridge.local.demo_engagement import CONFIG

        config.write_text(json.dumps(CONFIG))
        listed = subprocess.run(
            [*cli, "sync", "list", "--state-file", str(state), "--output", "json"],
            capture_output=True,
            text=True,
            env=env,
            cwd=work,
            check=True,
        )
        command_id = json.loads(listed.stdout)[0]["command_id"]
        commands = _commands(state, config, exception_id, correlation_id, command_id)
        if not include_bill:
            commands.pop("bill")
        samples: dict[str, list[float]] = {"bare import": [], **{name: [] for name in commands}}
        light_runs = max(runs, read_only_runs or runs)
        for round_number in range(light_runs):
            samples["bare import"].append(_wall([python, "-c", "import billbridge"], env, work))
            for name, (read_only, argv) in commands.items():
                if read_only or round_number < runs:
                    samples[name].append(_wall([*cli, *argv], env, work))
    bare = statistics.median(samples["bare import"])
    rows = {}
    for name, values in samples.items():
        median = statistics.median(values)
        read_only = name != "bare import" and commands[name][0]
        rows[name] = {
            "read_only": read_only,
            "standard_library_reads": name in STANDARD_LIBRARY_READS,
            "starts_stand_ins": name != "bare import" and not read_only,
            "median_ms": round(median * 1000),
            "ratio_to_bare_import": round(median / bare, 1),
        }
    read_only_ratios = [r["ratio_to_bare_import"] for r in rows.values() if r["read_only"]]
    light_ratios = [r["ratio_to_bare_import"] for r in rows.values() if r["standard_library_reads"]]
    return {
        "runs": runs,
        "read_only_runs": light_runs,
        "demo_state_build_s": round(demo_s, 1),
        "commands": rows,
        "read_only_ratio_max": max(read_only_ratios),
        "standard_library_ratio_max": max(light_ratios),
        "goal_read_only_ratio_max": GOAL_READ_ONLY_RATIO_MAX,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="processes per command (median)")
    parser.add_argument(
        "--read-only-runs",
        type=int,
        default=None,
        help="processes per read-only command and for the bare import (default --runs)",
    )
    parser.add_argument("--no-bill", action="store_true", help="skip the billing run (the slowest command)")
    args = parser.parse_args(argv)
    figures = run(args.runs, include_bill=not args.no_bill, read_only_runs=args.read_only_runs)
    print(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
