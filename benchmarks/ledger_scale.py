"""The ledger's cost per entry as a contract's history grows.

    python -m benchmarks.ledger_scale [--shapes 1x100 1x1000 1x10000 100x100]

Each shape `CxE` (C contracts, E time entries each) is one `benchmarks.aws_calls`
run on a fresh local stack: half the entries delivered one per request, half in
batches of 100, then one billing run. Reported per shape: DynamoDB write and
read units and AWS calls per entry (ingest only, and the hub's calls), USD per
1,000,000 entries (ingest plus the entries' share of the billing run, at
`aws_calls.PRICES`), the actuals consumer's own time per entry (wall time less
the time inside AWS calls: CPU of our code), and the sizes of the items that
hold the books. The goals (issue 21): the largest per-entry write units within
1.2x of the smallest across shapes; at most USD 4.00 (batches of 100) and
USD 10.00 (one per request) per million at 1x10000 and 100x100; consumer time
per entry at 1x10000 within 1.5x of 1x100.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from benchmarks import aws_calls

DEFAULT_SHAPES = ("1x100", "1x1000", "1x10000", "100x100")
QUICK_SHAPES = ("1x20", "1x200", "10x20")
GOAL_FLAT_UNITS = 1.2
GOAL_FLAT_CPU = 1.5
COST_SHAPES = ("1x10000", "100x100")


def parse_shape(text: str) -> tuple[int, int]:
    contracts, entries = text.lower().split("x")
    return int(contracts), int(entries)


def shape_figures(contracts: int, entries: int) -> dict[str, Any]:
    started = time.perf_counter()
    figures = aws_calls.run(contracts, entries)
    row: dict[str, Any] = {
        "contracts": contracts,
        "entries_per_contract": entries,
        "entries": figures["entries"],
        "contract_items": figures["contract_items"],
        "invoice_lines": figures["invoice_lines"],
        "elapsed_s": 0.0,
    }
    for phase in ("single", "batched"):
        units = figures[phase]["units_per_entry"]
        calls = figures[phase]["calls_per_entry"]
        row[phase] = {
            "wru_per_entry": units["dynamodb_wru"],
            "rru_per_entry": units["dynamodb_rru"],
            "dynamodb_calls_per_entry": round(sum(n for k, n in calls.items() if k.startswith("dynamodb:")), 3),
            "aws_calls_per_entry": round(sum(calls.values()), 3),
            "calls_per_entry": calls,
            "consumer_own_ms_per_entry": figures[phase]["consumer_own_ms_per_entry"],
            "usd_per_million_entries": figures[f"{phase}_usd_per_million_entries"],
            "usd_per_million_entries_by_item": figures[phase]["usd_per_million_entries_by_item"],
        }
    row["elapsed_s"] = round(time.perf_counter() - started, 1)
    return row


def verdicts(shapes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if not shapes:
        return {}
    result: dict[str, Any] = {}
    for phase in ("single", "batched"):
        wru = [row[phase]["wru_per_entry"] for row in shapes.values()]
        calls = [row[phase]["aws_calls_per_entry"] for row in shapes.values()]
        result[f"{phase}_wru_spread"] = round(max(wru) / min(wru), 3) if min(wru) else None
        result[f"{phase}_calls_spread"] = round(max(calls) / min(calls), 3) if min(calls) else None
    result["wru_flat"] = all(
        result[f"{p}_wru_spread"] is not None and result[f"{p}_wru_spread"] <= GOAL_FLAT_UNITS
        for p in ("single", "batched")
    )
    one = sorted((row for row in shapes.values() if row["contracts"] == 1), key=lambda r: r["entries_per_contract"])
    if len(one) >= 2:
        small, large = one[0], one[-1]
        cpu = {
            phase: round(
                large[phase]["consumer_own_ms_per_entry"] / max(small[phase]["consumer_own_ms_per_entry"], 1e-9), 3
            )
            for phase in ("single", "batched")
        }
        result["consumer_cpu_ratio"] = cpu
        result["consumer_cpu_compared"] = [f"1x{small['entries_per_contract']}", f"1x{large['entries_per_contract']}"]
        result["consumer_cpu_flat"] = all(ratio <= GOAL_FLAT_CPU for ratio in cpu.values())
    result["cost"] = {
        name: {
            "batched": shapes[name]["batched"]["usd_per_million_entries"],
            "single": shapes[name]["single"]["usd_per_million_entries"],
            "batched_ok": shapes[name]["batched"]["usd_per_million_entries"] <= aws_calls.GOAL_BATCHED_USD_PER_MILLION,
            "single_ok": shapes[name]["single"]["usd_per_million_entries"] <= aws_calls.GOAL_SINGLE_USD_PER_MILLION,
        }
        for name in shapes
    }
    return result


def run(shapes: tuple[str, ...] = DEFAULT_SHAPES) -> dict[str, Any]:
    rows = {}
    for shape in shapes:
        contracts, entries = parse_shape(shape)
        rows[shape] = shape_figures(contracts, entries)
    return {
        "shapes": rows,
        "goals": {
            "flat_units_max_ratio": GOAL_FLAT_UNITS,
            "flat_cpu_max_ratio": GOAL_FLAT_CPU,
            "batched_usd_per_million_max": aws_calls.GOAL_BATCHED_USD_PER_MILLION,
            "single_usd_per_million_max": aws_calls.GOAL_SINGLE_USD_PER_MILLION,
            "cost_shapes": list(COST_SHAPES),
        },
        "verdicts": verdicts(rows),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", default=list(DEFAULT_SHAPES), help="CxE: contracts x entries each")
    parser.add_argument("--output", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    figures = run(tuple(args.shapes))
    text = json.dumps(figures, indent=2, default=str)
    print(text)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    return figures


if __name__ == "__main__":
    main()
