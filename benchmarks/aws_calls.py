"""AWS calls per accepted time entry and per invoice line, and what they cost.

    python -m benchmarks.aws_calls [--contracts C --entries E]

On a local stack with `C` approved contracts, three phases are recorded:

- single: `C * E / 2` time entries, one delivery each, then a drain;
- batched: as many again, in deliveries of 100 events, then a drain;
- billing: one billing run over the `C` contracts (state machine), then a drain.

Every boto3 call is counted by service and operation (`BaseClient._make_api_call`
is wrapped) and attributed to the Lambda handler running at the time. The local
stack's own calls (pumping the queues, reading the ledger) are not the hub's and
are not counted as such; what AWS itself does per message is modelled instead:
API Gateway one request per delivery; EventBridge one custom event per 64 KB chunk
of each PutEvents entry (a packed entry carries many canonical events) and, per
entry matching a workflow rule, one SQS SendMessage to the queue per 64 KB chunk
of the message; the SQS event source mapping one ReceiveMessage and one
DeleteMessageBatch per batch it hands to a consumer (non-empty receives seen by
the pump), and one Lambda request per batch; Step Functions one Lambda request
per task Invoke and the state transitions of the execution history.

DynamoDB request units are computed per call from the item sizes (DynamoDB's
size rules: attribute names plus values): writes 1 WRU per KB (x2 in a
transaction), plus 1 WRU per KB for an item that lands in the `lookup` index,
reads 1 RRU per 4 KB strongly consistent, half eventually, at least one unit per
call, and per key of a `BatchGetItem` (a key whose item does not exist included).
Lambda GB-seconds: each invocation's own time (wall time minus the time spent inside
moto) scaled to a 512 MB function's CPU share (512/1769 of a vCPU), plus
a modelled latency per AWS call (`CALL_LATENCY_MS`). Prices: `PRICES`.
"""

from __future__ import annotations

import argparse
import json
import math
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from billbridge import topology
from billbridge.local.stack import SERVICES, LocalStack
from billbridge.local.stand_in_boundary import faster_stand_ins
from botocore.client import BaseClient

from benchmarks.billing_scale import recorded_child_histories
from benchmarks.ingest_throughput import (
    BATCH_SIZE,
    entries_round_robin,
    ledger_of,
    quiet_functions,
    stack_with_contracts,
)

PRICE_DATE = "2025-06 (us-east-1 list prices, free tiers not applied)"
PRICES: dict[str, tuple[float, str]] = {
    "lambda_gb_s_arm64": (0.0000133334, "Lambda duration, arm64, per GB-second (first 7.5 B GB-s)"),
    "lambda_request": (0.20 / 1e6, "Lambda requests, per request ($0.20 per million)"),
    "apigw_rest_request": (3.50 / 1e6, "API Gateway REST API, per request ($3.50 per million, first 333 M)"),
    "eventbridge_event": (1.00 / 1e6, "EventBridge custom events, per 64 KB chunk ($1.00 per million)"),
    "sqs_request": (0.40 / 1e6, "SQS standard requests, per 64 KB chunk ($0.40 per million)"),
    "dynamodb_wru": (0.625 / 1e6, "DynamoDB on-demand write request units ($0.625 per million)"),
    "dynamodb_rru": (0.125 / 1e6, "DynamoDB on-demand read request units ($0.125 per million)"),
    "sfn_transition": (0.025 / 1000, "Step Functions standard state transitions ($0.025 per 1,000)"),
    "sfn_express_request": (
        1.00 / 1e6,
        "Step Functions Express workflows, per request ($1.00 per million; aws.amazon.com/step-functions/pricing)",
    ),
    "sfn_express_gb_s": (
        0.00001667,
        "Step Functions Express workflows, duration per GB-second, 64 MB chunks, 100 ms steps (first 1,000 hours)",
    ),
    "s3_put": (0.005 / 1000, "S3 Standard PUT/COPY/POST/LIST requests ($0.005 per 1,000)"),
    "s3_get": (0.0004 / 1000, "S3 Standard GET requests ($0.0004 per 1,000)"),
    "secrets_api_call": (0.05 / 10000, "Secrets Manager API calls ($0.05 per 10,000)"),
}
CALL_LATENCY_MS: dict[str, float] = {
    "dynamodb": 6.0,
    "s3": 25.0,
    "events": 15.0,
    "sqs": 10.0,
    "secretsmanager": 20.0,
    "stepfunctions": 25.0,
    "lambda": 0.0,
}
"""Assumed in-region round trip per call, added to a Lambda's billed duration."""
FUNCTION_MEMORY_GB = 0.5
EXPRESS_MEMORY_GB = 64 / 1024
"""An Express child's billed memory: one 64 MB chunk (its state is one batch of 100 contract ids)."""
EXPRESS_STEP_MS = 100
CHILD_TASKS = ("task compose_invoice", "task post_invoice", "task record_failure", "task conclude_batch")
"""The tasks a Distributed Map child runs: their invocations make up the children's duration."""
CPU_SHARE = 512 / 1769
GOAL_BATCHED_USD_PER_MILLION = 4.0
GOAL_SINGLE_USD_PER_MILLION = 10.0
HUB_ACTOR_PREFIX = "function:"
MAX_ITEMS_PER_READ_UNIT = 4096
WRITE_UNIT = 1024


# -- DynamoDB item sizes and request units ---------------------------------------------------------


def attribute_size(value: dict[str, Any]) -> int:
    """DynamoDB's size of one typed attribute value."""
    ((kind, content),) = value.items()
    if kind == "S":
        return len(str(content).encode("utf-8"))
    if kind == "N":
        return 1 + math.ceil(len(str(content).lstrip("-").replace(".", "")) / 2)
    if kind == "B":
        return len(content) if isinstance(content, (bytes, bytearray)) else len(str(content)) * 3 // 4
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + item_size(content)
    if kind == "L":
        return 3 + sum(1 + attribute_size(v) for v in content)
    if kind in ("SS", "NS", "BS"):
        return sum(attribute_size({kind[0]: v}) for v in content)
    return 0


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode("utf-8")) + attribute_size(value) for name, value in item.items())


def write_units(item: dict[str, Any], *, transactional: bool = False) -> float:
    """Table units (x2 in a transaction) plus the `lookup` index's (it projects ALL attributes)."""
    units = max(1, math.ceil(item_size(item) / WRITE_UNIT))
    index_units = units if topology.LEDGER_LOOKUP_KEYS.partition_key in item else 0
    return units * (2 if transactional else 1) + index_units


def read_units(total_bytes: int, *, consistent: bool, transactional: bool = False) -> float:
    units = max(1, math.ceil(total_bytes / MAX_ITEMS_PER_READ_UNIT))
    if transactional:
        return units * 2.0
    return float(units) if consistent else units / 2


def dynamodb_units(operation: str, params: dict[str, Any], response: dict[str, Any]) -> tuple[float, float]:
    """(read units, write units) of one DynamoDB call."""
    consistent = bool(params.get("ConsistentRead"))
    if operation == "PutItem":
        return 0.0, write_units(params["Item"])
    if operation in ("UpdateItem", "DeleteItem"):
        old = response.get("Attributes") or {}
        return 0.0, max(1.0, write_units({**params.get("Key", {}), **old}))
    if operation == "TransactWriteItems":
        total = 0.0
        for entry in params["TransactItems"]:
            ((_, body),) = entry.items()
            total += write_units(body.get("Item") or body.get("Key") or {}, transactional=True)
        return 0.0, total
    if operation == "BatchWriteItem":
        return 0.0, sum(
            write_units(request["PutRequest"]["Item"]) if "PutRequest" in request else 1.0
            for requests in params["RequestItems"].values()
            for request in requests
        )
    if operation == "GetItem":
        return read_units(item_size(response.get("Item") or {}), consistent=consistent), 0.0
    if operation in ("Query", "Scan"):
        return read_units(sum(item_size(i) for i in response.get("Items", [])), consistent=consistent), 0.0
    if operation == "BatchGetItem":
        # Consistency is asked per table, inside RequestItems (not a top-level parameter). Each key
        # is read as a GetItem would be: a key with no item is charged too (DynamoDB charges a read
        # of an item that does not exist); keys left unprocessed are not read.
        units = 0.0
        for table, request in params["RequestItems"].items():
            consistent = bool(request.get("ConsistentRead"))
            items = response.get("Responses", {}).get(table, [])
            unprocessed = response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
            missing = max(0, len(request.get("Keys", [])) - len(unprocessed) - len(items))
            units += sum(read_units(item_size(i), consistent=consistent) for i in items)
            units += missing * read_units(0, consistent=consistent)
        return units, 0.0
    return 0.0, 0.0


# -- recording ------------------------------------------------------------------------------------


@dataclass
class Invocation:
    actor: str
    wall_ms: float = 0.0
    aws_ms: float = 0.0
    modelled_latency_ms: float = 0.0
    cpu_ms: float = 0.0
    """CPU time of the invocation's thread (`time.thread_time`): what the function computes,
    without the time this shared machine made it wait for a core."""
    aws_cpu_ms: float = 0.0
    """The part of `cpu_ms` spent inside AWS calls (the in-process stand-ins' own work)."""


@dataclass
class Recording:
    calls: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    rru: float = 0.0
    wru: float = 0.0
    events_put: int = 0
    """64 KB chunks of the PutEvents entries (EventBridge's billing unit)."""
    bus_entries: int = 0
    events_to_workflow_queues: int = 0
    """64 KB chunks of the SQS messages the bus sends to the workflow queues."""
    consumer_batches: int = 0
    invocations: list[Invocation] = field(default_factory=list)


def workflow_detail_types() -> set[str]:
    return {t for workflow in topology.WORKFLOWS for t in workflow.event_types}


CHUNK_BYTES = 64 * 1024
SQS_ENVELOPE_BYTES = 300
"""What EventBridge adds around a detail in the SQS message (version, id, account, time, region...)."""


def entry_bytes(entry: dict[str, Any]) -> int:
    """A PutEvents entry's size as EventBridge counts it: source, detail-type, detail and 14 bytes."""
    return 14 + sum(len(str(entry.get(k, "")).encode("utf-8")) for k in ("Source", "DetailType", "Detail"))


def event_chunks(entry: dict[str, Any]) -> int:
    return max(1, math.ceil(entry_bytes(entry) / CHUNK_BYTES))


def message_chunks(entry: dict[str, Any]) -> int:
    return max(1, math.ceil((entry_bytes(entry) + SQS_ENVELOPE_BYTES) / CHUNK_BYTES))


class CallRecorder:
    """Counts boto3 calls by actor (the handler running, the stack, or Step Functions)."""

    def __init__(self, stack: LocalStack) -> None:
        self.recording = Recording()
        self._stack_clients = {id(stack.client(service)) for service in SERVICES}
        self._workflow_queue_urls = {stack.queue_url(stack.names.queue(w)) for w in topology.WORKFLOWS}
        self._routed_types = workflow_detail_types()
        self._local = threading.local()
        self._lock = threading.Lock()

    def _current(self) -> Invocation | None:
        stack: list[Invocation] = getattr(self._local, "stack", [])
        return stack[-1] if stack else None

    def wrap(self, actor: str, handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def recorded(event: Any, context: Any) -> Any:
            invocation = Invocation(actor=f"{HUB_ACTOR_PREFIX}{actor}")
            frames = self._local.__dict__.setdefault("stack", [])
            frames.append(invocation)
            started = time.perf_counter()
            cpu_started = time.thread_time()
            try:
                return handler(event, context)
            finally:
                invocation.wall_ms = (time.perf_counter() - started) * 1000
                invocation.cpu_ms = (time.thread_time() - cpu_started) * 1000
                frames.pop()
                with self._lock:
                    self.recording.invocations.append(invocation)

        return recorded

    @contextmanager
    def installed(self) -> Iterator[Recording]:
        original = BaseClient._make_api_call
        recorder = self

        def make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            started = time.perf_counter()
            cpu_started = time.thread_time()
            response: dict[str, Any] = {}
            try:
                response = original(client, operation, params)
                return response
            finally:
                recorder.record(
                    client,
                    operation,
                    params,
                    response,
                    (time.perf_counter() - started) * 1000,
                    (time.thread_time() - cpu_started) * 1000,
                )

        BaseClient._make_api_call = make_api_call  # type: ignore[method-assign]
        try:
            yield self.recording
        finally:
            BaseClient._make_api_call = original  # type: ignore[method-assign]

    def record(
        self, client: Any, operation: str, params: dict[str, Any], response: Any, ms: float, cpu_ms: float = 0.0
    ) -> None:
        service = client.meta.service_model.service_name
        invocation = self._current()
        if id(client) in self._stack_clients and invocation is None:
            actor = "local stack"
        elif invocation is not None:
            actor = invocation.actor
        else:
            actor = "stepfunctions"
        with self._lock:
            rec = self.recording
            rec.calls[(actor, service, operation)] += 1
            if actor == "local stack":
                self._record_pump(service, operation, params, response or {})
                return
            if invocation is not None:
                invocation.aws_ms += ms
                invocation.aws_cpu_ms += cpu_ms
                invocation.modelled_latency_ms += CALL_LATENCY_MS.get(service, 10.0)
            if service == "dynamodb":
                rru, wru = dynamodb_units(operation, params, response or {})
                rec.rru += rru
                rec.wru += wru
            if service == "events" and operation == "PutEvents":
                rec.events_put += sum(event_chunks(entry) for entry in params["Entries"])
                rec.bus_entries += len(params["Entries"])
                rec.events_to_workflow_queues += sum(
                    message_chunks(entry)
                    for entry in params["Entries"]
                    if entry.get("Source") == topology.INGEST_EVENT_SOURCE
                    and entry.get("DetailType") in self._routed_types
                )

    def _record_pump(self, service: str, operation: str, params: dict[str, Any], response: dict[str, Any]) -> None:
        if (
            service == "sqs"
            and operation == "ReceiveMessage"
            and params.get("QueueUrl") in self._workflow_queue_urls
            and response.get("Messages")
        ):
            self.recording.consumer_batches += 1


def all_handler_paths() -> dict[str, str]:
    paths = {topology.WEBHOOK_HANDLER: "webhook"}
    paths.update({w.handler: f"queue {w.name}" for w in topology.WORKFLOWS})
    paths.update({t.handler: f"task {t.name}" for t in topology.BILLING_TASKS})
    return paths


def original_handlers(stack: LocalStack) -> dict[str, tuple[str, Callable[[Any, Any], Any]]]:
    """Handler path -> (actor, the handler itself), resolved once, before any wrapping."""
    return {path: (actor, stack.resolver.resolve(path)) for path, actor in all_handler_paths().items()}


def install_recorded_handlers(
    stack: LocalStack, recorder: CallRecorder, originals: dict[str, tuple[str, Callable[[Any, Any], Any]]]
) -> None:
    for path, (actor, handler) in originals.items():
        stack.resolver.override(path, recorder.wrap(actor, handler))


# -- cost model -----------------------------------------------------------------------------------


def own_cpu_ms(invocation: Invocation) -> float:
    """The function's own work: its thread's CPU time less the CPU time inside AWS calls (the
    stand-ins run in this process). Wall time is not used: on a shared machine it counts the time
    spent waiting for a core, which a Lambda function with its own CPU share does not wait."""
    return max(0.0, invocation.cpu_ms - invocation.aws_cpu_ms)


def billed_ms(invocation: Invocation) -> float:
    own_ms = own_cpu_ms(invocation)
    return math.ceil(own_ms / CPU_SHARE + invocation.modelled_latency_ms)


def express_child_ms(rec: Recording, children: int) -> float:
    """Billed duration of the Express children, modelled as the sum of their tasks' billed
    durations (as if each child ran its contracts one at a time: an upper bound, since a child
    runs BILLING_BATCH_MAX_CONCURRENCY at once), each child rounded up to 100 ms."""
    if not children:
        return 0.0
    task_ms = sum(billed_ms(i) for i in rec.invocations if i.actor.removeprefix(HUB_ACTOR_PREFIX) in CHILD_TASKS)
    return math.ceil(task_ms / children / EXPRESS_STEP_MS) * EXPRESS_STEP_MS * children


def phase_units(
    rec: Recording, *, transitions: int = 0, express_children: int = 0, express_ms: float = 0.0
) -> dict[str, float]:
    """Billable units of a recorded phase, by price key. `transitions`: Standard state
    transitions (the run's own execution); the Distributed Map's children are Express
    executions, billed per request and duration."""
    hub_calls = Counter({(s, o): n for (a, s, o), n in rec.calls.items() if a.startswith(HUB_ACTOR_PREFIX)})
    webhook_invocations = sum(1 for i in rec.invocations if i.actor == f"{HUB_ACTOR_PREFIX}webhook")
    sfn_invokes = rec.calls[("stepfunctions", "lambda", "Invoke")]
    handler_sqs = sum(n for (s, _), n in hub_calls.items() if s == "sqs")
    return {
        "apigw_rest_request": webhook_invocations,
        "lambda_request": webhook_invocations + rec.consumer_batches + sfn_invokes,
        "lambda_gb_s_arm64": sum(billed_ms(i) for i in rec.invocations) / 1000 * FUNCTION_MEMORY_GB,
        "eventbridge_event": rec.events_put,
        "sqs_request": rec.events_to_workflow_queues + 2 * rec.consumer_batches + handler_sqs,
        "dynamodb_wru": rec.wru,
        "dynamodb_rru": rec.rru,
        "sfn_transition": transitions,
        "sfn_express_request": express_children,
        "sfn_express_gb_s": express_ms / 1000 * EXPRESS_MEMORY_GB,
        "s3_put": hub_calls[("s3", "PutObject")],
        "s3_get": hub_calls[("s3", "GetObject")],
        "secrets_api_call": sum(n for (s, _), n in hub_calls.items() if s == "secretsmanager"),
    }


def cost_of(units: dict[str, float]) -> dict[str, float]:
    return {key: units[key] * PRICES[key][0] for key in units}


def per_million(units: dict[str, float], per: int) -> dict[str, float]:
    """USD per 1,000,000 of whatever `per` counts, by price key."""
    return {key: round(value / per * 1e6, 4) for key, value in cost_of(units).items()}


def billed_ms_by_actor(rec: Recording) -> dict[str, float]:
    """Median modelled billed duration of one invocation, per function."""
    durations: dict[str, list[float]] = defaultdict(list)
    for invocation in rec.invocations:
        durations[invocation.actor.removeprefix(HUB_ACTOR_PREFIX)].append(billed_ms(invocation))
    return {actor: sorted(values)[len(values) // 2] for actor, values in sorted(durations.items())}


def consumer_own_ms_per_entry(rec: Recording, entries: int, actor: str = "queue actuals") -> float:
    """The actuals consumer's own CPU time (less the CPU time inside AWS calls) per entry."""
    own = sum(own_cpu_ms(i) for i in rec.invocations if i.actor == f"{HUB_ACTOR_PREFIX}{actor}")
    return round(own / max(entries, 1), 3)


def calls_table(rec: Recording, per: int) -> dict[str, float]:
    """Hub calls per unit (entry or line): `service:Operation` -> calls."""
    table: Counter[str] = Counter()
    for (actor, service, operation), n in rec.calls.items():
        if actor != "local stack":
            table[f"{service}:{operation}"] += n
    return {name: round(n / per, 3) for name, n in sorted(table.items())}


# -- the measured replay --------------------------------------------------------------------------


def record_phase(
    stack: LocalStack,
    originals: dict[str, tuple[str, Callable[[Any, Any], Any]]],
    action: Callable[[], Any],
) -> Recording:
    recorder = CallRecorder(stack)
    install_recorded_handlers(stack, recorder, originals)
    with recorder.installed() as recording:
        action()
    return recording


def deliver_and_drain(stack: LocalStack, deliverer: Any, events: list[dict[str, Any]], batch: int) -> None:
    deliverer.deliver_all(events, batch)
    stack.drain(max_rounds=100_000)


def state_transitions(stack: LocalStack, execution_arn: str) -> int:
    """Transitions billed for an execution: one per state entered (Map iterations included)."""
    return sum(1 for event in stack.execution_history(execution_arn) if event["type"].endswith("StateEntered"))


def contract_item_sizes(stack: LocalStack) -> dict[str, int]:
    """Sizes (DynamoDB's rules) of the items that hold contract books (`CONTRACT#...`):
    what must stay flat as a contract's history grows."""
    ledger = ledger_of(stack)
    sizes = sorted(item_size(item) for item in ledger.table.scan_prefix("CONTRACT#"))
    return {"median_bytes": sizes[len(sizes) // 2], "max_bytes": sizes[-1], "items": len(sizes)} if sizes else {}


def invoice_lines(stack: LocalStack) -> int:
    return sum(len(invoice.lines) for book in ledger_of(stack).books() for invoice in book.invoices.values())


def run(contracts: int = 4, entries_per_contract: int = 50) -> dict[str, Any]:
    half = max(1, entries_per_contract // 2)
    with (
        faster_stand_ins(),
        quiet_functions(),
        stack_with_contracts(contracts) as (stack, deliverer),
    ):
        originals = original_handlers(stack)
        single_events = entries_round_robin(contracts, half)
        batched_events = entries_round_robin(contracts, entries_per_contract - half, start=half)
        single = record_phase(stack, originals, lambda: deliver_and_drain(stack, deliverer, single_events, 1))
        batched = record_phase(
            stack, originals, lambda: deliver_and_drain(stack, deliverer, batched_events, BATCH_SIZE)
        )
        sizes = contract_item_sizes(stack)
        run_result: dict[str, Any] = {}

        def bill() -> None:
            run_result.update(
                stack.start_billing_run(
                    {"period": "2026-03", "contract_ids": None, "run_id": "bench-2026-03"},
                    name="bench-2026-03",
                    timeout_seconds=3600,
                )
            )
            stack.drain(max_rounds=100_000)

        with recorded_child_histories() as children:  # the Distributed Map's children, which moto does not keep
            billing = record_phase(stack, originals, bill)
        if run_result.get("status") != "SUCCEEDED":
            raise RuntimeError(f"billing run {run_result.get('status')}: {run_result.get('error')}")
        transitions = state_transitions(stack, run_result["executionArn"])
        child_transitions = sum(children.transitions)
        child_count = len(children.events)
        lines = invoice_lines(stack)
    return summarize(
        single=(single, len(single_events)),
        batched=(batched, len(batched_events)),
        billing=BillingPhase(billing, lines, transitions, child_count, child_transitions),
        entries=len(single_events) + len(batched_events),
        contracts=contracts,
        book=sizes,
    )


@dataclass(frozen=True)
class BillingPhase:
    recording: Recording
    lines: int
    transitions: int
    """Standard transitions: the run's own execution."""
    children: int
    """Express child executions of the Distributed Map (one per batch of contracts)."""
    child_transitions: int
    """States the children entered (not billed per transition: they are Express)."""


def summarize(
    *,
    single: tuple[Recording, int],
    batched: tuple[Recording, int],
    billing: BillingPhase,
    entries: int,
    contracts: int,
    book: dict[str, int],
) -> dict[str, Any]:
    billing_rec, lines, transitions = billing.recording, billing.lines, billing.transitions
    express_ms = express_child_ms(billing_rec, billing.children)
    billing_units = phase_units(
        billing_rec, transitions=transitions, express_children=billing.children, express_ms=express_ms
    )
    billing_per_entry = per_million(billing_units, entries)
    figures: dict[str, Any] = {
        "contracts": contracts,
        "entries": entries,
        "invoice_lines": lines,
        "contract_items": book,
        "billing_transitions": transitions,
        "billing_children": billing.children,
        "billing_child_transitions": billing.child_transitions,
        "billing_child_express_ms": express_ms,
        "calls_per_invoice_line": calls_table(billing_rec, lines),
        "billing_billed_ms_by_function": billed_ms_by_actor(billing_rec),
        "usd_per_million_invoice_lines": per_million(billing_units, lines),
        "prices": {key: {"usd": price, "what": what} for key, (price, what) in PRICES.items()},
        "price_date": PRICE_DATE,
        "goal_batched_usd_per_million_max": GOAL_BATCHED_USD_PER_MILLION,
        "goal_single_usd_per_million_max": GOAL_SINGLE_USD_PER_MILLION,
    }
    for name, (rec, count) in (("single", single), ("batched", batched)):
        ingest = per_million(phase_units(rec), count)
        total = {key: round(ingest[key] + billing_per_entry[key], 4) for key in ingest}
        figures[name] = {
            "entries": count,
            "calls_per_entry": calls_table(rec, count),
            "units_per_entry": {k: round(v / count, 4) for k, v in phase_units(rec).items()},
            "billed_ms_by_function": billed_ms_by_actor(rec),
            "consumer_own_ms_per_entry": consumer_own_ms_per_entry(rec, count),
            "usd_per_million_entries_by_item": total,
            "usd_per_million_entries": round(sum(total.values()), 2),
            "dominant_cost": max(total, key=lambda k: total[k]),
        }
        figures[f"{name}_usd_per_million_entries"] = figures[name]["usd_per_million_entries"]
    return figures


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=4)
    parser.add_argument("--entries", type=int, default=50, help="time entries per contract")
    args = parser.parse_args(argv)
    figures = run(args.contracts, args.entries)
    print(json.dumps(figures, indent=2, default=str))
    return figures


if __name__ == "__main__":
    main()
