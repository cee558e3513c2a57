"""The ledger's cost per entry as a contract's history grows.

    python -m benchmarks.ledger_scale [--shapes 1x100 1x1000 1x10000 100x100] [--direct-only]

Two measurements per shape:

**Ledger, direct** (`direct_shape`, seconds per shape): the use cases
(`SyncContract`, `RecordActuals`, `ComposeInvoice`) over `DynamoLedger` on moto,
every DynamoDB call counted and its request units computed with
`aws_calls.dynamodb_units`. Each contract's first nine tenths of entries are
seeded through the same rule and store, uncounted (moto's Query reads its whole
table: counting them all would take hours at 10,000 entries); the last tenth
(at least 100 entries in all) is measured through `RecordActuals` on contracts
that already hold the rest: write and read units and calls per entry, and the
consumer's own CPU time per record (its thread's CPU time less that inside DynamoDB calls,
with the heap frozen for the cyclic GC: moto's tables live in this process, a
Lambda's do not); then per invoice line in the billing run.

**Whole hub** (`shape_figures`, minutes per shape; skipped with `--direct-only`):
each shape `CxE` (C contracts, E time entries each) is one `benchmarks.aws_calls`
run on a fresh local stack: half the entries delivered one per request, half in
batches of 100, then one billing run. Reported per shape: DynamoDB write and
read units and AWS calls per entry (ingest only, and the hub's calls), USD per
1,000,000 entries (ingest plus the entries' share of the billing run, at
`aws_calls.PRICES`), the actuals consumer's own CPU time per entry (CPU time less
the time inside AWS calls: CPU of our code), and the sizes of the items that
hold the books. The goals (issue 21): the largest per-entry write units within
1.2x of the smallest across shapes; at most USD 4.00 (batches of 100) and
USD 10.00 (one per request) per million at 1x10000 and 100x100; consumer time
per entry at 1x10000 within 1.5x of 1x100.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from benchmarks import aws_calls
from benchmarks.ingest_throughput import CONFIG, contract_event, time_entry_event

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


class CountingClient:
    """A DynamoDB client that counts calls and request units and the time spent in them."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.exceptions = client.exceptions
        self.calls: dict[str, int] = {}
        self.wru = 0.0
        self.rru = 0.0
        self.seconds = 0.0
        self.cpu_seconds = 0.0

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._client, name)
        if not callable(target):
            return target
        operation = "".join(part.capitalize() for part in name.split("_"))

        def call(**kwargs: Any) -> Any:
            started = time.perf_counter()
            cpu_started = time.thread_time()
            response: dict[str, Any] = {}
            try:
                response = target(**kwargs)
                return response
            finally:
                self.seconds += time.perf_counter() - started
                self.cpu_seconds += time.thread_time() - cpu_started
                self.calls[operation] = self.calls.get(operation, 0) + 1
                rru, wru = aws_calls.dynamodb_units(operation, kwargs, response or {})
                self.rru += rru
                self.wru += wru

        return call

    def snapshot(self) -> tuple[dict[str, int], float, float, float]:
        return dict(self.calls), self.wru, self.rru, self.seconds


def _table(client: Any, name: str) -> None:
    from billbridge.local.resources import create_ledger_table

    create_ledger_table(client, name)


def _delta(
    after: tuple[dict[str, int], float, float, float], before: tuple[dict[str, int], float, float, float]
) -> tuple[dict[str, int], float, float, float]:
    calls = {k: n - before[0].get(k, 0) for k, n in after[0].items() if n - before[0].get(k, 0)}
    return calls, after[1] - before[1], after[2] - before[2], after[3] - before[3]


def direct_shape(contracts: int, entries: int) -> dict[str, Any]:
    """The ledger alone under the use cases, on moto (see the module doc)."""
    import os

    import boto3
    from billbridge.adapters.connectors.event_connector import EventBusConnector
    from billbridge.adapters.dynamo_ledger import DynamoLedger
    from billbridge.adapters.memory_command_log import InMemoryCommandLog
    from billbridge.adapters.system_clock import SystemClock
    from billbridge.app.billing_config_document import billing_config_from
    from billbridge.app.downstream_sync import DownstreamSync
    from billbridge.app.event_translation import IngestedEvent, time_entry_from
    from billbridge.app.ledger import BookScope, apply_to_book
    from billbridge.app.record_actuals import RecordActuals
    from billbridge.app.run_billing import ComposeInvoice
    from billbridge.app.sync_contract import SyncContract
    from billbridge.domain.actuals import apply_time_entry
    from billbridge.domain.book_draft import RuleContext
    from billbridge.local.stand_in_boundary import faster_stand_ins
    from moto import mock_aws

    from benchmarks.billing_scale import DiscardingPublisher

    for name, value in (
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
    ):
        os.environ.setdefault(name, value)

    def ingested(payload: dict[str, Any]) -> IngestedEvent:
        return IngestedEvent.from_detail(
            str(payload["type"]), {"event": payload, "correlationid": f"corr-{payload['id']}"}
        )

    started = time.perf_counter()
    with mock_aws(), faster_stand_ins():
        raw = boto3.client("dynamodb")
        _table(raw, "ledger")
        client = CountingClient(raw)
        ledger = DynamoLedger("ledger", client=client)
        ledger.save_config(billing_config_from(CONFIG))
        publisher = DiscardingPublisher()
        connector = EventBusConnector(publisher)
        sync = SyncContract(
            ledger,
            publisher,
            psa=connector,
            erp=connector,
            downstream=DownstreamSync(ledger, InMemoryCommandLog(), SystemClock()),
        )  # type: ignore[arg-type]
        actuals = RecordActuals(ledger, publisher)  # type: ignore[arg-type]
        for index in range(contracts):
            sync.handle(ingested(contract_event(index)))
        # The first nine tenths are seeded through the same rule and store, uncounted (moto's Query
        # reads its whole table, so counting them all would take hours at 10,000 entries); the last
        # tenth of every contract is measured through the use case, on contracts holding the rest.
        tail_from = entries - max(entries // 10, min(entries, 100) // contracts, 1)
        warm_up = contracts  # one more contract takes the first entry through the use case (imports, caches)
        sync.handle(ingested(contract_event(warm_up)))
        actuals.handle(ingested(time_entry_event(warm_up, 0)))
        for entry in range(tail_from):
            for index in range(contracts):
                parsed = time_entry_from(time_entry_event(index, entry)["data"], None)
                apply_to_book(
                    ledger,
                    parsed.contract_id,
                    lambda book, e=parsed: apply_time_entry(book, e, RuleContext(correlation_id=f"seed-{e.entry_id}")),
                    scope=BookScope.of_input("time", parsed.entry_id),
                )
        before = client.snapshot()
        tail_own = 0.0
        tail_count = 0
        # moto's tables live in this process's heap (a Lambda's do not): freeze what is there so the
        # cyclic GC does not walk them on the consumer's time.
        gc.collect()
        gc.freeze()
        for entry in range(tail_from, entries):
            for index in range(contracts):
                event = ingested(time_entry_event(index, entry))
                in_calls = client.cpu_seconds
                began = time.thread_time()
                actuals.handle(event)
                tail_own += (time.thread_time() - began) - (client.cpu_seconds - in_calls)
                tail_count += 1
        gc.unfreeze()
        calls, wru, rru, _ = _delta(client.snapshot(), before)
        total = contracts * entries
        measured = tail_count
        before_billing = client.snapshot()
        compose = ComposeInvoice(ledger, publisher)  # type: ignore[arg-type]
        for index in range(contracts):
            compose.handle(contract_id=f"SOW-BENCH-{index:05d}", period="2026-03", run_id="bench", correlation_id="c")
        billing_calls, billing_wru, billing_rru, _ = _delta(client.snapshot(), before_billing)
        sizes = sorted(aws_calls.item_size(item) for item in ledger.table.scan_prefix("CONTRACT#"))
        lines = sum(len(i.lines) for b in ledger.books() for i in b.invoices.values())
    return {
        "contracts": contracts,
        "entries_per_contract": entries,
        "entries": total,
        "measured_entries": measured,
        "wru_per_entry": round(wru / measured, 3),
        "rru_per_entry": round(rru / measured, 3),
        "calls_per_entry": {k: round(n / measured, 3) for k, n in sorted(calls.items())},
        "dynamodb_calls_per_entry": round(sum(calls.values()) / measured, 3),
        "consumer_own_ms_per_entry_last_tenth": round(tail_own / max(tail_count, 1) * 1000, 3),
        "invoice_lines": lines,
        "billing_wru_per_line": round(billing_wru / max(lines, 1), 3),
        "billing_rru_per_line": round(billing_rru / max(lines, 1), 3),
        "billing_calls_per_line": round(sum(billing_calls.values()) / max(lines, 1), 3),
        "item_bytes": {"median": sizes[len(sizes) // 2], "max": sizes[-1], "items": len(sizes)} if sizes else {},
        "elapsed_s": round(time.perf_counter() - started, 1),
    }


def direct_verdicts(rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    wru = [row["wru_per_entry"] for row in rows.values()]
    calls = [row["dynamodb_calls_per_entry"] for row in rows.values()]
    result: dict[str, Any] = {
        "wru_spread": round(max(wru) / min(wru), 3),
        "calls_spread": round(max(calls) / min(calls), 3),
    }
    result["wru_flat"] = result["wru_spread"] <= GOAL_FLAT_UNITS
    one = sorted((row for row in rows.values() if row["contracts"] == 1), key=lambda r: r["entries_per_contract"])
    if len(one) >= 2:
        small, large = one[0], one[-1]
        ratio = large["consumer_own_ms_per_entry_last_tenth"] / max(small["consumer_own_ms_per_entry_last_tenth"], 1e-9)
        result["consumer_cpu_ratio"] = round(ratio, 3)
        result["consumer_cpu_compared"] = [f"1x{small['entries_per_contract']}", f"1x{large['entries_per_contract']}"]
        result["consumer_cpu_flat"] = ratio <= GOAL_FLAT_CPU
    return result


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


def run(
    shapes: tuple[str, ...] = DEFAULT_SHAPES,
    *,
    direct_only: bool = False,
    hub_shapes: tuple[str, ...] | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """`hub_shapes`: the shapes also measured through the whole hub (default: all of `shapes`);
    `progress` is given the figures so far after each shape."""
    figures: dict[str, Any] = {
        "direct": {},
        "direct_verdicts": {},
        "shapes": {},
        "goals": {
            "flat_units_max_ratio": GOAL_FLAT_UNITS,
            "flat_cpu_max_ratio": GOAL_FLAT_CPU,
            "batched_usd_per_million_max": aws_calls.GOAL_BATCHED_USD_PER_MILLION,
            "single_usd_per_million_max": aws_calls.GOAL_SINGLE_USD_PER_MILLION,
            "cost_shapes": list(COST_SHAPES),
        },
        "verdicts": {},
    }
    for shape in shapes:
        print(f"   ledger_scale direct {shape}", file=sys.stderr, flush=True)
        figures["direct"][shape] = direct_shape(*parse_shape(shape))
        figures["direct_verdicts"] = direct_verdicts(figures["direct"])
        if progress is not None:
            progress(figures)
    for shape in () if direct_only else (hub_shapes if hub_shapes is not None else shapes):
        print(f"   ledger_scale hub {shape}", file=sys.stderr, flush=True)
        figures["shapes"][shape] = shape_figures(*parse_shape(shape))
        figures["verdicts"] = verdicts(figures["shapes"])
        if progress is not None:
            progress(figures)
    return figures


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", default=list(DEFAULT_SHAPES), help="CxE: contracts x entries each")
    parser.add_argument("--hub-shapes", nargs="*", help="the shapes also run through the whole hub (default: all)")
    parser.add_argument("--output", help="also write the figures to this JSON file (after each shape)")
    parser.add_argument("--direct-only", action="store_true", help="only the ledger under the use cases")
    args = parser.parse_args(argv)

    def write(figures: dict[str, Any]) -> None:
        if args.output:
            with open(args.output, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(figures, indent=2, default=str) + "\n")

    figures = run(
        tuple(args.shapes),
        direct_only=args.direct_only,
        hub_shapes=None if args.hub_shapes is None else tuple(args.hub_shapes),
        progress=write,
    )
    print(json.dumps(figures, indent=2, default=str))
    return figures


if __name__ == "__main__":
    main()
