"""Ingest throughput on the local stack: signed deliveries accepted into the ledger.

    python -m benchmarks.ingest_throughput [--history-entries 10000 --history DIR]
                                          [--contracts C --single N --batches B]

History (the goal's measure): the year of history that `benchmarks.parallel_run`
generates (1,000,000 time entries over 2,000 contracts, seed 7; generated into
a temporary directory unless `--history DIR` names one kept with
`python -m benchmarks.parallel_run --keep DIR`) is read in the order the hub
would have received it (`billbridge.parallel_run.export_files.history_stream`),
and every record up to its first `--history-entries` time entries (the contract
versions, expenses and milestones among them included) is delivered as the CLM
and the PSA deliver it: a signed CloudEvents batch of up to 100 events from one
source, handed to the webhook handler. After every 10 deliveries `drain()` plays
the bus rules, queues and consumers until quiet (the event source mappings keep
up with the deliveries, as on AWS). It counts only when every delivery was
answered 2xx, nothing was dead-lettered and every time entry is in its
contract's book afterwards. Entries/s is time entries over deliver + drain; CPU
seconds are this process's (the machine is shared: wall time depends on the
load, CPU seconds much less).

Synthetic phases (kept for continuity with earlier figures): a fresh LocalStack
gets the billing configuration and `C` approved contracts, then two timed phases:

- single: `N` deliveries of one `time_entry.approved` event each, then a drain;
- batched: `B` deliveries of 100 events each (`application/cloudevents-batch+json`),
  then a drain.

Each delivery is signed like the PSA signs it and handed to the webhook handler
as API Gateway's proxy event (`LocalStack.invoke_webhook`, in-process: no HTTP);
`drain()` then plays the bus rules, queues and consumers until quiet. A phase
counts only when every delivery was answered 2xx and every entry is in its
contract's book afterwards. Throughput is entries per second over deliver + drain.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from billbridge.adapters.dynamo_ledger import DynamoLedger
from billbridge.app.billing_config_document import billing_config_from
from billbridge.app.webhook_signature import sign
from billbridge.local.scenario_replay import generate_webhook_secrets
from billbridge.local.stack import LocalStack
from billbridge.parallel_run.export_files import HistoryFiles, HistoryRecord, history_stream, read_config

BATCH_SIZE = 100
PERIOD_DAYS = 20
CONFIG: dict[str, Any] = {
    "tax_rates": [{"jurisdiction": "US-NY", "rate": "0.08875", "effective_from": "2020-01-01"}],
    "legal_entities": [{"legal_entity": "US01", "erp_instance": "erp-us"}],
}


@contextmanager
def quiet_functions() -> Iterator[None]:
    """The handlers' log lines and EMF metrics (stdout) go nowhere while measuring."""
    with open(os.devnull, "w", encoding="utf-8") as sink, contextlib.redirect_stdout(sink):
        yield


def contract_id_of(index: int) -> str:
    return f"SOW-BENCH-{index:05d}"


def contract_event(index: int) -> dict[str, Any]:
    contract_id = contract_id_of(index)
    return {
        "specversion": "1.0",
        "id": f"clm-{contract_id}",
        "source": "clm",
        "type": "contract.approved",
        "time": "2026-01-01T09:00:00Z",
        "datacontenttype": "application/json",
        "subject": contract_id,
        "data": {
            "contract_id": contract_id,
            "version": 1,
            "effective_date": "2026-01-01",
            "customer_id": f"CUST-{contract_id}",
            "legal_entity": "US01",
            "currency": "USD",
            "tax_jurisdiction": "US-NY",
            "start_date": "2026-01-01",
            "end_date": "2026-12-31",
            "rate_card": [
                {"role": "consultant", "rate": "150.00"},
                {"role": "architect", "rate": "210.00"},
                {"resource_id": "EMP-7", "rate": "225.00"},
            ],
            "expense_policy": {"billable_categories": ["travel"], "markup_pct": "0.10"},
            "cost_centers": ["CC-100"],
        },
    }


def time_entry_event(contract_index: int, entry: int) -> dict[str, Any]:
    """Entry `entry` of a contract: a weekday of March 2026, consultant or architect, 1-8 hours."""
    contract_id = contract_id_of(contract_index)
    entry_id = f"TE-{contract_index:05d}-{entry:04d}"
    return {
        "specversion": "1.0",
        "id": f"psa-{entry_id}",
        "source": "psa",
        "type": "time_entry.approved",
        "time": "2026-03-31T18:00:00Z",
        "datacontenttype": "application/json",
        "subject": entry_id,
        "data": {
            "entry_id": entry_id,
            "revision": 1,
            "contract_id": contract_id,
            "resource_id": f"EMP-{entry % 5}",
            "role": "architect" if entry % 3 == 0 else "consultant",
            "billable": True,
            "cost_center": "CC-100",
            "work_date": f"2026-03-{2 + entry % PERIOD_DAYS:02d}",
            "hours": str(1 + entry % 8),
        },
    }


def entries_round_robin(contracts: int, entries_per_contract: int, start: int = 0) -> list[dict[str, Any]]:
    """Entries interleaved across contracts, as timesheets arrive (contract 0, 1, ..., 0, 1, ...)."""
    return [time_entry_event(c, start + e) for e in range(entries_per_contract) for c in range(contracts)]


class Deliverer:
    """Signs and delivers payloads to the stack's webhook handler; counts non-2xx answers."""

    def __init__(self, stack: LocalStack, secrets: dict[str, list[str]]) -> None:
        self.stack = stack
        self.secrets = secrets
        self.sent = 0
        self.refused: list[tuple[int, bytes]] = []

    def deliver(self, payload: dict[str, Any] | list[dict[str, Any]]) -> None:
        events = payload if isinstance(payload, list) else [payload]
        source = str(events[0]["source"])
        body = json.dumps(payload).encode()
        self.sent += 1
        headers = sign(self.secrets[source][0], f"msg_bench_{self.sent:07d}", int(time.time()), body)
        headers["Content-Type"] = (
            "application/cloudevents-batch+json" if isinstance(payload, list) else "application/cloudevents+json"
        )
        status, _, answer = self.stack.invoke_webhook(source, headers, body)
        if not 200 <= status < 300:
            self.refused.append((status, answer[:300]))

    def deliver_all(self, events: list[dict[str, Any]], batch_size: int) -> int:
        """Deliver one by one (`batch_size` 1) or in batches; returns the number of deliveries."""
        if batch_size == 1:
            for event in events:
                self.deliver(event)
            return len(events)
        chunks = [events[i : i + batch_size] for i in range(0, len(events), batch_size)]
        for chunk in chunks:
            self.deliver(chunk)
        return len(chunks)


def ledger_of(stack: LocalStack) -> DynamoLedger:
    return DynamoLedger(stack.names.ledger_table, client=stack.client("dynamodb"))


@contextmanager
def stack_with_contracts(contracts: int) -> Iterator[tuple[LocalStack, Deliverer]]:
    """A running local stack with the billing configuration and `contracts` approved contracts."""
    secrets = generate_webhook_secrets()
    with LocalStack(secrets=secrets, extra_env={"POWERTOOLS_LOG_LEVEL": "WARNING"}) as stack:
        ledger_of(stack).save_config(billing_config_from(CONFIG))
        deliverer = Deliverer(stack, secrets)
        deliverer.deliver_all([contract_event(i) for i in range(contracts)], 1)
        stack.drain(max_rounds=10_000)
        if deliverer.refused:
            raise RuntimeError(f"contract deliveries refused: {deliverer.refused[:3]}")
        yield stack, deliverer


def entries_in_ledger(stack: LocalStack) -> int:
    return sum(len(book.entries) for book in ledger_of(stack).books())


@dataclass(frozen=True, slots=True)
class PhaseResult:
    entries: int
    deliveries: int
    deliver_s: float
    drain_s: float
    cpu_s: float = 0.0

    @property
    def entries_per_s(self) -> float:
        return self.entries / (self.deliver_s + self.drain_s)

    def as_dict(self) -> dict[str, float | int]:
        return {
            "entries": self.entries,
            "deliveries": self.deliveries,
            "deliver_s": round(self.deliver_s, 3),
            "drain_s": round(self.drain_s, 3),
            "cpu_s": round(self.cpu_s, 3),
            "entries_per_s": round(self.entries_per_s, 1),
            "deliveries_per_s": round(self.deliveries / (self.deliver_s + self.drain_s), 1),
        }


def run_phase(stack: LocalStack, deliverer: Deliverer, events: list[dict[str, Any]], batch_size: int) -> PhaseResult:
    before = entries_in_ledger(stack)
    cpu_started = time.process_time()
    started = time.perf_counter()
    deliveries = deliverer.deliver_all(events, batch_size)
    delivered = time.perf_counter()
    summary = stack.drain(max_rounds=100_000)
    drained = time.perf_counter()
    cpu_s = time.process_time() - cpu_started
    landed = entries_in_ledger(stack) - before
    if deliverer.refused or summary.dead_lettered or summary.exhausted or landed != len(events):
        raise RuntimeError(
            f"phase incomplete: {landed}/{len(events)} entries in the ledger, refused {deliverer.refused[:3]}, "
            f"summary {summary.as_dict()}, errors {[q.errors[:2] for q in summary.queues.values()]}"
        )
    return PhaseResult(len(events), deliveries, delivered - started, drained - delivered, cpu_s)


def run(
    contracts: int = 10,
    single: int = 300,
    batches: int = 5,
    *,
    batch_size: int = BATCH_SIZE,
) -> dict[str, Any]:
    per_contract_single = max(1, single // contracts)
    per_contract_batched = max(1, batches * batch_size // contracts)
    with (
        quiet_functions(),
        stack_with_contracts(contracts) as (stack, deliverer),
    ):
        single_result = run_phase(stack, deliverer, entries_round_robin(contracts, per_contract_single), 1)
        batched_events = entries_round_robin(contracts, per_contract_batched, start=per_contract_single)
        batched_result = run_phase(stack, deliverer, batched_events, batch_size)
    return {
        "contracts": contracts,
        "single": single_result.as_dict(),
        "batched": batched_result.as_dict() | {"batch_size": batch_size},
        "single_entries_per_s": round(single_result.entries_per_s, 1),
        "batched_entries_per_s": round(batched_result.entries_per_s, 1),
    }


HISTORY_DRAIN_EVERY = 10
"""Deliveries between two drains in the history phase."""


def cloud_event(record: HistoryRecord) -> dict[str, Any]:
    """A history record as its vendor delivers it (the event the parallel run applies directly)."""
    return {
        "specversion": "1.0",
        "id": record.event_id,
        "source": record.source,
        "type": record.event_type,
        "time": f"{record.known_on.isoformat()}T18:00:00Z",
        "datacontenttype": "application/json",
        "data": record.data,
    }


def first_entries_of_history(directory: Path, entries: int) -> tuple[dict[str, Any], list[HistoryRecord]]:
    """The configuration and every record up to the history's `entries`-th time entry, in order."""
    files = HistoryFiles.in_directory(directory)
    rejected: list[Any] = []
    config = read_config(files.config) if files.config else {}
    records: list[HistoryRecord] = []
    seen = 0
    for record in history_stream(files, rejected).records:
        records.append(record)
        seen += record.kind == "time"
        if seen == entries:
            break
    if rejected:
        raise RuntimeError(f"history rows rejected: {rejected[:3]}")
    return config, records


def deliveries_of(records: list[HistoryRecord], batch_size: int) -> list[list[dict[str, Any]]]:
    """Consecutive records of one source, up to `batch_size` to a delivery, order kept."""
    batches: list[list[dict[str, Any]]] = []
    for record in records:
        if batches and len(batches[-1]) < batch_size and batches[-1][0]["source"] == record.source:
            batches[-1].append(cloud_event(record))
        else:
            batches.append([cloud_event(record)])
    return batches


def time_entries_in_ledger(stack: LocalStack, contract_ids: set[str]) -> set[str]:
    ledger = ledger_of(stack)
    return {entry_id for contract_id in contract_ids for entry_id in ledger.load(contract_id).book.entries}


def run_history(
    entries: int = 10_000,
    *,
    history: Path | None = None,
    history_entries: int = 1_000_000,
    history_contracts: int = 2000,
    batch_size: int = BATCH_SIZE,
) -> dict[str, Any]:
    """The first `entries` time entries of the generated history through the whole local stack."""
    with tempfile.TemporaryDirectory(prefix="billbridge-ingest-history-") as temp:
        directory = history
        if directory is None:
            from benchmarks.parallel_run import generate

            directory = Path(temp)
            generate(directory, entries=history_entries, contracts=history_contracts)
        config, records = first_entries_of_history(directory, entries)
    deliveries = deliveries_of(records, batch_size)
    entry_ids = {str(r.data["entry_id"]) for r in records if r.kind == "time"}
    contract_ids = {str(r.data["contract_id"]) for r in records}
    secrets = generate_webhook_secrets()
    with (
        quiet_functions(),
        LocalStack(secrets=secrets, extra_env={"POWERTOOLS_LOG_LEVEL": "WARNING"}, lazy_billing=True) as stack,
    ):
        ledger_of(stack).save_config(billing_config_from(config))
        deliverer = Deliverer(stack, secrets)
        deliver_s = drain_s = 0.0
        dead_lettered = 0
        exhausted = False
        cpu_started = time.process_time()
        for start in range(0, len(deliveries), HISTORY_DRAIN_EVERY):
            started = time.perf_counter()
            for delivery in deliveries[start : start + HISTORY_DRAIN_EVERY]:
                deliverer.deliver(delivery)
            delivered = time.perf_counter()
            summary = stack.drain(max_rounds=100_000)
            deliver_s += delivered - started
            drain_s += time.perf_counter() - delivered
            dead_lettered += summary.dead_lettered
            exhausted = exhausted or summary.exhausted
        cpu_s = time.process_time() - cpu_started
        landed = time_entries_in_ledger(stack, contract_ids)
    missing = entry_ids - landed
    if deliverer.refused or dead_lettered or exhausted or missing:
        raise RuntimeError(
            f"history phase incomplete: {len(missing)} of {len(entry_ids)} time entries missing, "
            f"refused {deliverer.refused[:3]}, dead-lettered {dead_lettered}, exhausted {exhausted}"
        )
    counted = sum(1 for r in records if r.kind == "time")
    return {
        "time_entries": counted,
        "distinct_entries": len(entry_ids),
        "records": len(records),
        "records_by_kind": {
            kind: sum(1 for r in records if r.kind == kind) for kind in sorted({r.kind for r in records})
        },
        "contracts": len(contract_ids),
        "deliveries": len(deliveries),
        "batch_size": batch_size,
        "drain_every_deliveries": HISTORY_DRAIN_EVERY,
        "deliver_s": round(deliver_s, 3),
        "drain_s": round(drain_s, 3),
        "cpu_s": round(cpu_s, 3),
        "entries_per_s": round(counted / (deliver_s + drain_s), 1),
        "entries_per_cpu_s": round(counted / cpu_s, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=10)
    parser.add_argument("--single", type=int, default=300, help="single-event deliveries")
    parser.add_argument("--batches", type=int, default=5, help="deliveries of 100 events")
    parser.add_argument("--history-entries", type=int, default=10_000, help="0: synthetic phases only")
    parser.add_argument("--history", type=Path, help="a generated history directory (default: generate one)")
    args = parser.parse_args(argv)
    figures = run(args.contracts, args.single, args.batches)
    if args.history_entries:
        figures["history"] = run_history(args.history_entries, history=args.history)
    print(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
