"""DeadLetterSink on SQS: the consumer's dead-letter queue, the reason in message attributes.

The body is the message as received (or one event of a packed bus entry), so
`billbridge dlq redrive` can send it back unchanged; the attributes say why it
was set aside (`error`, `error_type`), which workflow and message it was, and
its correlation id (docs/operations.md reads them).
"""

from __future__ import annotations

from typing import Any

from billbridge.adapters.aws_client import LazyClient
from billbridge.app.ports import DeadLetter


class SqsDeadLetterSink:
    def __init__(self, *, queue_url: str, client: Any | None = None) -> None:
        self._url = queue_url
        self._sqs = LazyClient("sqs", client)

    def put(self, letter: DeadLetter) -> None:
        self._sqs().send_message(
            QueueUrl=self._url,
            MessageBody=letter.body,
            MessageAttributes={
                "error": _text(letter.reason),
                "error_type": _text(letter.error_type),
                "correlation_id": _text(letter.correlation_id or "unknown"),
                "workflow": _text(letter.workflow),
                "message_id": _text(letter.message_id),
            },
        )


def _text(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}
