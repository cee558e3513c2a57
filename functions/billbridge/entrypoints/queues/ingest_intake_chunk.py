"""Consumer of the intake chunk queue: one chunk of a dropped file per record.

Thin: parse the ticket, call IngestIntakeChunk (the rows through the webhook's canonical
path), count the rows by outcome, report partial failures. A chunk whose hub dependencies
fail raises and is retried (rows it already accepted are recognised by their correlation
id and still counted as accepted); after the queue's receives it is dead-lettered.
"""

from __future__ import annotations

import json
from typing import Any

from billbridge.entrypoints.queues.partial_batch import partial_batch_response
from billbridge.observability import count, logger


def _use_case() -> Any:
    from billbridge.bootstrap import ingest_intake_chunk

    return ingest_intake_chunk()


def lambda_handler(event: dict[str, Any], context: Any, use_case: Any = None) -> dict[str, Any]:
    from billbridge.app.bulk_intake import ChunkTicket

    ingest = use_case if use_case is not None else _use_case()

    def record_handler(record: Any) -> None:
        ticket = ChunkTicket.from_json(json.loads(record.body))
        outcome = ingest.handle(ticket)
        result = outcome.result
        count("IntakeRowsAccepted", result.accepted)
        count("IntakeRowsDuplicate", result.duplicates)
        count("IntakeRowsRefused", len(result.refused))
        fields = {"run_id": ticket.run_id, "file": ticket.file_key, "chunk": ticket.chunk, "chunks": ticket.chunks}
        logger().info(
            "intake chunk ingested", extra={**fields, **{k: v for k, v in result.as_json().items() if k != "refused"}}
        )
        if outcome.completed is not None:
            count("IntakeFilesCompleted")
            logger().info("intake file completed", extra={**fields, "status": outcome.completed.status})

    return partial_batch_response(event, context, record_handler)
