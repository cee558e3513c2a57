"""How every SQS consumer answers Lambda: Powertools' `BatchProcessor` reports the records
that failed (partial batch response, so only those are received again and, past the
queue's receives, dead-lettered), and the metrics counted meanwhile are flushed whatever
happens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from billbridge.observability import metrics


def partial_batch_response(
    event: dict[str, Any], context: Any, record_handler: Callable[[Any], None]
) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    try:
        return process_partial_response(
            event=event,
            record_handler=record_handler,
            processor=BatchProcessor(event_type=EventType.SQS),
            context=context,
        )
    finally:
        metrics().flush_metrics()
