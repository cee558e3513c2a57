"""Consumer of the feedback queue (thin: parse, call one use case, report failures)."""

from __future__ import annotations

from typing import Any

from billbridge.observability import lambda_entrypoint


def _use_case() -> Any:
    from billbridge import bootstrap

    return bootstrap.record_feedback().handle


@lambda_entrypoint
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from billbridge.entrypoints.queues.sqs_consumer import consume_batch

    return consume_batch(event, context, workflow="feedback", use_case=_use_case)
