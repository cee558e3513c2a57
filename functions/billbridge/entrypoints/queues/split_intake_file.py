"""Consumer of the intake files queue: one dropped file per record, split into chunk tickets.

The queue is fed by an EventBridge rule matching the intake bucket's S3 `Object Created`
events (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html: `detail.bucket.name`,
`detail.object.key`, `detail.object.sequencer`). Thin: parse the event, call SplitIntakeFile,
count, report partial failures. A file that cannot be read is not a failure of this function:
its result says why (`status: failed`) and `intake.completed` announces it. A hub dependency
that fails raises, so the record is retried and, after the queue's receives, dead-lettered.
"""

from __future__ import annotations

import json
from typing import Any

from billbridge.entrypoints.queues.partial_batch import partial_batch_response
from billbridge.observability import count, logger


def _use_case() -> Any:
    from billbridge.bootstrap import split_intake_file

    return split_intake_file()


def drop_of(body: str) -> Any:
    """The IntakeDrop an S3 `Object Created` event (through EventBridge) describes."""
    from billbridge.app.bulk_intake import IntakeDrop

    event = json.loads(body)
    detail = event["detail"]
    obj = detail["object"]
    return IntakeDrop(
        bucket=str(detail["bucket"]["name"]),
        key=str(obj["key"]),
        drop_id=str(obj.get("sequencer") or obj.get("version-id") or obj.get("etag") or event.get("id")),
    )


def lambda_handler(event: dict[str, Any], context: Any, use_case: Any = None) -> dict[str, Any]:
    split = use_case if use_case is not None else _use_case()

    def record_handler(record: Any) -> None:
        drop = drop_of(record.body)
        outcome = split.handle(drop)
        fields = {"file": drop.key, "run_id": outcome.run_id, "chunks": outcome.chunks, "rows": outcome.rows}
        if outcome.failed:
            count("IntakeFilesFailed")
            logger().warning("intake file could not be processed", extra={**fields, "reason": outcome.failed})
        elif outcome.skipped:
            logger().info("intake drop skipped", extra={**fields, "reason": outcome.skipped})
        else:
            count("IntakeFilesSplit")
            count("IntakeRowsRead", outcome.rows)
            logger().info("intake file split", extra=fields)

    return partial_batch_response(event, context, record_handler)
