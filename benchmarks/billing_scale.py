"""A billing run at scale on the local stack: history events per execution (the run's own
and each child execution's), wall time and state transitions per contract.

    python -m benchmarks.billing_scale [--contracts 200 2000 --entries 50]

For each size: the books of `N` contracts with `M` approved time entries each are
built by the hub's own use cases (SyncContract, RecordActuals) on the in-memory
ledger, written to the local stack's ledger table with batch writes (delivering
100,000 entries through the webhook would measure ingest, not billing), and one
billing run over all contracts is executed by moto's interpreter of the deployed
state machine definition, its task Lambdas run in-process. Reported: the run's
wall time per contract, invoices proposed, the history events of the run's own
execution and of each child execution of its Distributed Map (moto keeps no
history for children: `recorded_child_histories` gives each one its own), state
transitions (one per state entered), and the projection at 100,000 contracts
from the measured per-item figures. Beside it, the states entered per contract
that the definition implies, counted from the ASL.

moto's whole-table copy before each TransactWriteItems is skipped (see
`benchmarks.ingest_throughput`).

One large contract (`--large-contract LINES`, `run_large_contract`): one contract
with LINES unbilled one-day time entries, built and seeded the same way, billed
by one run of the same definition on the local stack. Reported: the run's
outcome and wall time, the invoice's lines, the largest DynamoDB transaction
(items), the largest task input and output (bytes; Step Functions carries at
most 256 KB) and the longest task (against its Lambda timeout).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from billbridge import topology
from billbridge.adapters.dynamo_ledger import DynamoLedger
from billbridge.app.billing_config_document import billing_config_from
from billbridge.app.event_translation import IngestedEvent
from billbridge.app.ledger import StoredBook
from billbridge.domain.model import BookUpdate, ContractBook
from billbridge.local.stack import LocalStack
from billbridge.local.stand_in_boundary import faster_stand_ins

from benchmarks.ingest_throughput import (
    CONFIG,
    contract_event,
    ledger_of,
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
    from billbridge.adapters.memory_command_log import InMemoryCommandLog
    from billbridge.adapters.system_clock import SystemClock
    from billbridge.app.downstream_sync import DownstreamSync
    from billbridge.app.record_actuals import RecordActuals
    from billbridge.app.sync_contract import SyncContract

    from tests.fakes.memory_ledger import InMemoryLedger

    ledger = InMemoryLedger(billing_config_from(CONFIG))
    publisher = DiscardingPublisher()
    connector = EventBusConnector(publisher)
    sync = SyncContract(
        ledger,
        publisher,
        psa=connector,
        erp=connector,
        downstream=DownstreamSync(ledger, InMemoryCommandLog(), SystemClock()),
    )
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


CHILD_EXECUTION_BOUNDARY_EVENTS = 2
"""ExecutionStarted and ExecutionSucceeded: Step Functions records them in every child
execution's history; moto evaluates a child inline and records neither."""
AWS_HISTORY_LIMIT = 25_000
PROJECTED_CONTRACTS = 100_000


@dataclass
class ChildHistories:
    """Events of each child execution of a Distributed Map, one count per child, as moto evaluates them."""

    events: list[int] = field(default_factory=list)
    transitions: list[int] = field(default_factory=list)
    contracts: list[int] = field(default_factory=list)


@contextmanager
def recorded_child_histories() -> Iterator[ChildHistories]:
    """moto runs a Distributed Map's children inside the parent and sends their events to a
    discarded history; here each child gets a history of its own, which is counted."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
        distributed_item_processor_worker as worker_module,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager

    worker = worker_module.DistributedItemProcessorWorker
    original = worker._eval_job
    recorded = ChildHistories()

    def eval_job(self: Any, env: Any, job: Any) -> None:
        env.event_manager = EventManager()
        try:
            original(self, env, job)
        finally:
            history = env.event_manager.get_event_history()
            recorded.events.append(len(history) + CHILD_EXECUTION_BOUNDARY_EVENTS)
            recorded.transitions.append(sum(1 for e in history if str(e["type"]).endswith("StateEntered")))
            item = job.job_input if isinstance(job.job_input, dict) else {}  # the batch, before ItemSelector
            recorded.contracts.append(len(item.get("contract_ids") or ()))

    worker._eval_job = eval_job  # type: ignore[method-assign]
    try:
        yield recorded
    finally:
        worker._eval_job = original  # type: ignore[method-assign]


def parent_history(stack: LocalStack, execution_arn: str) -> tuple[int, int]:
    """(history events, state transitions) of the run's own execution."""
    events = stack.execution_history(execution_arn)
    return len(events), sum(1 for event in events if event["type"].endswith("StateEntered"))


def definition_shape(definition: dict[str, Any]) -> dict[str, Any]:
    """States entered per contract on each path of the per-contract processor, per child
    outside its contracts, and per run outside the Distributed Map (Catch paths excluded)."""
    states = definition["States"]
    distributed_name, distributed = next(
        (n, s) for n, s in states.items() if s["Type"] == "Map" and s.get("ItemReader") is not None
    )
    child = distributed["ItemProcessor"]
    inline_name, inline = next((n, s) for n, s in child["States"].items() if s["Type"] == "Map")
    per_contract_graph = inline["ItemProcessor"]

    def path_lengths(graph: dict[str, Any], start: str) -> dict[str, int]:
        """Ending state -> states entered, for every Choice branch."""
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

    per_contract = path_lengths(per_contract_graph["States"], per_contract_graph["StartAt"])
    return {
        "distributed_map": distributed_name,
        "inline_map": inline_name,
        "per_contract_by_outcome": per_contract,
        "per_contract_invoiced": max(per_contract.values()),
        "per_child_fixed": max(path_lengths(child["States"], child["StartAt"]).values()),
        "run_fixed": max(path_lengths(states, definition["StartAt"]).values()),
        "retries_and_catches_add": (
            "one transition per retry attempt; a caught failure adds RecordFailure + ContractFailed"
        ),
    }


def run_size(contracts: int, entries: int, ledger_contracts: int | None = None) -> dict[str, Any]:
    """Bill `contracts` contracts in one run. With `ledger_contracts` (more than `contracts`), the
    ledger holds that many and the run names the first `contracts` of them: the time per contract
    billed against a ledger table many times larger than the run."""
    started = time.perf_counter()
    stored = max(contracts, ledger_contracts or 0)
    books = build_books(stored, entries)
    built = time.perf_counter()
    billed = sorted(book.contract_id for book in books)[:contracts] if stored > contracts else None
    with LocalStack(extra_env={"POWERTOOLS_LOG_LEVEL": "WARNING"}) as stack:
        seed(stack, books)
        seeded = time.perf_counter()
        cpu_started = time.process_time()
        with recorded_child_histories() as children:
            result = stack.start_billing_run(
                {"period": PERIOD, "contract_ids": billed, "run_id": f"scale-{contracts}-of-{stored}"},
                name=f"scale-{contracts}-of-{stored}",
                timeout_seconds=4 * 3600,
            )
        finished = time.perf_counter()
        cpu_s = time.process_time() - cpu_started
        if result["status"] != "SUCCEEDED":
            raise RuntimeError(f"billing run {result['status']}: {result.get('error')} {result.get('cause')}")
        parent_events, parent_transitions = parent_history(stack, result["executionArn"])
        proposed = sum(len(b.invoices) for b in ledger_of(stack).books())
        definition = json.loads(stack.definition)
    run_s = finished - seeded
    largest_child = max(range(len(children.events)), key=lambda i: children.events[i])
    transitions = parent_transitions + sum(children.transitions)
    return {
        "contracts": contracts,
        "contracts_in_ledger": stored,
        "entries_per_contract": entries,
        "build_books_s": round(built - started, 1),
        "stack_start_and_seed_s": round(seeded - built, 1),
        "run_s": round(run_s, 1),
        "ms_per_contract": round(1000 * run_s / contracts, 1),
        "cpu_ms_per_contract": round(1000 * cpu_s / contracts, 1),
        "contracts_per_s": round(contracts / run_s, 2),
        "invoices_proposed": proposed,
        "children": len(children.events),
        "parent_events": parent_events,
        "child_events_max": children.events[largest_child],
        "contracts_in_largest_child": children.contracts[largest_child],
        "child_events_per_contract": round(
            children.events[largest_child] / max(children.contracts[largest_child], 1), 2
        ),
        "transitions": transitions,
        "transitions_per_contract": round(transitions / contracts, 2),
        "definition": definition_shape(definition),
    }


class NamedContracts:
    """A SelectContracts stand-in: the given contract ids, without a ledger."""

    def __init__(self, contract_ids: list[str]) -> None:
        self._ids = contract_ids

    def handle(self, *, period: str, contract_ids: list[str] | None) -> list[str]:
        return list(self._ids)


def run_definition_only(contracts: int) -> dict[str, Any]:
    """The deployed definition over `contracts` contracts with stand-in tasks: selection writes
    the batches (the real PlanBillingRun over named ids), compose proposes, post posts, the real
    ConcludeBatch and ConcludeRun count. No ledger: what is measured is the state machine's
    history and the interpreter's time, which do not depend on the billing work."""
    from billbridge.adapters.s3_run_workspace import S3RunWorkspace
    from billbridge.app.run_billing import PlanBillingRun

    tasks = {task.name: task.handler for task in topology.BILLING_TASKS}
    ids = [f"SOW-DEF-{i:06d}" for i in range(contracts)]

    def select(event: dict[str, Any], context: Any) -> dict[str, Any]:
        workspace = S3RunWorkspace(bucket_name=stack.names.billing_run_bucket, client=stack.client("s3"))
        plan = PlanBillingRun(NamedContracts(ids), workspace, batch_size=topology.BILLING_BATCH_SIZE)  # type: ignore[arg-type]
        return plan.handle(period=PERIOD, contract_ids=None, run_id=str(event["run_id"]), attempt="a")

    def compose(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {**event, "proposal_id": f"{event['contract_id']}-{PERIOD}-1"}

    def post(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {**event, "posted": [event["proposal_id"]]}

    handlers = {tasks["select_contracts"]: select, tasks["compose_invoice"]: compose, tasks["post_invoice"]: post}
    with LocalStack(handlers=handlers, extra_env={"POWERTOOLS_LOG_LEVEL": "WARNING"}) as stack:
        started = time.perf_counter()
        with recorded_child_histories() as children:
            result = stack.start_billing_run(
                {"period": PERIOD, "contract_ids": None, "run_id": f"definition-{contracts}"},
                name=f"definition-{contracts}",
                timeout_seconds=4 * 3600,
            )
        run_s = time.perf_counter() - started
        if result["status"] != "SUCCEEDED":
            raise RuntimeError(f"billing run {result['status']}: {result.get('error')} {result.get('cause')}")
        parent_events, parent_transitions = parent_history(stack, result["executionArn"])
        output = result["output"]
    largest_child = max(range(len(children.events)), key=lambda i: children.events[i])
    transitions = parent_transitions + sum(children.transitions)
    return {
        "contracts": contracts,
        "entries_per_contract": "stand-in tasks",
        "run_s": round(run_s, 1),
        "ms_per_contract": round(1000 * run_s / contracts, 1),
        "contracts_per_s": round(contracts / run_s, 2),
        "invoices_proposed": int(output["invoiced"]),
        "children": len(children.events),
        "parent_events": parent_events,
        "child_events_max": children.events[largest_child],
        "contracts_in_largest_child": children.contracts[largest_child],
        "child_events_per_contract": round(
            children.events[largest_child] / max(children.contracts[largest_child], 1), 2
        ),
        "transitions": transitions,
        "transitions_per_contract": round(transitions / contracts, 2),
    }


def projection(sizes: dict[str, dict[str, Any]], contracts: int = PROJECTED_CONTRACTS) -> dict[str, Any]:
    """History events per execution at `contracts`, from the measured per-item figures: the
    parent's count (measured flat across sizes, taken at its largest) and a child's events
    per contract (the largest measured, fixed part included) times the batch size."""
    parent = max(s["parent_events"] for s in sizes.values())
    per_contract = max(s["child_events_per_contract"] for s in sizes.values())
    child = per_contract * topology.BILLING_BATCH_SIZE
    return {
        "contracts": contracts,
        "batch_size": topology.BILLING_BATCH_SIZE,
        "children": -(-contracts // topology.BILLING_BATCH_SIZE),
        "parent_events": parent,
        "child_events_per_contract": per_contract,
        "child_events": round(child),
        "max_events_per_execution": round(max(parent, child)),
        "limit": AWS_HISTORY_LIMIT,
        "under_limit": max(parent, child) < AWS_HISTORY_LIMIT,
        "largest_batch_under_limit": int((AWS_HISTORY_LIMIT - 1) // per_contract),
    }


def run(
    sizes: Sequence[int] = (200,),
    entries: int = 50,
    definition_only: Sequence[int] = (),
    large_contracts: Sequence[int] = (),
) -> dict[str, Any]:
    results = {}
    with faster_stand_ins(), quiet_functions():
        for size in sizes:
            results[str(size)] = run_size(size, entries)
        stand_in = {str(size): run_definition_only(size) for size in definition_only}
        large = {str(lines): run_large_contract(lines) for lines in large_contracts}
    largest = results[str(max(sizes))]
    return {
        "sizes": results,
        "definition_only": stand_in,
        "large_contract": large,
        "largest_contracts": max(sizes),
        "largest_run_s": largest["run_s"],
        "batch_size": topology.BILLING_BATCH_SIZE,
        "transitions_per_contract_measured": largest["transitions_per_contract"],
        "transitions_per_contract_definition": largest["definition"]["per_contract_invoiced"],
        "projection": projection({**results, **{f"{k} (stand-in tasks)": v for k, v in stand_in.items()}}),
    }


STATE_PAYLOAD_LIMIT_BYTES = 256 * 1024
TRANSACTION_ITEMS_LIMIT = 100


@dataclass
class LargeContractObservations:
    """What the tasks of a run did, as AWS would limit it."""

    transaction_items: list[int] = field(default_factory=list)
    task_input_bytes: dict[str, int] = field(default_factory=dict)
    task_output_bytes: dict[str, int] = field(default_factory=dict)
    task_ms: dict[str, float] = field(default_factory=dict)


@contextmanager
def observed_tasks(stack: LocalStack) -> Iterator[LargeContractObservations]:
    """Every billing task's payload sizes and time, and every TransactWriteItems' size."""
    from botocore.client import BaseClient

    seen = LargeContractObservations()
    original_call = BaseClient._make_api_call

    def make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "TransactWriteItems":
            seen.transaction_items.append(len(params["TransactItems"]))
        return original_call(client, operation, params)

    def timed(name: str, handler: Any) -> Any:
        def run_task(event: Any, context: Any) -> Any:
            started = time.perf_counter()
            result = handler(event, context)
            elapsed = (time.perf_counter() - started) * 1000
            seen.task_ms[name] = round(max(seen.task_ms.get(name, 0.0), elapsed), 1)
            for sizes, document in ((seen.task_input_bytes, event), (seen.task_output_bytes, result)):
                size = len(json.dumps(document, default=str).encode("utf-8"))
                sizes[name] = max(sizes.get(name, 0), size)
            return result

        return run_task

    for task in topology.BILLING_TASKS:
        stack.resolver.override(task.handler, timed(task.name, stack.resolver.resolve(task.handler)))
    BaseClient._make_api_call = make_api_call  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        BaseClient._make_api_call = original_call  # type: ignore[method-assign]


def run_large_contract(lines: int) -> dict[str, Any]:
    """One contract with `lines` unbilled lines billed end to end through the state machine."""
    started = time.perf_counter()
    books = build_books(1, lines)
    built = time.perf_counter()
    with LocalStack(extra_env={"POWERTOOLS_LOG_LEVEL": "WARNING"}) as stack:
        seed(stack, books)
        seeded = time.perf_counter()
        with observed_tasks(stack) as seen:
            result = stack.start_billing_run(
                {"period": PERIOD, "contract_ids": None, "run_id": f"large-{lines}"},
                name=f"large-{lines}",
                timeout_seconds=4 * 3600,
            )
        finished = time.perf_counter()
        (book,) = ledger_of(stack).books()
        invoice_lines = [len(invoice.lines) for invoice in book.invoices.values()]
    largest_payload = max([*seen.task_input_bytes.values(), *seen.task_output_bytes.values()], default=0)
    longest_task = max(seen.task_ms, key=lambda name: seen.task_ms[name]) if seen.task_ms else ""
    return {
        "lines": lines,
        "status": result["status"],
        "build_books_s": round(built - started, 1),
        "stack_start_and_seed_s": round(seeded - built, 1),
        "run_s": round(finished - seeded, 1),
        "invoices": len(invoice_lines),
        "invoice_lines": sum(invoice_lines),
        "transactions": len(seen.transaction_items),
        "transaction_items_max": max(seen.transaction_items, default=0),
        "task_input_bytes_max": seen.task_input_bytes,
        "task_output_bytes_max": seen.task_output_bytes,
        "task_payload_bytes_max": largest_payload,
        "task_ms_max": seen.task_ms,
        "longest_task": longest_task,
        "limits": {"transaction_items": TRANSACTION_ITEMS_LIMIT, "state_payload_bytes": STATE_PAYLOAD_LIMIT_BYTES},
        "within_limits": (
            result["status"] == "SUCCEEDED"
            and sum(invoice_lines) == lines
            and max(seen.transaction_items, default=0) <= TRANSACTION_ITEMS_LIMIT
            and largest_payload <= STATE_PAYLOAD_LIMIT_BYTES
        ),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, nargs="+", default=[200])
    parser.add_argument("--entries", type=int, default=50, help="time entries per contract")
    parser.add_argument("--output", help="also write the figures to this JSON file")
    parser.add_argument(
        "--ledger-contracts",
        type=int,
        metavar="M",
        help="the ledger holds M contracts; each run bills the first N (--contracts) of them",
    )
    parser.add_argument(
        "--large-contract", type=int, metavar="LINES", help="one contract with LINES unbilled lines, billed end to end"
    )
    parser.add_argument(
        "--definition-only",
        action="store_true",
        help="stand-in tasks, no ledger: the state machine's history and the interpreter's time only",
    )
    args = parser.parse_args(argv)
    if args.large_contract:
        with faster_stand_ins(), quiet_functions():
            figures = {"large_contract": {str(args.large_contract): run_large_contract(args.large_contract)}}
    elif args.definition_only:
        with quiet_functions():
            figures = {"definition_only": {str(n): run_definition_only(n) for n in args.contracts}}
    elif args.ledger_contracts:
        with faster_stand_ins(), quiet_functions():
            sizes = {
                f"{n} of {args.ledger_contracts}": run_size(n, args.entries, args.ledger_contracts)
                for n in args.contracts
            }
        figures = {"billed_from_a_larger_ledger": sizes}
    else:
        figures = run(args.contracts, args.entries)
    print(json.dumps(figures, indent=2))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            json.dump(figures, out, indent=2)
    return figures


if __name__ == "__main__":
    main()
