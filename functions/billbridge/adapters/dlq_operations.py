"""Operator recovery on the hub's transport: dead-letter queues and event replays.

Dead-letter queues (SQS), every one of the stack's, by kind:
- `consumer`: a workflow queue's DLQ (SQS redrive policy after its receive limit, or
  the consumer's own parking of a permanent fault with the error as attributes);
- `delivery`: the DLQ of the EventBridge rule target that feeds a workflow queue
  (the event could not be delivered to the queue); its messages are the events;
- `scheduled`: the DLQ of a scheduled function (billing start, KPI publisher, a vendor
  poller): EventBridge Scheduler's dead-letter events and the function's on-failure
  destination records (Lambda "invocation record": `requestPayload` is the input,
  https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html).

Operations:
- `depths()`: messages waiting in each DLQ;
- `peek(name, limit)`: messages with the error and correlation id the consumer attached
  as message attributes (a message the queue's redrive policy moved by itself carries
  none: `has_error_attributes` is False); messages are left in place;
- `redrive(name)`: a consumer DLQ back to its workflow queue with SQS
  `StartMessageMoveTask` on AWS (server side; progress from `ListMessageMoveTasks`,
  `move_tasks(name)`). The move task only serves DLQs of SQS queues ("Non-SQS queue
  sources of dead-letter queues ... are currently not supported", SQS API reference,
  StartMessageMoveTask), so a delivery DLQ's events are sent to their workflow queue and
  a scheduled function's failed input is invoked again (asynchronously), message by
  message; so is a consumer DLQ where the API is missing (moto). A message is deleted
  from the DLQ only after its send or invoke succeeded: an interruption can duplicate
  one, never lose one (the consumers and functions are idempotent);
- `redrive(name, message_id=...)` and `delete(name, message_id)`: one message.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from billbridge import topology
from billbridge.app.ingest_webhook import DETAIL_SCHEMA_VERSION
from billbridge.app.ports import EventPublisher, OutboundEvent, claim_of_inline_raw_key

PEEK_VISIBILITY_SECONDS = 30
ATTRIBUTE_FIELDS = ("DataType", "StringValue", "BinaryValue")
CONSUMER = "consumer"
DELIVERY = "delivery"
SCHEDULED = "scheduled"
KINDS = (CONSUMER, DELIVERY, SCHEDULED)

FunctionInvoker = Callable[[str, dict[str, Any]], None]
"""Invokes a function (by name) asynchronously with a payload; raises when the invoke is refused."""


class UnknownDeadLetterQueueError(KeyError):
    """No DLQ of that name; the message lists the names there are."""


class DeadLetterNotFoundError(LookupError):
    """No message of that id in the DLQ (already redriven or deleted, or another queue's)."""


class NotRedrivableError(ValueError):
    """A scheduled function's DLQ message that holds no input to invoke the function with."""


@dataclass(frozen=True, slots=True)
class WorkflowQueues:
    """One dead-letter queue and where its messages go back to.

    `workflow` is the DLQ's name in the commands (`contracts`, `contracts-delivery`,
    `billing-start`, ...); `queue_url` the queue a consumer or delivery DLQ's messages go
    back to; `function_name` the function a scheduled DLQ's messages are invoked again on."""

    workflow: str
    queue_url: str
    dead_letter_queue_url: str
    kind: str = CONSUMER
    function_name: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"a dead-letter queue is one of {KINDS}, not {self.kind!r}")


@dataclass(frozen=True, slots=True)
class DeadLetter:
    message_id: str
    workflow: str
    error: str
    error_type: str
    correlation_id: str
    has_error_attributes: bool
    event_type: str
    event_ref: str
    sent_at: datetime | None
    receive_count: int
    body: str

    def as_document(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "workflow": self.workflow,
            "error": self.error,
            "error_type": self.error_type,
            "correlation_id": self.correlation_id,
            "has_error_attributes": self.has_error_attributes,
            "event_type": self.event_type,
            "event_ref": self.event_ref,
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
            "receive_count": self.receive_count,
            "body": self.body,
        }


@dataclass(frozen=True, slots=True)
class QueueDepth:
    workflow: str
    dead_letter_queue_url: str
    messages: int
    in_flight: int
    kind: str = CONSUMER


@dataclass(frozen=True, slots=True)
class MoveTask:
    """One SQS message move task of a DLQ, as `ListMessageMoveTasks` reports it."""

    task_handle: str | None
    status: str
    moved: int
    to_move: int | None
    failure_reason: str | None = None
    started_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("COMPLETED", "CANCELLED", "FAILED")

    def as_document(self) -> dict[str, Any]:
        return {
            "task_handle": self.task_handle,
            "status": self.status,
            "moved": self.moved,
            "to_move": self.to_move,
            "failure_reason": self.failure_reason,
            "started_at": self.started_at.isoformat() if self.started_at else None,
        }


@dataclass
class RedriveOutcome:
    workflow: str
    dry_run: bool
    method: str
    """`message_move_task` (server side), `resend` (receive, send, delete) or `invoke`
    (receive, invoke the scheduled function again, delete)."""
    moved: int = 0
    would_move: int = 0
    task_handle: str | None = None
    message_ids: list[str] = field(default_factory=list)
    not_redriven: list[dict[str, str]] = field(default_factory=list)
    """Messages left in the DLQ, each with the reason (a scheduled DLQ record without an input)."""

    def as_document(self) -> dict[str, Any]:
        return {
            "workflow": self.workflow,
            "dry_run": self.dry_run,
            "method": self.method,
            "moved": self.moved,
            "would_move": self.would_move,
            "task_handle": self.task_handle,
            "message_ids": self.message_ids,
            "not_redriven": self.not_redriven,
        }


class SqsDeadLetterQueues:
    def __init__(
        self,
        sqs: Any,
        queues: Sequence[WorkflowQueues],
        *,
        message_move_task: bool = True,
        invoke_function: FunctionInvoker | None = None,
    ) -> None:
        self._sqs = sqs
        self._queues = list(queues)
        self._message_move_task = message_move_task
        self._invoke = invoke_function

    def names(self) -> list[str]:
        return [queues.workflow for queues in self._queues]

    def queues(self, workflow: str) -> WorkflowQueues:
        for queues in self._queues:
            if workflow in (
                queues.workflow,
                queues.dead_letter_queue_url.rsplit("/", 1)[-1],
            ) or (queues.kind == CONSUMER and workflow == queues.queue_url.rsplit("/", 1)[-1]):
                return queues
        raise UnknownDeadLetterQueueError(
            f"no dead-letter queue {workflow!r}; queues: {', '.join(q.workflow for q in self._queues)}"
        )

    def depths(self) -> list[QueueDepth]:
        depths = []
        for queues in self._queues:
            attributes = self._sqs.get_queue_attributes(
                QueueUrl=queues.dead_letter_queue_url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            depths.append(
                QueueDepth(
                    workflow=queues.workflow,
                    dead_letter_queue_url=queues.dead_letter_queue_url,
                    messages=int(attributes.get("ApproximateNumberOfMessages", 0)),
                    in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
                    kind=queues.kind,
                )
            )
        return depths

    def peek(self, workflow: str, limit: int | None = None) -> list[DeadLetter]:
        queues = self.queues(workflow)
        seen: dict[str, DeadLetter] = {}
        handles: list[str] = []
        try:
            while limit is None or len(seen) < limit:
                batch = self._receive(queues.dead_letter_queue_url, PEEK_VISIBILITY_SECONDS)
                if not batch:
                    break
                for message in batch:
                    handles.append(message["ReceiptHandle"])
                    if limit is None or len(seen) < limit:
                        seen.setdefault(message["MessageId"], _dead_letter(queues.workflow, message))
        finally:
            self._release(queues.dead_letter_queue_url, handles)
        return sorted(seen.values(), key=lambda m: (m.sent_at or datetime.min.replace(tzinfo=UTC), m.message_id))

    def redrive(self, workflow: str, *, dry_run: bool = False, message_id: str | None = None) -> RedriveOutcome:
        queues = self.queues(workflow)
        method = self._method(queues, whole=message_id is None)
        if dry_run:
            waiting = self.peek(workflow)
            if message_id is not None:
                waiting = [m for m in waiting if m.message_id == message_id]
                if not waiting:
                    raise DeadLetterNotFoundError(f"no message {message_id} in the {queues.workflow} DLQ")
            return RedriveOutcome(
                workflow=queues.workflow,
                dry_run=True,
                method=method,
                would_move=len(waiting),
                message_ids=[m.message_id for m in waiting],
            )
        if message_id is not None:
            outcome = RedriveOutcome(workflow=queues.workflow, dry_run=False, method=method)
            message = self._take(queues, message_id)
            reason = self._send_back(queues, message)
            if reason:
                self._release(queues.dead_letter_queue_url, [message["ReceiptHandle"]])
                raise NotRedrivableError(f"{message_id}: {reason}")
            outcome.moved, outcome.message_ids = 1, [message_id]
            return outcome
        if method == "message_move_task":
            return self._start_move_task(queues)
        return self._resend(queues, method)

    def delete(self, workflow: str, message_id: str) -> DeadLetter:
        """Remove one message from a DLQ for good (after reading it: `peek`); returns what it held."""
        queues = self.queues(workflow)
        message = self._take(queues, message_id)
        self._sqs.delete_message(QueueUrl=queues.dead_letter_queue_url, ReceiptHandle=message["ReceiptHandle"])
        return _dead_letter(queues.workflow, message)

    def move_tasks(self, workflow: str) -> list[MoveTask]:
        """The DLQ's most recent message move tasks (newest first), with their progress."""
        queues = self.queues(workflow)
        response = self._sqs.list_message_move_tasks(SourceArn=self._arn(queues.dead_letter_queue_url), MaxResults=10)
        tasks = []
        for result in response.get("Results", []):
            started = result.get("StartedTimestamp")
            tasks.append(
                MoveTask(
                    task_handle=result.get("TaskHandle"),
                    status=str(result.get("Status", "")),
                    moved=int(result.get("ApproximateNumberOfMessagesMoved", 0)),
                    to_move=(
                        int(result["ApproximateNumberOfMessagesToMove"])
                        if result.get("ApproximateNumberOfMessagesToMove") is not None
                        else None
                    ),
                    failure_reason=result.get("FailureReason"),
                    started_at=datetime.fromtimestamp(int(started) / 1000, UTC) if started else None,
                )
            )
        return tasks

    def _method(self, queues: WorkflowQueues, *, whole: bool) -> str:
        if queues.kind == SCHEDULED:
            return "invoke"
        if queues.kind == CONSUMER and whole and self._message_move_task:
            return "message_move_task"
        return "resend"

    def _start_move_task(self, queues: WorkflowQueues) -> RedriveOutcome:
        source_arn = self._arn(queues.dead_letter_queue_url)
        destination_arn = self._arn(queues.queue_url)
        waiting = next(d for d in self.depths() if d.workflow == queues.workflow).messages
        response = self._sqs.start_message_move_task(SourceArn=source_arn, DestinationArn=destination_arn)
        return RedriveOutcome(
            workflow=queues.workflow,
            dry_run=False,
            method="message_move_task",
            moved=waiting,
            task_handle=response.get("TaskHandle"),
        )

    def _resend(self, queues: WorkflowQueues, method: str) -> RedriveOutcome:
        outcome = RedriveOutcome(workflow=queues.workflow, dry_run=False, method=method)
        left: list[str] = []
        try:
            while True:
                batch = self._receive(queues.dead_letter_queue_url, 300)
                if not batch:
                    return outcome
                for message in batch:
                    reason = self._send_back(queues, message)
                    if reason:
                        left.append(message["ReceiptHandle"])
                        outcome.not_redriven.append({"message_id": message["MessageId"], "reason": reason})
                        continue
                    outcome.moved += 1
                    outcome.message_ids.append(message["MessageId"])
        finally:
            self._release(queues.dead_letter_queue_url, left)

    def _send_back(self, queues: WorkflowQueues, message: dict[str, Any]) -> str:
        """Sends one received message back where it failed, then deletes it from the DLQ.
        Returns why it was not (it stays, invisible until released), or "" when it was."""
        if queues.kind == SCHEDULED:
            payload = scheduled_input(message.get("Body", ""))
            if payload is None:
                return (
                    "holds no input of the function (neither a Lambda invocation record nor a scheduled "
                    "event): read it with `dlq show`, then `dlq delete`"
                )
            if self._invoke is None:
                return "no way to invoke the function here"
            self._invoke(queues.function_name, payload)  # raises: the message stays in the DLQ
        else:
            attributes = {
                name: {k: v for k, v in value.items() if k in ATTRIBUTE_FIELDS}
                for name, value in message.get("MessageAttributes", {}).items()
            }
            send: dict[str, Any] = {"QueueUrl": queues.queue_url, "MessageBody": message["Body"]}
            if attributes:
                send["MessageAttributes"] = attributes
            self._sqs.send_message(**send)  # raises: the message stays in the DLQ
        self._sqs.delete_message(QueueUrl=queues.dead_letter_queue_url, ReceiptHandle=message["ReceiptHandle"])
        return ""

    def _take(self, queues: WorkflowQueues, message_id: str) -> dict[str, Any]:
        """Receives the DLQ's messages until `message_id` (kept invisible); releases the others."""
        others: list[str] = []
        try:
            while True:
                batch = self._receive(queues.dead_letter_queue_url, PEEK_VISIBILITY_SECONDS)
                if not batch:
                    raise DeadLetterNotFoundError(
                        f"no message {message_id} in the {queues.workflow} DLQ "
                        f"(`billbridge dlq show {queues.workflow}` lists them)"
                    )
                found = None
                for message in batch:
                    if message["MessageId"] == message_id:
                        found = message
                    else:
                        others.append(message["ReceiptHandle"])
                if found is not None:
                    return found
        finally:
            self._release(queues.dead_letter_queue_url, others)

    def _receive(self, queue_url: str, visibility: int) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self._sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=visibility,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        return messages

    def _release(self, queue_url: str, handles: list[str]) -> None:
        for start in range(0, len(handles), 10):
            self._sqs.change_message_visibility_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                    for i, handle in enumerate(handles[start : start + 10])
                ],
            )

    def _arn(self, queue_url: str) -> str:
        arn: str = self._sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        return arn


def scheduled_input(body: str) -> dict[str, Any] | None:
    """The input a scheduled function failed on, from its DLQ message: a Lambda invocation
    record's `requestPayload`, or the scheduled event itself (what Scheduler sent as the
    target's input); None when the message holds neither."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    payload = document.get("requestPayload")
    if isinstance(payload, dict) and isinstance(document.get("requestContext"), dict):
        return payload
    if document.get("source") == "aws.scheduler" or "poller" in document:
        return document
    return None


def _attribute(message: dict[str, Any], name: str) -> str | None:
    value = message.get("MessageAttributes", {}).get(name)
    return None if value is None else str(value.get("StringValue", ""))


def _dead_letter(workflow: str, message: dict[str, Any]) -> DeadLetter:
    error = _attribute(message, "error")
    error_type = _attribute(message, "error_type") or ""
    body = message.get("Body", "")
    event_type, event_ref, body_correlation = "", "", ""
    try:
        envelope = json.loads(body)
        if isinstance(envelope, dict) and isinstance(envelope.get("requestContext"), dict):
            # A Lambda invocation record (a scheduled function's on-failure destination).
            context = envelope["requestContext"]
            response = envelope.get("responsePayload") or {}
            if error is None and isinstance(response, dict):
                error = str(response.get("errorMessage") or context.get("condition") or "")
                error_type = str(response.get("errorType") or "")
            event_type = "lambda invocation record"
        else:
            detail = envelope.get("detail", {})
            event = detail.get("event", {})
            event_type = str(envelope.get("detail-type") or event.get("type") or "")
            if event.get("source") and event.get("id"):
                event_ref = f"{event['source']}:{event['id']}"
            body_correlation = str(detail.get("correlationid") or "")
    except (ValueError, AttributeError, TypeError):
        pass
    if error is None:
        # EventBridge (rule target DLQ) and Scheduler name the failure in these attributes.
        error = _attribute(message, "ERROR_MESSAGE") or _attribute(message, "ERROR_CODE")
        error_type = error_type or _attribute(message, "ERROR_CODE") or ""
    sent = message.get("Attributes", {}).get("SentTimestamp")
    return DeadLetter(
        message_id=message["MessageId"],
        workflow=workflow,
        error=error
        if error is not None
        else "(no error attributes: moved by the queue's redrive policy "
        "after its receive limit; see the consumer's logs for the cause)",
        error_type=error_type,
        correlation_id=_attribute(message, "correlation_id") or body_correlation,
        has_error_attributes=error is not None,
        event_type=event_type,
        event_ref=event_ref,
        sent_at=datetime.fromtimestamp(int(sent) / 1000, UTC) if sent else None,
        receive_count=int(message.get("Attributes", {}).get("ApproximateReceiveCount", 0)),
        body=body,
    )


# --- replays -------------------------------------------------------------------------------------


@dataclass
class ReplayOutcome:
    method: str
    """`archive` (EventBridge replay) or `raw_payloads` (re-published claim-check copies)."""
    start: datetime
    end: datetime
    replay_name: str | None = None
    replay_arn: str | None = None
    state: str | None = None
    payloads: int = 0
    events: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def as_document(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "replay_name": self.replay_name,
            "replay_arn": self.replay_arn,
            "state": self.state,
            "payloads": self.payloads,
            "events": self.events,
            "skipped": self.skipped,
        }


class EventBridgeArchiveReplay:
    """Replays the bus's archive over [start, end] back onto the bus."""

    def __init__(
        self, events_client: Any, *, event_bus_name: str, bus_arn: str | None = None, archive_arn: str | None = None
    ) -> None:
        self._events = events_client
        self._bus = event_bus_name
        self._known = (bus_arn, archive_arn) if bus_arn and archive_arn else None

    def archive_arn(self) -> tuple[str, str]:
        """(bus ARN, archive ARN): as the stack's outputs name them, else the bus's enabled archive."""
        if self._known is not None:
            return self._known[0] or "", self._known[1] or ""
        bus_arn = str(self._events.describe_event_bus(Name=self._bus)["Arn"])
        archives = self._events.list_archives(EventSourceArn=bus_arn).get("Archives", [])
        enabled = [a for a in archives if a.get("State") in (None, "ENABLED")] or archives
        if not enabled:
            raise LookupError(f"the bus {self._bus} has no archive to replay from")
        described = self._events.describe_archive(ArchiveName=enabled[0]["ArchiveName"])
        return bus_arn, str(described["ArchiveArn"])

    def replay(self, start: datetime, end: datetime, *, name: str) -> ReplayOutcome:
        bus_arn, archive_arn = self.archive_arn()
        response = self._events.start_replay(
            ReplayName=name,
            Description=f"operator replay {start.isoformat()} .. {end.isoformat()}",
            EventSourceArn=archive_arn,
            EventStartTime=start,
            EventEndTime=end,
            Destination={"Arn": bus_arn},
        )
        return ReplayOutcome(
            method="archive",
            start=start,
            end=end,
            replay_name=name,
            replay_arn=response.get("ReplayArn"),
            state=response.get("State"),
        )


class RawPayloadReplay:
    """Re-publishes the webhook bodies stored in S3 (received in [start, end]) as canonical events."""

    def __init__(self, s3: Any, *, bucket: str, ledger: Any, publisher: EventPublisher) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._ledger = ledger
        self._publisher = publisher

    def replay(self, start: datetime, end: datetime) -> ReplayOutcome:
        outcome = ReplayOutcome(method="raw_payloads", start=start, end=end)
        pending: list[OutboundEvent] = []
        for key, received_at in self._payloads_between(start, end):
            outcome.payloads += 1
            body = self._body(key)
            for event in _events_of(body):
                replayed = self._canonical(event, key, received_at)
                if isinstance(replayed, str):
                    outcome.skipped.append({"raw_key": key, "event": str(event.get("id", "?")), "reason": replayed})
                    continue
                pending.append(replayed)
                outcome.events.append(f"{event['source']}:{event['id']}")
        for chunk_start in range(0, len(pending), 10):
            self._publisher.publish(pending[chunk_start : chunk_start + 10])
        return outcome

    def _payloads_between(self, start: datetime, end: datetime) -> Iterator[tuple[str, datetime]]:
        found = []
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix="webhooks/"):
            for item in page.get("Contents", []):
                key = item["Key"]
                if not _day_may_overlap(key, start, end):
                    continue
                head = self._s3.head_object(Bucket=self._bucket, Key=key)
                stamp = head.get("Metadata", {}).get("received-at")
                received_at = datetime.fromisoformat(stamp) if stamp else head["LastModified"]
                if start <= received_at <= end:
                    found.append((received_at, key))
        found.extend(self._bodies_kept_in_claims(start, end))
        for received_at, key in sorted(found):
            yield key, received_at

    def _bodies_kept_in_claims(self, start: datetime, end: datetime) -> list[tuple[datetime, str]]:
        """Small single-event deliveries keep their body in their delivery claim (decision 0005)."""
        found = []
        for claim in self._ledger.deliveries():
            key = claim.get("raw_key", "")
            if claim_of_inline_raw_key(key) is None or not claim.get("accepted_at"):
                continue
            received_at = datetime.fromisoformat(claim["accepted_at"])
            if start <= received_at <= end:
                found.append((received_at, key))
        return found

    def _body(self, key: str) -> bytes:
        claim = claim_of_inline_raw_key(key)
        if claim is None:
            body: bytes = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
            return body
        return self._ledger.delivery_raw_body(*claim) or b""

    def _canonical(self, event: dict[str, Any], raw_key: str, received_at: datetime) -> OutboundEvent | str:
        source, event_id = event.get("source"), event.get("id")
        if not isinstance(source, str) or not isinstance(event_id, str):
            return "not a CloudEvent with a source and an id"
        delivery = self._ledger.delivery(source, event_id)
        if delivery is None:
            return "no delivery record: it was refused, or its record expired"
        if delivery.get("raw_key") != raw_key:
            return "another body of this event id was the one accepted"
        correlation_id = delivery.get("correlation_id") or str(event.get("correlationid") or "")
        return OutboundEvent(
            source=topology.INGEST_EVENT_SOURCE,
            detail_type=str(event.get("type", "")),
            detail={
                "schema_version": DETAIL_SCHEMA_VERSION,
                "correlationid": correlation_id,
                "delivery": {
                    "source": source,
                    "id": event_id,
                    "webhook_id": "" if claim_of_inline_raw_key(raw_key) else raw_key.split("/")[-2],
                    "raw_key": raw_key,
                    "received_at": received_at.isoformat(),
                    "replayed": True,
                },
                "event": event,
            },
            correlation_id=correlation_id,
        )


def _events_of(body: bytes) -> list[dict[str, Any]]:
    try:
        document = json.loads(body)
    except ValueError:
        return []
    elements = document if isinstance(document, list) else [document]
    return [element for element in elements if isinstance(element, dict)]


def _day_may_overlap(key: str, start: datetime, end: datetime) -> bool:
    """Keys hold the UTC day (`webhooks/{source}/{YYYY}/{MM}/{DD}/...`): skip days outside the window."""
    parts = key.split("/")
    try:
        day = datetime(int(parts[2]), int(parts[3]), int(parts[4]), tzinfo=UTC).date()
    except (IndexError, ValueError):
        return True
    return start.astimezone(UTC).date() <= day <= end.astimezone(UTC).date()
