"""Local state saved between CLI invocations: table items, raw payloads and queued messages.

The snapshot is one JSON document. DynamoDB items keep their attribute types
(the low-level client's typed form), S3 objects are base64, messages keep their
body, message attributes and the system attributes they had when saved.
Restoring sends the messages again: their receive counts start from zero.
Step Functions executions are not saved (the ledger holds their effects).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from billbridge.localstack.resources import LocalNames

SNAPSHOT_VERSION = 1
STATE_ENV_VAR = "BILLBRIDGE_LOCAL_STATE"
DEFAULT_STATE_PATH = Path(".billbridge") / "local-state.json"


def default_state_path(environ: Mapping[str, str] | None = None) -> Path:
    """`$BILLBRIDGE_LOCAL_STATE`, else `.billbridge/local-state.json` under the current directory."""
    env = os.environ if environ is None else environ
    configured = env.get(STATE_ENV_VAR)
    return Path(configured) if configured else Path.cwd() / DEFAULT_STATE_PATH


def _scan(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        items.extend(page.get("Items", []))
    return items


def _encode_binary(item: Any) -> Any:
    """Typed DynamoDB items hold bytes under B/BS: base64 them for JSON."""
    if isinstance(item, dict):
        encoded: dict[str, Any] = {}
        for key, value in item.items():
            if key == "B" and isinstance(value, bytes):
                encoded[key] = base64.b64encode(value).decode()
            elif key == "BS" and isinstance(value, list):
                encoded[key] = [base64.b64encode(v).decode() for v in value]
            else:
                encoded[key] = _encode_binary(value)
        return encoded
    if isinstance(item, list):
        return [_encode_binary(v) for v in item]
    return item


def _decode_binary(item: Any) -> Any:
    if isinstance(item, dict):
        decoded: dict[str, Any] = {}
        for key, value in item.items():
            if key == "B" and isinstance(value, str):
                decoded[key] = base64.b64decode(value)
            elif key == "BS" and isinstance(value, list) and all(isinstance(v, str) for v in value):
                decoded[key] = [base64.b64decode(v) for v in value]
            else:
                decoded[key] = _decode_binary(value)
        return decoded
    if isinstance(item, list):
        return [_decode_binary(v) for v in item]
    return item


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
            "ledger": [_encode_binary(i) for i in _scan(dynamodb, names.ledger_table)],
            "idempotency": [_encode_binary(i) for i in _scan(dynamodb, names.idempotency_table)],
        },
        "objects": objects,
        "queues": queues,
    }


def save(snapshot: Mapping[str, Any], path: Path) -> None:
    """Write atomically, so an interrupted save leaves the previous snapshot intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(snapshot, indent=1, sort_keys=True), encoding="utf-8")
    partial.replace(path)


def load(path: Path) -> dict[str, Any]:
    snapshot = json.loads(path.read_text(encoding="utf-8"))
    if snapshot.get("version") != SNAPSHOT_VERSION:
        raise ValueError(f"{path}: snapshot version {snapshot.get('version')!r}, expected {SNAPSHOT_VERSION}")
    return dict(snapshot)


def restore(snapshot: Mapping[str, Any], clients: Mapping[str, Any], names: LocalNames) -> None:
    dynamodb, s3, sqs = clients["dynamodb"], clients["s3"], clients["sqs"]
    tables = {"ledger": names.ledger_table, "idempotency": names.idempotency_table}
    for key, table in tables.items():
        for item in snapshot.get("tables", {}).get(key, []):
            dynamodb.put_item(TableName=table, Item=_decode_binary(item))
    for entry in snapshot.get("objects", []):
        s3.put_object(
            Bucket=names.raw_bucket,
            Key=entry["key"],
            Body=base64.b64decode(entry["body"]),
            ContentType=entry.get("content_type", "binary/octet-stream"),
            Metadata=entry.get("metadata", {}),
        )
    queue_names = names.queue_names()
    for key, messages in snapshot.get("queues", {}).items():
        if key not in queue_names:
            continue
        url = sqs.get_queue_url(QueueName=queue_names[key])["QueueUrl"]
        for message in messages:
            attributes = {
                name: {k: (base64.b64decode(v) if k == "BinaryValue" else v) for k, v in value.items()}
                for name, value in message.get("messageAttributes", {}).items()
            }
            if attributes:
                sqs.send_message(QueueUrl=url, MessageBody=message["body"], MessageAttributes=attributes)
            else:
                sqs.send_message(QueueUrl=url, MessageBody=message["body"])
