"""Read the saved local state without starting the stand-ins.

Read-only commands (`contracts list`, `exceptions list`, `report`, `trace`,
`dlq list`, ...) need the ledger, the raw payloads and the DLQ depths, not a
running moto: these clients answer the low-level boto3 calls the adapters make
for reading (`get_item`, `query`, `scan`; `get_object`; `get_queue_attributes`,
`receive_message`) from the committed rows of the SQLite store. They answer in
the shapes boto3 returns (typed items, bytes for binary values) and raise
`UnsupportedReadError` for an expression they do not understand, so a changed
adapter fails loudly (tests/integration/local/test_store_reader.py runs the
ledger's reads against moto and against this reader and compares them).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

from billbridge import topology
from billbridge.local.resources import LocalNames
from billbridge.local.store import LocalStore, scalar

Item = dict[str, Any]
Predicate = Callable[[Item], bool]


class UnsupportedReadError(NotImplementedError):
    """A request the store reader does not answer (the command must start the local stack)."""


_CONDITION = re.compile(
    r"^\s*(?:begins_with\s*\(\s*(?P<b_name>[#\w.]+)\s*,\s*(?P<b_value>:\w+)\s*\)"
    r"|(?P<e_name>[#\w.]+)\s*=\s*(?P<e_value>:\w+))\s*$"
)


def _conditions(expression: str, names: dict[str, str], values: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """`a = :x AND begins_with(b, :y)` -> [("=", "a", value), ("begins_with", "b", value)]."""
    parsed = []
    for part in re.split(r"\s+AND\s+", expression.strip(), flags=re.IGNORECASE):
        match = _CONDITION.match(part)
        if match is None:
            raise UnsupportedReadError(f"expression not supported by the store reader: {expression!r}")
        if match["b_name"]:
            op, name, value = "begins_with", match["b_name"], match["b_value"]
        else:
            op, name, value = "=", match["e_name"], match["e_value"]
        if value not in values:
            raise UnsupportedReadError(f"no value for {value} in {expression!r}")
        parsed.append((op, names.get(name, name), values[value]))
    return parsed


def _matches(item: Item, conditions: list[tuple[str, str, Any]]) -> bool:
    for op, name, value in conditions:
        attribute = item.get(name)
        if attribute is None:
            return False
        if op == "=" and attribute != value:
            return False
        if op == "begins_with" and not str(scalar(attribute) or "").startswith(str(scalar(value) or "")):
            return False
    return True


class StoreDynamoDBReader:
    """The read calls of a DynamoDB client, over the store (no paging: one page holds everything)."""

    def __init__(self, store: LocalStore, names: LocalNames) -> None:
        self._store = store
        self._tables = {
            names.ledger_table: ("ledger", topology.LEDGER_TABLE),
        }

    def _table(self, name: str) -> tuple[str, topology.KeySchema]:
        if name not in self._tables:
            raise UnsupportedReadError(f"no local table {name!r}")
        return self._tables[name]

    def get_item(self, *, TableName: str, Key: Item, **_: Any) -> dict[str, Any]:
        table, schema = self._table(TableName)
        pk = scalar(Key.get(schema.partition_key))
        sk = scalar(Key.get(schema.sort_key)) if schema.sort_key else None
        item = self._store.item(table, str(pk), sk)
        return {} if item is None else {"Item": item}

    def query(
        self,
        *,
        TableName: str,
        KeyConditionExpression: str,
        ExpressionAttributeValues: dict[str, Any],
        ExpressionAttributeNames: dict[str, str] | None = None,
        IndexName: str | None = None,
        FilterExpression: str | None = None,
        ScanIndexForward: bool = True,
        **_: Any,
    ) -> dict[str, Any]:
        table, schema = self._table(TableName)
        names = ExpressionAttributeNames or {}
        keys = _conditions(KeyConditionExpression, names, ExpressionAttributeValues)
        if IndexName is None:
            partition, sort = schema.partition_key, schema.sort_key
        elif IndexName == topology.LEDGER_LOOKUP_INDEX and table == "ledger":
            partition, sort = topology.LEDGER_LOOKUP_KEYS.partition_key, topology.LEDGER_LOOKUP_KEYS.sort_key
        else:
            raise UnsupportedReadError(f"no index {IndexName!r} on {TableName}")
        equal = [c for c in keys if c[0] == "=" and c[1] == partition]
        if not equal:
            raise UnsupportedReadError(f"the key condition must fix {partition}: {KeyConditionExpression!r}")
        value = str(scalar(equal[0][2]))
        if IndexName is None:
            items = self._store.items_by_partition(table, value)
        else:
            items = self._store.items_by_index(table, value)
        items = [i for i in items if _matches(i, keys)]
        if FilterExpression:
            filters = _conditions(FilterExpression, names, ExpressionAttributeValues)
            items = [i for i in items if _matches(i, filters)]
        if sort is not None:
            items.sort(key=lambda i: str(scalar(i.get(sort)) or ""), reverse=not ScanIndexForward)
        return {"Items": items, "Count": len(items)}

    def scan(
        self,
        *,
        TableName: str,
        FilterExpression: str | None = None,
        ExpressionAttributeValues: dict[str, Any] | None = None,
        ExpressionAttributeNames: dict[str, str] | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        table, _schema = self._table(TableName)
        items = list(self._store.items(table))
        if FilterExpression:
            filters = _conditions(FilterExpression, ExpressionAttributeNames or {}, ExpressionAttributeValues or {})
            items = [i for i in items if _matches(i, filters)]
        return {"Items": items, "Count": len(items)}


class StoreS3Reader:
    def __init__(self, store: LocalStore, names: LocalNames) -> None:
        self._store = store
        self._bucket = names.raw_bucket

    def get_object(self, *, Bucket: str, Key: str, **_: Any) -> dict[str, Any]:
        row = self._store.object(Key) if Bucket == self._bucket else None
        if row is None or row.body is None:
            raise KeyError(f"NoSuchKey: s3://{Bucket}/{Key} is not in the local state")
        return {
            "Body": io.BytesIO(row.body),
            "ContentType": row.content_type,
            "Metadata": row.metadata,
            "ContentLength": len(row.body),
        }

    def list_objects_v2(self, *, Bucket: str, Prefix: str = "", **_: Any) -> dict[str, Any]:
        keys = self._store.object_keys(Prefix) if Bucket == self._bucket else []
        return {"Contents": [{"Key": k} for k in keys], "KeyCount": len(keys), "IsTruncated": False}


class StoreSQSReader:
    """Queue depths and message peeks; receiving changes nothing (nothing becomes invisible)."""

    def __init__(self, store: LocalStore, names: LocalNames) -> None:
        self._store = store
        self._queues = {names.queue_url(physical): key for key, physical in names.queue_names().items()}
        self._names = names
        self._received: dict[str, set[str]] = {}

    def _queue(self, url: str) -> str:
        if url not in self._queues:
            raise UnsupportedReadError(f"no local queue {url!r}")
        return self._queues[url]

    def get_queue_attributes(self, *, QueueUrl: str, AttributeNames: list[str], **_: Any) -> dict[str, Any]:
        key = self._queue(QueueUrl)
        attributes = {
            "ApproximateNumberOfMessages": str(len(self._store.messages(key))),
            "ApproximateNumberOfMessagesNotVisible": "0",
            "ApproximateNumberOfMessagesDelayed": "0",
            "QueueArn": self._names.queue_arn(QueueUrl.rsplit("/", 1)[-1]),
        }
        wanted = set(AttributeNames)
        return {"Attributes": attributes if "All" in wanted else {k: v for k, v in attributes.items() if k in wanted}}

    def receive_message(self, *, QueueUrl: str, MaxNumberOfMessages: int = 1, **_: Any) -> dict[str, Any]:
        """Up to `MaxNumberOfMessages` messages not yet received through this reader (a peek:
        the store is not changed, as if each stayed invisible until the reader is dropped)."""
        key = self._queue(QueueUrl)
        received = self._received.setdefault(key, set())
        batch = [row for row in self._store.messages(key) if row.message_id not in received][:MaxNumberOfMessages]
        received.update(row.message_id for row in batch)
        return {
            "Messages": [
                {
                    "MessageId": row.message_id,
                    "ReceiptHandle": row.message_id,
                    "Body": row.body,
                    "Attributes": {},
                    "MessageAttributes": row.attributes,
                }
                for row in batch
            ]
        }

    def change_message_visibility_batch(self, **_: Any) -> dict[str, Any]:
        return {"Successful": [], "Failed": []}


class StoreClients:
    """`client(service)` for the reading side of a hub over the store."""

    def __init__(self, store: LocalStore, names: LocalNames) -> None:
        self._clients: dict[str, Any] = {
            "dynamodb": StoreDynamoDBReader(store, names),
            "s3": StoreS3Reader(store, names),
            "sqs": StoreSQSReader(store, names),
        }

    def __call__(self, service: str) -> Any:
        if service not in self._clients:
            raise UnsupportedReadError(f"a read-only command has no {service} client")
        return self._clients[service]
