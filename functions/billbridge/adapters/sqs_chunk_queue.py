"""ChunkQueue on SQS: one message per chunk ticket, sent ten at a time."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from billbridge.adapters.aws_client import LazyClient
from billbridge.app.bulk_intake import ChunkTicket

MAX_MESSAGES_PER_CALL = 10


class ChunkQueueError(Exception):
    """Some tickets could not be sent (the split is retried; workers skip chunks already done)."""


class SqsChunkQueue:
    def __init__(self, *, queue_url: str, client: Any | None = None) -> None:
        self._url = queue_url
        self._sqs = LazyClient("sqs", client)

    def send(self, tickets: Sequence[ChunkTicket]) -> None:
        for start in range(0, len(tickets), MAX_MESSAGES_PER_CALL):
            batch = tickets[start : start + MAX_MESSAGES_PER_CALL]
            response = self._sqs().send_message_batch(
                QueueUrl=self._url,
                Entries=[
                    {"Id": str(index), "MessageBody": json.dumps(ticket.as_json(), separators=(",", ":"))}
                    for index, ticket in enumerate(batch)
                ],
            )
            failed = response.get("Failed") or []
            if failed:
                reasons = "; ".join(f"{f.get('Code')}: {f.get('Message')}" for f in failed)
                raise ChunkQueueError(f"{len(failed)} chunk ticket(s) not sent: {reasons}")
