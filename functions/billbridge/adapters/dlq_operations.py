"""Operator recovery on the hub's transport: dead-letter queues and event replays.

Dead-letter queues (SQS):
- `depths()`: messages waiting in each workflow's DLQ;
- `peek(workflow, limit)`: messages with the error and correlation id the
  consumer attached as message attributes (a message the queue's redrive
  policy moved by itself carries none: `has_error_attributes` is False);
  messages are left in place (made visible again at once);
- `redrive(workflow)`: back to the workflow's queue. On AWS, SQS
  `StartMessageMoveTask` (DLQ -> source queue) does it server side. Where that
  API is missing (moto), each message is received, sent again to the source
  queue, and deleted from the DLQ only after the send succeeded: an interruption
  can duplicate a message, never lose one (the consumers are idempotent).

Replays of delivered events:
- `EventBridgeArchiveReplay` starts a replay from the bus's archive;
- `RawPayloadReplay` re-publishes the claim-check copies of the webhook bodies
  (S3) received in a time window as canonical events on the bus, the way the
  webhook use case published them the first time, for a stack without an
  archive (the local stack). Only the body a delivery was accepted from is
  replayed (a conflicting re-send of the same event id is not).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from billbridge import topology
from billbridge.app.ingest_webhook import DETAIL_SCHEMA_VERSION
from billbridge.app.ports import EventPublisher, OutboundEvent, claim_of_inline_raw_key

PEEK_VISIBILITY_SECONDS = 30
ATTRIBUTE_FIELDS = ("DataType", "StringValue", "BinaryValue")


@dataclass(frozen=True, slots=True)
class WorkflowQueues:
    workflow: str
    queue_url: str
    dead_letter_queue_url: str


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


@dataclass
class RedriveOutcome:
    workflow: str
    dry_run: bool
    method: str
    """`message_move_task` (server side) or `resend` (receive, send, delete)."""
    moved: int = 0
    would_move: int = 0
    task_handle: str | None = None
    message_ids: list[str] = field(default_factory=list)

    def as_document(self) -> dict[str, Any]:
        return {
            "workflow": self.workflow,
            "dry_run": self.dry_run,
            "method": self.method,
            "moved": self.moved,
            "would_move": self.would_move,
            "task_handle": self.task_handle,
            "message_ids": self.message_ids,
        }


class SqsDeadLetterQueues:
    def __init__(self, sqs: Any, queues: Sequence[WorkflowQueues], *, message_move_task: bool = True) -> None:
        self._sqs = sqs
        self._queues = list(queues)
        self._message_move_task = message_move_task

    def queues(self, workflow: str) -> WorkflowQueues:
        for queues in self._queues:
            if workflow in (
                queues.workflow,
                queues.queue_url.rsplit("/", 1)[-1],
                queues.dead_letter_queue_url.rsplit("/", 1)[-1],
            ):
                return queues
        raise KeyError(f"no queue {workflow!r}; workflows: {', '.join(q.workflow for q in self._queues)}")

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

    def redrive(self, workflow: str, *, dry_run: bool = False) -> RedriveOutcome:
        queues = self.queues(workflow)
        if dry_run:
            waiting = self.peek(workflow)
            return RedriveOutcome(
                workflow=queues.workflow,
                dry_run=True,
                method="message_move_task" if self._message_move_task else "resend",
                would_move=len(waiting),
                message_ids=[m.message_id for m in waiting],
            )
        if self._message_move_task:
            return self._start_move_task(queues)
        return self._resend(queues)

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

    def _resend(self, queues: WorkflowQueues) -> RedriveOutcome:
        outcome = RedriveOutcome(workflow=queues.workflow, dry_run=False, method="resend")
        while True:
            batch = self._receive(queues.dead_letter_queue_url, 300)
            if not batch:
                return outcome
            for message in batch:
                attributes = {
                    name: {k: v for k, v in value.items() if k in ATTRIBUTE_FIELDS}
                    for name, value in message.get("MessageAttributes", {}).items()
                }
                send: dict[str, Any] = {"QueueUrl": queues.queue_url, "MessageBody": message["Body"]}
                if attributes:
                    send["MessageAttributes"] = attributes
                self._sqs.send_message(**send)  # raises: the message stays in the DLQ
                self._sqs.delete_message(QueueUrl=queues.dead_letter_queue_url, ReceiptHandle=message["ReceiptHandle"])
                outcome.moved += 1
                outcome.message_ids.append(message["MessageId"])

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


def _attribute(message: dict[str, Any], name: str) -> str | None:
    value = message.get("MessageAttributes", {}).get(name)
    return None if value is None else str(value.get("StringValue", ""))


def _dead_letter(workflow: str, message: dict[str, Any]) -> DeadLetter:
    error = _attribute(message, "error")
    body = message.get("Body", "")
    event_type, event_ref, body_correlation = "", "", ""
    try:
        envelope = json.loads(body)
        detail = envelope.get("detail", {})
        event = detail.get("event", {})
        event_type = str(envelope.get("detail-type") or event.get("type") or "")
        if event.get("source") and event.get("id"):
            event_ref = f"{event['source']}:{event['id']}"
        body_correlation = str(detail.get("correlationid") or "")
    except (ValueError, AttributeError, TypeError):
        pass
    sent = message.get("Attributes", {}).get("SentTimestamp")
    return DeadLetter(
        message_id=message["MessageId"],
        workflow=workflow,
        error=error
        if error is not None
        else "(no error attributes: moved by the queue's redrive policy "
        "after its receive limit; see the consumer's logs for the cause)",
        error_type=_attribute(message, "error_type") or "",
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
