"""A JSON picture of a running local stack: table items, raw payloads and queued messages.

For inspection and tests (`LocalStack.snapshot()`). The saved state that
processes share is the SQLite store (`billbridge.local.store`).
DynamoDB items keep their attribute types (binary as base64), S3 objects are
base64, messages keep their body and message attributes.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from billbridge.local.resources import LocalNames
from billbridge.local.store import default_state_path, encode_binary

__all__ = ["capture", "default_state_path", "read_messages"]

SNAPSHOT_VERSION = 1


def _scan(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        items.extend(page.get("Items", []))
    return items


def read_messages(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every message of a queue, left in it (visible again) afterwards; each read counts as a receive."""
    seen: dict[str, dict[str, Any]] = {}
    handles: list[str] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=300,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not batch:
            break
        for message in batch:
            seen.setdefault(message["MessageId"], message)
            handles.append(message["ReceiptHandle"])
    for start in range(0, len(handles), 10):
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for i, handle in enumerate(handles[start : start + 10])
            ],
        )
    return [
        {
            "messageId": m["MessageId"],
            "body": m["Body"],
            "attributes": m.get("Attributes", {}),
            "messageAttributes": {
                name: {k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")}
                for name, value in m.get("MessageAttributes", {}).items()
            },
        }
        for m in seen.values()
    ]


def _json_message_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: {
            k: (base64.b64encode(v).decode() if k == "BinaryValue" and isinstance(v, bytes) else v)
            for k, v in value.items()
        }
        for name, value in attributes.items()
    }


def capture(clients: Mapping[str, Any], names: LocalNames) -> dict[str, Any]:
    dynamodb, s3, sqs = clients["dynamodb"], clients["s3"], clients["sqs"]
    objects = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=names.raw_bucket):
        for entry in page.get("Contents", []):
            response = s3.get_object(Bucket=names.raw_bucket, Key=entry["Key"])
            objects.append(
                {
                    "key": entry["Key"],
                    "body": base64.b64encode(response["Body"].read()).decode(),
                    "content_type": response.get("ContentType", "binary/octet-stream"),
                    "metadata": response.get("Metadata", {}),
                }
            )
    queues = {}
    for key, queue_name in names.queue_names().items():
        url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        messages = read_messages(sqs, url)
        for message in messages:
            message["messageAttributes"] = _json_message_attributes(message["messageAttributes"])
        queues[key] = messages
    return {
        "version": SNAPSHOT_VERSION,
        "tables": {
            "ledger": [encode_binary(i) for i in _scan(dynamodb, names.ledger_table)],
        },
        "objects": objects,
        "queues": queues,
    }
