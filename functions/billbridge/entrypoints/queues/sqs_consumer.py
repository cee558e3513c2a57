"""What every queue consumer does around its use case.

Every event's `data` is typed with the edge's own models
(`canonical_events.parse_bus_event_data`) before its use case sees it, and the
use case receives that typed event (`IngestedEvent`): one that arrives past the
webhook (an archive replay of an event an earlier release accepted, a redrive, a
message put on the bus by hand) and breaks the contract is dead-lettered naming
the field. Partial batch responses (a failed record is retried alone); a record
that can never succeed (malformed, a permanent fault such as a decimal error, or out of
retries) is sent to the dead-letter queue at once, with the error and the
correlation id as message attributes, so an operator sees why.

No deduplication store here: an event is deduplicated once, by the webhook's
delivery claim on (source, id) before it reaches the bus. What still arrives
twice (SQS at-least-once delivery, a DLQ redrive, an archive replay) is
absorbed by the ledger itself: every rule is keyed by business identity (entry
id + revision, contract version, proposal id, payment id), and a change that
changes nothing is neither saved nor published (`apply_to_book`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from billbridge import topology
from billbridge.app.canonical_events import InvalidEventError, parse_bus_event_data
from billbridge.app.event_translation import IngestedEvent
from billbridge.observability import count, logger, metrics, tracer

PERMANENT_ERRORS: tuple[type[BaseException], ...] = (ValueError, LookupError, TypeError, ArithmeticError)
"""Errors of the input itself: retrying cannot help. `ArithmeticError` covers every
`decimal.DecimalException` (an amount the decimal context cannot hold, a division
by zero): the same record fails the same way on every receive."""

UseCase = Callable[[IngestedEvent], object]


def consume_batch(
    event: dict[str, Any], context: Any, *, workflow: str, use_case: Callable[[], UseCase]
) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    handle = use_case()

    @tracer().capture_method(capture_response=False)
    def process(ingested: IngestedEvent) -> dict[str, Any]:
        count_business_effects(handle(ingested))
        return {"processed": ingested.event_id}

    def apply_detail(
        record: Any, raw_detail: Any, body: str, dead_letters: list[Callable[[], None]] | None = None
    ) -> None:
        """One canonical event: validated, applied, or dead-lettered with its reason (at once, or
        appended to `dead_letters` for the caller to send). Raises when it may succeed on a later
        receive."""
        from aws_lambda_powertools.utilities.parser import parse

        def dead_letter(error: BaseException, correlation_id: str) -> None:
            def send() -> None:
                _dead_letter(record, error, correlation_id, workflow, body=body)

            if dead_letters is None:
                send()
            else:
                dead_letters.append(send)

        try:
            detail = parse(event=raw_detail, model=IngestedDetail)
        except Exception as error:  # pydantic ValidationError: the message itself is bad
            dead_letter(error, _correlation_id_of(body))
            return
        extra = detail.event.model_extra or {}
        correlation_id = detail.correlationid or str(extra.get("correlationid") or "")
        try:  # the same models as the edge's: an event the edge would refuse never reaches a use case
            ingested = IngestedEvent(
                event_type=detail.event.type,
                data=parse_bus_event_data(detail.event.type, extra.get("data")),
                correlation_id=correlation_id,
                source=detail.event.source,
                event_id=detail.event.id,
                subject=extra.get("subject"),
            )
        except InvalidEventError as error:
            dead_letter(error, correlation_id)
            return
        logger().append_keys(correlation_id=correlation_id, event_type=ingested.event_type)
        try:
            process(ingested=ingested)
            count("EventsProcessed")
        except PERMANENT_ERRORS as error:
            dead_letter(error, correlation_id)
        except Exception as error:
            if _receive_count(record) >= _max_receive_count():
                dead_letter(error, correlation_id)
                return
            logger().warning("record failed; it will be retried", extra={"error_type": type(error).__name__})
            raise

    def record_handler(record: Any) -> None:
        try:
            envelope = json.loads(record.body)
            raw_detail = envelope["detail"]
        except Exception as error:  # malformed JSON, no detail: the message itself is bad
            _dead_letter(record, error, _correlation_id_of(record.body), workflow)
            return
        packed = raw_detail.get(topology.PACKED_DETAIL_KEY) if isinstance(raw_detail, dict) else None
        if not isinstance(packed, list):
            apply_detail(record, raw_detail, record.body)
            return
        # A packed entry (docs/spec/events.md): each event is applied on its own; one that cannot
        # succeed is dead-lettered alone, as an ordinary message. If any may succeed later, the
        # record is retried whole and nothing is dead-lettered yet (a permanent fault fails the
        # same way next time): the events already applied change nothing the second time (the
        # ledger's conditional writes on business identity).
        retry: Exception | None = None
        dead_letters: list[Callable[[], None]] = []
        for one in packed:
            body = json.dumps({**envelope, "detail": one}, separators=(",", ":"), ensure_ascii=False)
            try:
                apply_detail(record, one, body, dead_letters)
            except Exception as error:
                retry = retry or error
        if retry is not None:
            raise retry
        for send in dead_letters:
            send()

    processor = BatchProcessor(event_type=EventType.SQS)
    try:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    finally:
        metrics().flush_metrics()


def count_business_effects(outcome: object) -> None:
    """The dashboard's business series from what a use case did: entries rated (distinct inputs
    with a line rated) and exceptions raised (the `ExceptionRaised` events it published)."""
    audit = getattr(outcome, "audit", ())
    rated = {record.source_ref or record.ref for record in audit if record.action == "line_rated"}
    if rated:
        count("EntriesRated", len(rated))
    raised = sum(1 for event in getattr(outcome, "events", ()) if event.detail_type == "ExceptionRaised")
    if raised:
        count("ExceptionsRaised", raised)


class CanonicalEventRef(BaseModel):
    """The identity of the CloudEvent inside a bus event (the rest is the use case's to read)."""

    model_config = ConfigDict(extra="allow")

    source: str = Field(min_length=1)
    id: str = Field(min_length=1)
    type: str = Field(min_length=1)


class IngestedDetail(BaseModel):
    """The `detail` of an event the webhook receiver put on the bus."""

    model_config = ConfigDict(extra="allow")

    schema_version: int = 1
    correlationid: str = ""
    delivery: dict[str, Any] = Field(default_factory=dict)
    event: CanonicalEventRef


def describe_error(error: BaseException) -> str:
    """The error without the input it was about: validation errors would
    otherwise echo the payload (and its personal data) into logs and the DLQ."""
    from pydantic import ValidationError

    if isinstance(error, ValidationError):
        return "; ".join(
            f"{'.'.join(str(part) for part in detail['loc'])}: {detail['msg']}"
            for detail in error.errors(include_input=False, include_url=False)
        )
    return str(error)


def _correlation_id_of(body: str) -> str:
    try:
        return str(json.loads(body)["detail"]["correlationid"])
    except (ValueError, KeyError, TypeError):
        return ""


def _receive_count(record: Any) -> int:
    try:
        return int(record.attributes.approximate_receive_count)
    except (AttributeError, TypeError, ValueError):
        return 1


def _max_receive_count() -> int:
    from billbridge.settings import function_settings

    return function_settings().max_receive_count


def _dead_letter(
    record: Any, error: BaseException, correlation_id: str, workflow: str, *, body: str | None = None
) -> None:
    """Put the record (or `body`, one event of a packed record) in the dead-letter sink ourselves, with
    the error attached; without a configured sink, fail the record so the queue's redrive policy moves it."""
    from billbridge import bootstrap
    from billbridge.app.ports import DeadLetter

    message = f"{type(error).__name__}: {describe_error(error)}"[:1000]
    logger().error("record dead-lettered", extra={"error": message, "workflow": workflow})
    count("RecordsDeadLettered")
    sink = bootstrap.dead_letter_sink()
    if sink is None:
        raise error
    sink.put(
        DeadLetter(
            body=record.body if body is None else body,
            reason=message,
            error_type=type(error).__name__,
            correlation_id=correlation_id,
            workflow=workflow,
            message_id=record.message_id,
        )
    )
