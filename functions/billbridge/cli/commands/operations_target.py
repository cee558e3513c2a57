"""What the operator commands share: the acting person, the clock, and the
adapters of the target hub (local stack or deployed stack)."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import sys
from datetime import UTC, date, datetime, time
from typing import Any

from billbridge import topology
from billbridge.cli.hub_target import Hub


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ActorError(ValueError):
    """`--actor` names someone else than the deployed stack's caller: refused (exit 2)."""


def actor_of(args: argparse.Namespace, hub: Hub | None = None) -> str:
    """Who acts, as the audit trail and segregation of duties record it.

    On a deployed stack: the caller's IAM identity (`sts get-caller-identity` ARN; an
    assumed role's session name is the person), never a typed name: `--actor` is accepted
    only when it names that same identity. On the local stack: `--actor`, else the OS user."""
    typed = str(args.actor).strip() if getattr(args, "actor", None) else ""
    if hub is not None and not hub.is_local:
        identity = str(hub.client("sts").get_caller_identity()["Arn"])
        if typed and typed.lower() not in (identity.lower(), identity.rsplit("/", 1)[-1].lower()):
            raise ActorError(
                f"--actor {typed!r}: on a deployed stack the actor is your AWS identity ({identity}); leave --actor out"
            )
        return identity
    if typed:
        return typed
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (some containers)
        return "operator"


def event_bus_name(hub: Hub) -> str:
    if hub.is_local:
        return str(hub.extras["names"].event_bus)
    return str(hub.extras["outputs"]["EventBusName"])


def raw_payload_bucket(hub: Hub) -> str:
    if hub.is_local:
        return str(hub.extras["names"].raw_bucket)
    return str(hub.extras["outputs"]["RawPayloadBucketName"])


def publisher_of(hub: Hub) -> Any:
    from billbridge.adapters.eventbridge_publisher import EventBridgeEventPublisher

    return EventBridgeEventPublisher(event_bus_name=event_bus_name(hub), client=hub.client("events"))


def raw_payloads_of(hub: Hub) -> Any:
    from billbridge.adapters.dynamo_delivery_registry import DynamoDeliveryRegistry
    from billbridge.adapters.s3_raw_payload_store import S3RawPayloadStore

    claims = DynamoDeliveryRegistry(table_name=hub.ledger_table, client=hub.client("dynamodb"))
    return S3RawPayloadStore(bucket_name=raw_payload_bucket(hub), client=hub.client("s3"), claims=claims)


def dead_letter_queues_of(hub: Hub) -> Any:
    """Every DLQ of the hub: each workflow's consumer and delivery DLQs, the billing start's,
    the KPI publisher's and each vendor poller's (adapters/dlq_operations.py)."""
    from billbridge.adapters.dlq_operations import (
        CONSUMER,
        DELIVERY,
        SCHEDULED,
        SqsDeadLetterQueues,
        WorkflowQueues,
    )

    catalog = [WorkflowQueues(q.workflow, q.queue_url, q.dead_letter_queue_url, CONSUMER) for q in hub.queues]
    if hub.is_local:
        names = hub.extras["names"]
        for workflow in topology.WORKFLOWS:
            catalog.append(
                WorkflowQueues(
                    f"{workflow.name}-delivery",
                    names.queue_url(names.queue(workflow)),
                    names.queue_url(names.delivery_dead_letter_queue(workflow)),
                    DELIVERY,
                )
            )
        for function in topology.SCHEDULED_FUNCTIONS:
            catalog.append(
                WorkflowQueues(
                    function, "", names.queue_url(names.scheduled_dead_letter_queue(function)), SCHEDULED, function
                )
            )
        for name, queue in topology.INTAKE_WORK_QUEUES.items():
            physical = f"{names.prefix}-{queue}"
            catalog.append(
                WorkflowQueues(name, names.queue_url(physical), names.queue_url(f"{physical}-dlq"), CONSUMER)
            )
    else:
        outputs = hub.extras["outputs"]
        for workflow in topology.WORKFLOWS:
            catalog.append(
                WorkflowQueues(
                    f"{workflow.name}-delivery",
                    outputs[f"{workflow.construct_id}QueueUrl"],
                    outputs[f"{workflow.construct_id}DeliveryDeadLetterQueueUrl"],
                    DELIVERY,
                )
            )
        scheduled = {
            topology.BILLING_START_FUNCTION: "BillingStart",
            topology.KPI_PUBLISHER_FUNCTION: "KpiPublisher",
            **{topology.poller_function(p): f"{p.construct_id}Poller" for p in topology.VENDOR_POLLERS},
        }
        intake = [
            ("intake-files", "IntakeFilesQueueUrl", "IntakeFilesDeadLetterQueueUrl", CONSUMER),
            ("intake-chunks", "IntakeChunksQueueUrl", "IntakeChunksDeadLetterQueueUrl", CONSUMER),
            # S3's Object Created events that could not reach the files queue: sent back to it
            ("intake-delivery", "IntakeFilesQueueUrl", "IntakeDeliveryDeadLetterQueueUrl", DELIVERY),
        ]
        for name, queue_output, dead_letter_output, kind in intake:
            if dead_letter_output in outputs:
                catalog.append(WorkflowQueues(name, outputs[queue_output], outputs[dead_letter_output], kind))
        for function, prefix in scheduled.items():
            if f"{prefix}DeadLetterQueueUrl" in outputs:
                catalog.append(
                    WorkflowQueues(
                        function,
                        "",
                        outputs[f"{prefix}DeadLetterQueueUrl"],
                        SCHEDULED,
                        outputs.get(f"{prefix}FunctionName", ""),
                    )
                )
    return SqsDeadLetterQueues(
        hub.client("sqs"),
        catalog,
        # moto has no StartMessageMoveTask: the local stack resends instead.
        message_move_task=not hub.is_local,
        invoke_function=_function_invoker(hub),
    )


def _function_invoker(hub: Hub) -> Any:
    """Invokes a scheduled function again: asynchronously on AWS (as Scheduler did), in-process
    on the local stack (the handler the deployed function runs)."""
    if not hub.is_local:

        def invoke_deployed(function_name: str, payload: dict[str, Any]) -> None:
            if not function_name:
                raise LookupError("the stack's outputs do not name this scheduled function")
            hub.client("lambda").invoke(
                FunctionName=function_name, InvocationType="Event", Payload=json.dumps(payload).encode()
            )

        return invoke_deployed
    stack = hub.extras.get("stack")
    if stack is None:
        return None

    def invoke_local(function_name: str, payload: dict[str, Any]) -> None:
        from billbridge.local.lambda_context import new_context

        handler = stack.resolver.resolve(topology.SCHEDULED_HANDLERS[function_name])
        # What the function prints (its logs, EMF metrics) is its log, not the command's output.
        with contextlib.redirect_stdout(sys.stderr):
            handler(payload, new_context(f"billbridge-local-{function_name}", timeout_seconds=300))

    return invoke_local


def parse_instant(text: str, *, end_of_day: bool = False) -> datetime:
    """`2026-03-01` (the start, or with end_of_day the end, of that UTC day) or an ISO 8601 time
    (UTC when it has no offset)."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        if len(text) == 10:
            return datetime.combine(day, time.max if end_of_day else time.min, tzinfo=UTC)
    try:
        instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a date or ISO 8601 time: {text!r}") from error
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)
