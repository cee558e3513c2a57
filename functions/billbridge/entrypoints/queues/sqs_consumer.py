"""What every queue consumer does around its use case.

Partial batch responses (a failed record is retried alone); Powertools
idempotency keyed by the delivery identity (source, id); a record that can never
succeed (malformed, or out of retries) is sent to the dead-letter queue with
the error and the correlation id as message attributes, so an operator sees why.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import Any, Callable

from billbridge import topology
from billbridge.app.event_translation import IngestedEvent
from billbridge.observability import count, logger, metrics
from billbridge.settings import hub_settings

PERMANENT_ERRORS: tuple[type[BaseException], ...] = (ValueError, LookupError, TypeError)
"""Errors of the input itself: retrying cannot help."""

UseCase = Callable[[IngestedEvent], object]


def consume_batch(
    event: dict[str, Any], context: Any, *, workflow: str, use_case: Callable[[], UseCase]
) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

    idempotency_config = IdempotencyConfig(
        event_key_jmespath="[source, id]",
        expires_after_seconds=topology.IDEMPOTENCY_EXPIRY_SECONDS,
        raise_on_no_idempotency_key=True,
    )
    idempotency_config.register_lambda_context(context)
    handle = use_case()

    @idempotent_function(
        data_keyword_argument="delivery",
        persistence_store=_idempotency_store(),
        config=idempotency_config,
        key_prefix=f"billbridge.{workflow}",
    )
    def process(delivery: dict[str, Any]) -> dict[str, Any]:
        ingested = IngestedEvent.from_detail(delivery["type"], delivery["detail"])
        handle(ingested)
        return {"processed": delivery["id"]}

    def record_handler(record: Any) -> None:
        correlation_id = ""
        try:
            envelope = json.loads(record.body)
            detail = envelope["detail"]
            cloud_event = detail["event"]
            correlation_id = str(detail.get("correlationid", ""))
            delivery = {
                "source": cloud_event["source"],
                "id": cloud_event["id"],
                "type": envelope.get("detail-type", cloud_event.get("type")),
                "detail": detail,
            }
        except (ValueError, KeyError, TypeError) as error:
            _dead_letter(record, error, correlation_id, workflow)
            return
        logger().append_keys(correlation_id=correlation_id, event_type=delivery["type"])
        try:
            process(delivery=delivery)
            count("EventsProcessed")
        except PERMANENT_ERRORS as error:
            _dead_letter(record, error, correlation_id, workflow)
        except Exception as error:
            if _receive_count(record) >= _max_receive_count():
                _dead_letter(record, error, correlation_id, workflow)
                return
            logger().warning("record failed; it will be retried", extra={"error_type": type(error).__name__})
            raise

    processor = BatchProcessor(event_type=EventType.SQS)
    try:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    finally:
        metrics().flush_metrics()


@lru_cache(maxsize=1)
def _idempotency_store() -> Any:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(table_name=hub_settings().idempotency_table_name, key_attr="id")


def reset_idempotency_store() -> None:
    _idempotency_store.cache_clear()


def _receive_count(record: Any) -> int:
    try:
        return int(record.attributes.approximate_receive_count)
    except (AttributeError, TypeError, ValueError):
        return 1


def _max_receive_count() -> int:
    return int(os.environ.get(topology.ENV_MAX_RECEIVE_COUNT, "5"))


@lru_cache(maxsize=1)
def _sqs() -> Any:
    import boto3

    return boto3.client("sqs")


def _dead_letter(record: Any, error: BaseException, correlation_id: str, workflow: str) -> None:
    """Move the record to the DLQ ourselves, with the error attached; without a
    configured DLQ, fail the record so the queue's redrive policy moves it."""
    queue_url = os.environ.get(topology.ENV_DEAD_LETTER_QUEUE_URL, "")
    message = f"{type(error).__name__}: {error}"[:1000]
    logger().error("record dead-lettered", extra={"error": message, "workflow": workflow})
    count("RecordsDeadLettered")
    if not queue_url:
        raise error
    _sqs().send_message(
        QueueUrl=queue_url,
        MessageBody=record.body,
        MessageAttributes={
            "error": {"DataType": "String", "StringValue": message},
            "error_type": {"DataType": "String", "StringValue": type(error).__name__},
            "correlation_id": {"DataType": "String", "StringValue": correlation_id or "unknown"},
            "workflow": {"DataType": "String", "StringValue": workflow},
            "message_id": {"DataType": "String", "StringValue": record.message_id},
        },
    )
