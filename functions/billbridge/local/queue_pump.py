"""The local equivalent of the SQS event source mappings of the consumer functions.

Each round receives up to `batch_size` messages from every workflow queue, hands
them to the consumer as an SQS Lambda event, deletes those the consumer did not
report in `batchItemFailures` and makes the reported ones visible again at once
(a handler that raises fails the whole batch). moto's redrive then moves a
message to the DLQ on the receive after `maxReceiveCount`. Rounds continue until
every workflow queue is empty, since consumers may publish events that route to
other queues.

The pump's own bookkeeping costs no AWS calls that the deployed mappings would
not make: queue URLs are asked once per queue, and a queue that holds no
message at all (visible, in flight or delayed) is not polled, since the receive
would answer nothing (the stand-in's queue is read in-process for that).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

from moto.sqs.models import sqs_backends

from billbridge import topology
from billbridge.local.aws_environment import ACCOUNT_ID, REGION, PatchedEnvironment
from billbridge.local.handler_resolver import HandlerResolver
from billbridge.local.lambda_context import new_context
from billbridge.local.resources import LocalNames

LOGGER = logging.getLogger(__name__)
RECEIVE_VISIBILITY_SECONDS = 60


@dataclass(slots=True)
class QueueDrainStats:
    processed: int = 0
    """Records the consumer handled (deleted from the queue)."""
    failed: int = 0
    """Failed attempts: records reported in batchItemFailures or in a batch whose handler raised."""
    dead_lettered: int = 0
    """Messages moved to the queue's DLQ during this drain."""
    errors: list[str] = field(default_factory=list)
    """`ExceptionType: message` of each batch whose handler raised."""


@dataclass(slots=True)
class DrainSummary:
    queues: dict[str, QueueDrainStats]
    rounds: int
    exhausted: bool = False
    """True when max_rounds ran out before every queue was empty."""

    @property
    def processed(self) -> int:
        return sum(q.processed for q in self.queues.values())

    @property
    def failed(self) -> int:
        return sum(q.failed for q in self.queues.values())

    @property
    def dead_lettered(self) -> int:
        return sum(q.dead_lettered for q in self.queues.values())

    @property
    def errors(self) -> list[str]:
        """`workflow: ExceptionType: message` of each batch whose consumer raised (a crash, not a refusal)."""
        return [f"{name}: {error}" for name, s in self.queues.items() for error in s.errors]

    def as_dict(self) -> dict[str, Any]:
        return {
            "rounds": self.rounds,
            "exhausted": self.exhausted,
            "queues": {
                name: {"processed": s.processed, "failed": s.failed, "dead_lettered": s.dead_lettered}
                for name, s in self.queues.items()
            },
        }


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """The Lambda SQS event record of a received message."""
    attributes = {
        key: message.get("Attributes", {}).get(key)
        for key in (
            "ApproximateReceiveCount",
            "SentTimestamp",
            "SenderId",
            "ApproximateFirstReceiveTimestamp",
        )
        if key in message.get("Attributes", {})
    }
    message_attributes = {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": value.get("StringListValues", []),
            "binaryListValues": value.get("BinaryListValues", []),
            "dataType": value.get("DataType"),
        }
        for name, value in message.get("MessageAttributes", {}).items()
    }
    body = message["Body"]
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": body,
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


class QueuePump:
    def __init__(self, sqs: Any, names: LocalNames, resolver: HandlerResolver) -> None:
        self._sqs = sqs
        self._names = names
        self._resolver = resolver
        self._urls: dict[str, str] = {}

    def queue_url(self, queue_name: str) -> str:
        if queue_name not in self._urls:
            self._urls[queue_name] = str(self._sqs.get_queue_url(QueueName=queue_name)["QueueUrl"])
        return self._urls[queue_name]

    @staticmethod
    def holds_nothing(queue_name: str) -> bool:
        """True when the stand-in queue holds no message in any state (a receive would answer nothing)."""
        queue = sqs_backends[ACCOUNT_ID][REGION].queues.get(queue_name)
        return queue is not None and not queue._messages

    def message_count(self, queue_name: str) -> int:
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self.queue_url(queue_name),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def drain(self, max_rounds: int = 100) -> DrainSummary:
        workflows = topology.WORKFLOWS
        stats = {w.name: QueueDrainStats() for w in workflows}
        dlq_before = {w.name: self.message_count(self._names.dead_letter_queue(w)) for w in workflows}
        rounds = 0
        exhausted = True
        while rounds < max_rounds:
            rounds += 1
            received_any = False
            for workflow in workflows:
                received_any |= self._pump_once(workflow, stats[workflow.name])
            if not received_any:
                exhausted = False
                break
        for workflow in workflows:
            after = self.message_count(self._names.dead_letter_queue(workflow))
            stats[workflow.name].dead_lettered = after - dlq_before[workflow.name]
        return DrainSummary(queues=stats, rounds=rounds, exhausted=exhausted)

    def _pump_once(self, workflow: topology.Workflow, stats: QueueDrainStats) -> bool:
        queue_name = self._names.queue(workflow)
        if self.holds_nothing(queue_name):
            return False
        queue_url = self.queue_url(queue_name)
        messages = self._sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(workflow.batch_size, 10),
            VisibilityTimeout=RECEIVE_VISIBILITY_SECONDS,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not messages:
            return False
        records = [sqs_record(m, self._names.queue_arn(queue_name)) for m in messages]
        failed_ids = self._invoke(workflow, records, stats)
        handles = {m["MessageId"]: m["ReceiptHandle"] for m in messages}
        done = [mid for mid in handles if mid not in failed_ids]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": handles[mid]} for i, mid in enumerate(done)],
            )
        retry = [mid for mid in handles if mid in failed_ids]
        if retry:
            self._sqs.change_message_visibility_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": handles[mid], "VisibilityTimeout": 0} for i, mid in enumerate(retry)
                ],
            )
        stats.processed += len(done)
        stats.failed += len(retry)
        return True

    def consumer_environment(self, workflow: topology.Workflow) -> dict[str, str]:
        """What the deployed stack sets on this workflow's consumer function only."""
        values = {
            "ENV_DEAD_LETTER_QUEUE_URL": self.queue_url(self._names.dead_letter_queue(workflow)),
            "ENV_MAX_RECEIVE_COUNT": str(workflow.max_receive_count),
        }
        return {getattr(topology, k): v for k, v in values.items() if hasattr(topology, k)}

    def _invoke(self, workflow: topology.Workflow, records: list[dict[str, Any]], stats: QueueDrainStats) -> set[str]:
        all_ids = {r["messageId"] for r in records}
        try:
            handler = self._resolver.resolve(workflow.handler)
            with PatchedEnvironment(self.consumer_environment(workflow), isolate=False):
                response = handler({"Records": records}, new_context(self._names.queue(workflow)))
        except Exception as error:
            LOGGER.error("consumer of %s raised %s: %s", workflow.name, type(error).__name__, error, exc_info=True)
            first_line = next(iter(str(error).splitlines()), "")
            stats.errors.append(f"{type(error).__name__}: {first_line}")
            return all_ids
        if not isinstance(response, dict):
            return set()
        failures = response.get("batchItemFailures") or []
        failed = {str(f.get("itemIdentifier")) for f in failures if isinstance(f, dict)}
        unknown = failed - all_ids
        if unknown:
            # Lambda treats an unknown or empty identifier as a failure of the whole batch.
            return all_ids
        return failed
