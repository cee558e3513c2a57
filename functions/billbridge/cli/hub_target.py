"""Where operator commands act: the embedded local stack (its saved state) or
a deployed stack (AWS profile/region and the stack's CloudFormation outputs).

    with open_hub(args) as hub:
        hub.ledger.load("SOW-1001")
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from billbridge import topology
from billbridge.app.ports import RunStatus
from billbridge.cli.output import print_json as print_json
from billbridge.cli.target import DEFAULT_STACK_NAME as DEFAULT_STACK_NAME
from billbridge.cli.target import STACK_ENV_VAR as STACK_ENV_VAR
from billbridge.cli.target import add_target_options as add_target_options
from billbridge.cli.target import local_read_store as local_read_store
from billbridge.cli.target import local_state_path

if TYPE_CHECKING:
    from billbridge.adapters.dynamo_ledger import DynamoLedger


@dataclass
class QueueNames:
    workflow: str
    queue_url: str
    dead_letter_queue_url: str


@dataclass
class Hub:
    """What the operator commands need, the same for local and deployed.

    The ledger is built on first use (`dlq list` never loads pydantic and the domain)."""

    ledger_table: str
    client: Callable[[str], Any]
    queues: list[QueueNames]
    state_machine_arn: str
    is_local: bool
    start_run: Callable[[dict[str, Any], str], dict[str, Any]]
    drain: Callable[[], Any] = lambda: None
    extras: dict[str, Any] = field(default_factory=dict)
    changed: bool = False
    """Set by commands that write; informational: the local unit of work commits whatever changed."""

    @cached_property
    def ledger(self) -> DynamoLedger:
        from billbridge.adapters.dynamo_ledger import DynamoLedger

        return DynamoLedger(self.ledger_table, client=self.client("dynamodb"))

    def queue(self, name: str) -> QueueNames:
        for queue in self.queues:
            if name in (
                queue.workflow,
                queue.queue_url.rsplit("/", 1)[-1],
                queue.dead_letter_queue_url.rsplit("/", 1)[-1],
            ):
                return queue
        raise KeyError(f"no queue {name!r}; queues: {[q.workflow for q in self.queues]}")


@contextmanager
def open_hub(args: argparse.Namespace, *, read_only: bool = False) -> Iterator[Hub]:
    """The hub a command acts on.

    Local and `read_only`: the saved state is read from the store as it is committed,
    without starting the stand-ins (fast). Local otherwise: the local stack is started
    from the store and the whole command is one unit of work (one transaction of the
    store: it sees what other processes committed before it, and what it writes is
    committed when it ends, even if it fails half-way, as AWS would keep it)."""
    if getattr(args, "stack", None):
        yield _deployed_hub(args)
        return
    from billbridge.local.resources import LocalNames

    state = Path(local_state_path(args))
    names = LocalNames()
    queues = [
        QueueNames(
            workflow=workflow.name,
            queue_url=names.queue_url(names.queue(workflow)),
            dead_letter_queue_url=names.queue_url(names.dead_letter_queue(workflow)),
        )
        for workflow in topology.WORKFLOWS
    ]
    if read_only:
        yield from _store_hub(state, names, queues)
        return
    from billbridge.local.stack import LocalStack

    with LocalStack(state_file=state, lazy_billing=True) as stack, stack.unit_of_work():
        yield Hub(
            ledger_table=names.ledger_table,
            client=stack.client,
            queues=queues,
            state_machine_arn=names.state_machine_arn,
            is_local=True,
            start_run=lambda run_input, name: stack.start_billing_run(run_input, name=name),
            drain=stack.drain,
            extras={"stack": stack, "names": names, "state_file": state},
        )


def _store_hub(state: Path, names: Any, queues: list[QueueNames]) -> Iterator[Hub]:
    from billbridge.local.store import LocalStore
    from billbridge.local.store_reader import StoreClients

    def refuse_run(run_input: dict[str, Any], name: str) -> dict[str, Any]:
        raise RuntimeError("a read-only command cannot start a billing run")

    with LocalStore(state, create=False) as store:
        clients = StoreClients(store, names)
        yield Hub(
            ledger_table=names.ledger_table,
            client=clients,
            queues=queues,
            state_machine_arn=names.state_machine_arn,
            is_local=True,
            start_run=refuse_run,
            extras={"names": names, "state_file": state},
        )


DEFAULT_WAIT_SECONDS = 3600.0
POLL_SECONDS = 2.0


class ExecutionProgress:
    """`bill --stack` while it waits: one line on stderr, redrawn in place on a terminal
    (state, time waited, the limit); nothing when stderr is not a terminal."""

    def __init__(self, stream: Any = None) -> None:
        import sys

        self.stream = stream or sys.stderr
        self.drawn = False

    def __call__(self, name: str, status: str, waited: float, limit: float) -> None:
        if not self.stream.isatty():
            return
        self.stream.write(f"\rbilling run {name}: {status}, {waited:.0f} s of at most {limit:.0f} s ")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def wait_for_execution(
    sfn: Any,
    arn: str,
    name: str,
    *,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
    poll_seconds: float = POLL_SECONDS,
    progress: Callable[[str, str, float, float], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll a Step Functions execution until it ends or `wait_seconds` have passed.

    Past the limit the execution is left running and reported as `RUNNING` with
    `waited_out: true` (the run goes on in AWS; `bill` says how to follow it)."""
    started = clock()
    try:
        while True:
            described = sfn.describe_execution(executionArn=arn)
            status = str(described["status"])
            waited = clock() - started
            if progress is not None:
                progress(name, status, waited, wait_seconds)
            if status != RunStatus.RUNNING:
                return {"executionArn": arn, "name": name, "status": status, "error": described.get("error")}
            if waited + poll_seconds > wait_seconds:
                return {"executionArn": arn, "name": name, "status": status, "error": None, "waited_out": True}
            sleep(poll_seconds)
    finally:
        close = getattr(progress, "close", None)
        if callable(close):
            close()


def _deployed_hub(args: argparse.Namespace) -> Hub:
    import boto3

    session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
    outputs = {
        output["OutputKey"]: output["OutputValue"]
        for output in session.client("cloudformation")
        .describe_stacks(StackName=args.stack)["Stacks"][0]
        .get("Outputs", [])
    }
    clients: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in clients:
            clients[service] = session.client(service)  # type: ignore[call-overload]
        return clients[service]

    def start_run(run_input: dict[str, Any], name: str) -> dict[str, Any]:
        from billbridge.adapters.step_functions_billing_runs import StepFunctionsBillingRuns

        sfn = client("stepfunctions")
        runs = StepFunctionsBillingRuns(state_machine_arn=outputs["BillingStateMachineArn"], client=sfn)
        run = runs.start_or_find(name, run_input)
        return wait_for_execution(
            sfn,
            run.execution_id,
            name,
            wait_seconds=getattr(args, "wait", DEFAULT_WAIT_SECONDS),
            progress=ExecutionProgress(),
        )

    return Hub(
        ledger_table=outputs["LedgerTableName"],
        client=client,
        queues=[
            QueueNames(
                workflow=workflow.name,
                queue_url=outputs[f"{workflow.construct_id}QueueUrl"],
                dead_letter_queue_url=outputs[f"{workflow.construct_id}DeadLetterQueueUrl"],
            )
            for workflow in topology.WORKFLOWS
        ],
        state_machine_arn=outputs["BillingStateMachineArn"],
        is_local=False,
        start_run=start_run,
        extras={"outputs": outputs},
    )
