"""What one contract amendment costs as the contract's history grows.

    python -m benchmarks.amendment_cost [--entries 1000 10000]

For each size N: one contract (the ingest benchmarks' contract) with N approved
one-day time entries in March 2026, seeded through the same rule and store
(`apply_to_book` over `DynamoLedger` on moto, uncounted), none billed; then one
`contract.amended` (version 2, effective 2026-03-16, the consultant rate 150 ->
165) through `SyncContract`, every DynamoDB call counted with its request units
(`aws_calls.dynamodb_units`) and the use case's own time (wall time less time
inside DynamoDB calls; and its CPU time less the CPU time inside them, which a loaded
machine does not inflate). An amendment is applied in pages (decision 24): the version
with the first page of inputs, then the next pages, two pages of 2,000 inputs an
invocation, the rest asked for by a `contract.amendment_continued` request, which is
delivered here as the contracts queue would (each request one invocation, measured on its
own: own CPU, DynamoDB calls and units per invocation, and in total). An amendment writes
the input items whose lines it re-rates (decision 5, section 7): its write units follow the
lines after the effective date, not N; it reads every input of the contract once, a page at
a time, so its read units follow N, and its memory a page.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import time
from typing import Any

from benchmarks import aws_calls
from benchmarks.ingest_throughput import CONFIG, contract_event, contract_id_of, time_entry_event
from benchmarks.ledger_scale import CountingClient, _delta, _table

DEFAULT_SIZES = (1000, 10_000, 100_000)
QUICK_SIZES = (100, 1000)
AMENDED_CONSULTANT_RATE = "165.00"
BATCH_WRITE_LIMIT = 25


class CpuTimedClient:
    """A client whose calls add up the process's CPU time spent inside them (moto's and
    botocore's work, which on AWS is the service's and the network's)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.cpu_seconds = 0.0

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._client, name)
        if not callable(target):
            return target

        def call(**kwargs: Any) -> Any:
            started = time.process_time()
            try:
                return target(**kwargs)
            finally:
                self.cpu_seconds += time.process_time() - started

        return call


class SeedingClient:
    """Seeding only (uncounted): the writes that the per-input rule makes for each new entry
    (its `IN#` item and its `ENTRY#` lookup, one `PutItem` each) go to the table as
    `BatchWriteItem` puts, 25 a call, and its read of the contract's head and of the entry's
    own item (one `BatchGetItem`) is answered from one read of the head: every entry is new, so
    its item is absent and every write's condition holds. The items stored are the ones the rule
    writes one call at a time; only the seeding's time changes (100,000 entries in minutes
    instead of about an hour on moto). Any other call first writes what is pending, then goes
    to the table as it is."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table_name = table_name
        self._pending: list[dict[str, Any]] = []
        self._heads: dict[str, dict[str, Any] | None] = {}
        self.exceptions = client.exceptions

    def __getattr__(self, name: str) -> Any:
        self.flush()
        return getattr(self._client, name)

    def put_item(self, *, TableName: str, Item: dict[str, Any], **condition: Any) -> dict[str, Any]:
        if TableName != self._table_name:
            self.flush()
            return dict(self._client.put_item(TableName=TableName, Item=Item, **condition))
        self._pending.append(Item)
        if len(self._pending) >= BATCH_WRITE_LIMIT:
            self.flush()
        return {}

    def batch_get_item(self, *, RequestItems: dict[str, Any]) -> dict[str, Any]:
        keys = RequestItems.get(self._table_name, {}).get("Keys", [])
        if set(RequestItems) != {self._table_name} or any(
            key["sk"]["S"] != "HEAD" and not key["sk"]["S"].startswith("IN#") for key in keys
        ):
            self.flush()
            return dict(self._client.batch_get_item(RequestItems=RequestItems))
        found = []
        for key in keys:
            if key["sk"]["S"] == "HEAD":
                head = self._head(key)
                if head is not None:
                    found.append(head)
        return {"Responses": {self._table_name: found}, "UnprocessedKeys": {}}

    def _head(self, key: dict[str, Any]) -> dict[str, Any] | None:
        pk = key["pk"]["S"]
        if pk not in self._heads:
            self.flush()
            item = self._client.get_item(TableName=self._table_name, Key=key, ConsistentRead=True).get("Item")
            self._heads[pk] = item
        return self._heads[pk]

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        for start in range(0, len(pending), BATCH_WRITE_LIMIT):
            chunk = [{"PutRequest": {"Item": item}} for item in pending[start : start + BATCH_WRITE_LIMIT]]
            while chunk:
                answer = self._client.batch_write_item(RequestItems={self._table_name: chunk})
                chunk = answer.get("UnprocessedItems", {}).get(self._table_name, [])


def amendment_event() -> dict[str, Any]:
    event = contract_event(0)
    data = dict(event["data"])
    data["version"] = 2
    data["effective_date"] = "2026-03-16"
    data["rate_card"] = [
        {"role": "consultant", "rate": AMENDED_CONSULTANT_RATE},
        *(line for line in data["rate_card"] if line.get("role") != "consultant"),
    ]
    return {**event, "id": f"{event['id']}-v2", "type": "contract.amended", "data": data}


def seed_entries(ledger: Any, entries: int) -> None:
    """`entries` approved time entries on the benchmark's contract, each through the per-input rule."""
    from billbridge.app.event_translation import time_entry_from
    from billbridge.app.ledger import BookScope, apply_to_book
    from billbridge.domain.actuals import apply_time_entry
    from billbridge.domain.book_draft import RuleContext

    for entry in range(entries):
        parsed = time_entry_from(time_entry_event(0, entry)["data"], None)
        apply_to_book(
            ledger,
            parsed.contract_id,
            lambda book, e=parsed: apply_time_entry(book, e, RuleContext(correlation_id=f"seed-{e.entry_id}")),
            scope=BookScope.of_input("time", parsed.entry_id),
        )


class ContinuationsKept:
    """A publisher that keeps the amendment's requests for its next pages (delivered as the
    contracts queue would, each one invocation) and drops every other event."""

    def __init__(self) -> None:
        self.requests: list[Any] = []

    def publish(self, events: Any) -> None:
        from billbridge import topology

        self.requests.extend(e for e in events if e.detail_type == topology.AMENDMENT_CONTINUED)


def resident_mb() -> tuple[float, float]:
    """The process's resident memory now and its peak since `reset_peak` (Linux; MB)."""
    fields: dict[str, float] = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def reset_peak() -> bool:
    """Reset the process's peak resident memory to what it holds now (Linux `clear_refs` 5)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")
    except OSError:
        return False
    return True


def measure(entries: int) -> dict[str, Any]:
    import boto3
    from billbridge.adapters.connectors.event_connector import EventBusConnector
    from billbridge.adapters.dynamo_ledger import DynamoLedger
    from billbridge.adapters.memory_command_log import InMemoryCommandLog
    from billbridge.adapters.system_clock import SystemClock
    from billbridge.app.amendment_pages import AmendmentInPages
    from billbridge.app.billing_config_document import billing_config_from
    from billbridge.app.downstream_sync import DownstreamSync
    from billbridge.app.event_translation import IngestedEvent
    from billbridge.app.sync_contract import SyncContract
    from billbridge.local.stand_in_boundary import faster_stand_ins
    from moto import mock_aws

    for name, value in (
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
    ):
        os.environ.setdefault(name, value)

    def ingested(payload: dict[str, Any]) -> IngestedEvent:
        return IngestedEvent.from_detail(
            str(payload["type"]), {"event": payload, "correlationid": f"c-{payload['id']}"}
        )

    started = time.perf_counter()
    with mock_aws(), faster_stand_ins():
        raw = boto3.client("dynamodb")
        _table(raw, "ledger")
        timed = CpuTimedClient(raw)
        client = CountingClient(timed)
        ledger = DynamoLedger("ledger", client=client)
        ledger.save_config(billing_config_from(CONFIG))
        publisher = ContinuationsKept()
        connector = EventBusConnector(publisher)
        # The command records are kept in memory: what is counted is the ledger's work.
        sync = SyncContract(
            ledger,
            publisher,
            psa=connector,
            erp=connector,
            downstream=DownstreamSync(ledger, InMemoryCommandLog(), SystemClock()),
            amendments=AmendmentInPages(ledger, publisher),
        )  # type: ignore[arg-type]
        sync.handle(ingested(contract_event(0)))
        seeding = SeedingClient(raw, "ledger")
        seed_entries(DynamoLedger("ledger", client=seeding), entries)
        seeding.flush()
        seeded = time.perf_counter()
        before = client.snapshot()
        gc.collect()
        gc.freeze()
        peak_reset = reset_peak()
        resident_before, _ = resident_mb()
        peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        invocations: list[dict[str, float]] = []
        pending = [ingested(amendment_event())]
        while pending:  # each event one invocation of the contracts consumer, as its queue delivers them
            event = pending.pop(0)
            invocation_peak_reset = peak_reset and reset_peak()
            invocation_resident, _ = resident_mb()
            began, cpu_began, cpu_in_calls = time.perf_counter(), time.process_time(), timed.cpu_seconds
            calls_before = client.snapshot()
            sync.handle(event)
            wall = time.perf_counter() - began
            _, invocation_peak = resident_mb()
            calls, wru, rru, seconds = _delta(client.snapshot(), calls_before)
            invocations.append(
                {
                    "own_cpu_s": (time.process_time() - cpu_began) - (timed.cpu_seconds - cpu_in_calls),
                    "own_s": wall - seconds,
                    "dynamodb_calls": sum(calls.values()),
                    "wru": wru,
                    "rru": rru,
                    "peak_growth_mb": invocation_peak - invocation_resident if invocation_peak_reset else 0.0,
                }
            )
            pending += [IngestedEvent.from_detail(r.detail_type, r.detail) for r in publisher.requests]
            publisher.requests.clear()
        resident_after, _ = resident_mb()
        lifetime_peak_growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
        gc.unfreeze()
        calls, wru, rru, seconds = _delta(client.snapshot(), before)
        book = ledger.load(contract_id_of(0)).book
        amended = sum(1 for line in book.lines.values() if line.contract_version == 2)
    own_cpu = sum(i["own_cpu_s"] for i in invocations)
    return {
        "entries": entries,
        "lines_rated_under_the_amendment": amended,
        "wru": round(wru, 1),
        "rru": round(rru, 1),
        "calls": dict(sorted(calls.items())),
        "dynamodb_calls": sum(calls.values()),
        "invocations": len(invocations),
        "own_ms": round(sum(i["own_s"] for i in invocations) * 1000, 1),
        "own_cpu_ms": round(own_cpu * 1000, 1),
        "own_cpu_ms_per_invocation_max": round(max(i["own_cpu_s"] for i in invocations) * 1000, 1),
        "dynamodb_calls_per_invocation_max": max(int(i["dynamodb_calls"]) for i in invocations),
        "wru_per_invocation_max": round(max(i["wru"] for i in invocations), 1),
        "rru_per_invocation_max": round(max(i["rru"] for i in invocations), 1),
        # How far the process's peak resident memory rose during one invocation above what it held
        # when the invocation began (Linux, the peak reset before each): what an invocation holds at
        # most (its page, and what moto keeps of the writes it makes). Beside it, the whole
        # amendment's rise of resident memory and of the process's lifetime peak: moto's table
        # holding the items written (re-rated inputs, audit parts) as much as anything.
        "peak_memory_growth_mb_per_invocation_max": (
            round(max(i["peak_growth_mb"] for i in invocations), 1) if peak_reset else None
        ),
        "resident_memory_growth_mb": round(resident_after - resident_before, 1),
        "peak_memory_growth_mb": round(lifetime_peak_growth_mb, 1),
        "wru_per_entry_of_the_contract": round(wru / max(entries, 1), 3),
        "usd_per_amendment": round(
            wru * aws_calls.PRICES["dynamodb_wru"][0] + rru * aws_calls.PRICES["dynamodb_rru"][0], 6
        ),
        "seed_s": round(seeded - started, 1),
        "elapsed_s": round(time.perf_counter() - started, 1),
    }


def run(sizes: tuple[int, ...] = DEFAULT_SIZES) -> dict[str, Any]:
    rows = {str(size): measure(size) for size in sizes}
    small, large = rows[str(min(sizes))], rows[str(max(sizes))]
    return {
        "sizes": rows,
        "wru_ratio_largest_to_smallest": round(large["wru"] / max(small["wru"], 1e-9), 2),
        "entries_ratio": round(max(sizes) / min(sizes), 2),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, nargs="+", default=list(DEFAULT_SIZES))
    args = parser.parse_args(argv)
    figures = run(tuple(args.entries))
    print(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
