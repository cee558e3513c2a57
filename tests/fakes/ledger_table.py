"""A ledger table in moto, built from the same key-schema constants as the stack,
and a client that serializes calls into moto (its DynamoDB backend is not safe
for concurrent callers; the calls still interleave one by one)."""

from __future__ import annotations

import threading
from typing import Any

from billbridge import topology


def create_ledger_table(client: Any, name: str) -> None:
    schema, lookup = topology.LEDGER_TABLE, topology.LEDGER_LOOKUP_KEYS
    assert schema.sort_key and lookup.sort_key
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": n, "AttributeType": "S"}
            for n in (schema.partition_key, schema.sort_key, lookup.partition_key, lookup.sort_key)
        ],
        KeySchema=[
            {"AttributeName": schema.partition_key, "KeyType": "HASH"},
            {"AttributeName": schema.sort_key, "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": topology.LEDGER_LOOKUP_INDEX,
                "KeySchema": [
                    {"AttributeName": lookup.partition_key, "KeyType": "HASH"},
                    {"AttributeName": lookup.sort_key, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )


class SerializedClient:
    """One call into moto at a time; `calls` counts them by operation."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()
        self.exceptions = client.exceptions
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._client, name)
        if not callable(target):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.calls[name] = self.calls.get(name, 0) + 1
                return target(*args, **kwargs)

        return call
