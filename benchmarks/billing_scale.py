"""A billing run at scale on the local stack, and the state machine's transitions per contract.

    python -m benchmarks.billing_scale [--contracts 200 2000 --entries 50]

For each size: the books of `N` contracts with `M` approved time entries each are
built by the hub's own use cases (SyncContract, RecordActuals) on the in-memory
ledger, written to the local stack's ledger table with batch writes (delivering
100,000 entries through the webhook would measure ingest, not billing), and one
billing run over all contracts is executed by moto's interpreter of the deployed
state machine definition, its task Lambdas run in-process. Reported: the run's
wall time, contracts per second, invoices proposed, and state transitions per
contract from the execution history (one per state entered). Beside it, the
transitions per contract that the definition implies, counted from the ASL.

moto's whole-table copy before each TransactWriteItems is skipped (see
`benchmarks.ingest_throughput`).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from typing import Any

from billbridge.adapters.dynamo_ledger import DynamoLedger
from billbridge.app.event_translation import IngestedEvent, billing_config_from
from billbridge.app.ledger import StoredBook
from billbridge.domain.model import BookUpdate, ContractBook
from billbridge.localstack.stack import LocalStack

from benchmarks.ingest_throughput import (
    CONFIG,
    contract_event,
    ledger_of,
    moto_without_transaction_backup,
    quiet_functions,
    time_entry_event,
)

PERIOD = "2026-03"
BATCH_WRITE_LIMIT = 25


class DiscardingPublisher:
    """The in-memory seeding publishes nothing: the books are what the run reads."""

    def publish(self, events: Sequence[Any]) -> None:
        return None


class BatchWritingClient:
    """A DynamoDB client whose TransactWriteItems become BatchWriteItem puts (bulk seeding only)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.exceptions = client.exceptions

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_write_items(self, TransactItems: list[dict[str, Any]]) -> None:
        puts = [entry["Put"] for entry in TransactItems if "Put" in entry]
        for entry in TransactItems:  # the ledger's fence (Update) and deletes, one call each
            if "Update" in entry:
                self._client.update_item(**entry["Update"])
            elif "Delete" in entry:
                self._client.delete_item(**entry["Delete"])
        for start in range(0, len(puts), BATCH_WRITE_LIMIT):
            chunk = puts[start : start + BATCH_WRITE_LIMIT]
            self._client.batch_write_item(
                RequestItems={chunk[0]["TableName"]: [{"PutRequest": {"Item": p["Item"]}} for p in chunk]}
            )


def ingested(payload: dict[str, Any]) -> IngestedEvent:
    return IngestedEvent.from_detail(str(payload["type"]), {"event": payload, "correlationid": f"seed-{payload['id']}"})


def build_books(contracts: int, entries: int) -> list[ContractBook]:
    """Books as the consumers would have left them, built on the in-memory ledger."""
    from billbridge.adapters.connectors.event_connector import EventBusConnector
    from billbridge.adapters.memory_ledger import InMemoryLedger
    from billbridge.app.record_actuals import RecordActuals
    from billbridge.app.sync_contract import SyncContract

    ledger = InMemoryLedger(billing_config_from(CONFIG))
    publisher = DiscardingPublisher()
    connector = EventBusConnector(publisher)
    sync = SyncContract(ledger, publisher, psa=connector, erp=connector)
    actuals = RecordActuals(ledger, publisher)
    for index in range(contracts):
        sync.handle(ingested(contract_event(index)))
        for entry in range(entries):
            actuals.handle(ingested(time_entry_event(index, entry)))
    return ledger.books()


def seed(stack: LocalStack, books: list[ContractBook]) -> None:
    client = BatchWritingClient(stack.client("dynamodb"))
    ledger = DynamoLedger(stack.names.ledger_table, client=client)
    ledger.save_config(billing_config_from(CONFIG))
    for book in books:
        ledger.save(StoredBook(ContractBook(contract_id=book.contract_id), 0), BookUpdate(book=book))


def transitions_from_history(stack: LocalStack, execution_arn: str) -> int:
    return sum(1 for event in stack.execution_history(execution_arn) if event["type"].endswith("StateEntered"))


def definition_transitions(definition: dict[str, Any]) -> dict[str, Any]:
    """Transitions of the run's fixed part and of one contract on each path of the Map's item processor."""
    states = definition["States"]
    map_name, map_state = next((n, s) for n, s in states.items() if s["Type"] == "Map")
    processor = map_state.get("ItemProcessor") or map_state["Iterator"]

    def path_lengths(graph: dict[str, Any], start: str) -> dict[str, int]:
        """Ending state -> states entered, for every Choice branch (Catch paths excluded)."""
        results: dict[str, int] = {}

        def walk(name: str, depth: int) -> None:
            state = graph[name]
            if state["Type"] == "Choice":
                for target in [c["Next"] for c in state["Choices"]] + [state.get("Default")]:
                    if target:
                        walk(target, depth + 1)
            elif state.get("End") or state["Type"] in ("Succeed", "Fail"):
                results[name] = depth + 1
            else:
                walk(state["Next"], depth + 1)

        walk(start, 0)
        return results

    per_contract = path_lengths(processor["States"], processor["StartAt"])
    run_path = path_lengths(states, definition["StartAt"])
    return {
        "per_contract_by_outcome": per_contract,
        "per_contract_invoiced": max(per_contract.values()),
        "run_fixed": max(run_path.values()),
        "map_state": map_name,
        "retries_and_catches_add": (
            "one transition per retry attempt; a caught failure adds RecordFailure + ContractFailed"
        ),
    }


def run_size(contracts: int, entries: int) -> dict[str, Any]:
    started = time.perf_counter()
    books = build_books(contracts, entries)
    built = time.perf_counter()
    with LocalStack(extra_env={"POWERTOOLS_LOG_LEVEL": "WARNING"}) as stack:
        seed(stack, books)
        seeded = time.perf_counter()
        result = stack.start_billing_run(
            {"period": PERIOD, "contract_ids": None, "run_id": f"scale-{contracts}"},
            name=f"scale-{contracts}",
            timeout_seconds=7200,
        )
        finished = time.perf_counter()
        if result["status"] != "SUCCEEDED":
            raise RuntimeError(f"billing run {result['status']}: {result.get('error')} {result.get('cause')}")
        transitions = transitions_from_history(stack, result["executionArn"])
        proposed = sum(len(b.invoices) for b in ledger_of(stack).books())
        definition = json.loads(stack.definition)
    run_s = finished - seeded
    return {
        "contracts": contracts,
        "entries_per_contract": entries,
        "build_books_s": round(built - started, 1),
        "stack_start_and_seed_s": round(seeded - built, 1),
        "run_s": round(run_s, 1),
        "contracts_per_s": round(contracts / run_s, 2),
        "invoices_proposed": proposed,
        "transitions": transitions,
        "transitions_per_contract": round(transitions / contracts, 2),
        "definition": definition_transitions(definition),
    }


def run(sizes: Sequence[int] = (200,), entries: int = 50) -> dict[str, Any]:
    results = {}
    with moto_without_transaction_backup(), quiet_functions():
        for size in sizes:
            results[str(size)] = run_size(size, entries)
    largest = results[str(max(sizes))]
    return {
        "sizes": results,
        "largest_contracts": max(sizes),
        "largest_run_s": largest["run_s"],
        "transitions_per_contract_measured": largest["transitions_per_contract"],
        "transitions_per_contract_definition": largest["definition"]["per_contract_invoiced"],
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, nargs="+", default=[200])
    parser.add_argument("--entries", type=int, default=50, help="time entries per contract")
    args = parser.parse_args(argv)
    figures = run(args.contracts, args.entries)
    print(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
