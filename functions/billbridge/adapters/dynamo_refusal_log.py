"""Refusals by a system-of-record rule or a rollout switch, in the ledger table:
in the refused delivery's own partition, `DELIVERY#{source}#{event id}` /
`REFUSAL#SYSTEM_OF_RECORD` (the only partitions the public webhook may write),
listed for operators under the lookup index (`gsi1pk = SYSTEM_OF_RECORD_REFUSAL`,
newest last), with an attempt count (a vendor's retries of the same refused event
are one record)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from billbridge import topology
from billbridge.adapters.aws_client import LazyClient
from billbridge.adapters.dynamo_delivery_registry import delivery_partition_key, record_sighting

REFUSAL_SORT_KEY = "REFUSAL#SYSTEM_OF_RECORD"
REFUSAL_LOOKUP_PARTITION = "SYSTEM_OF_RECORD_REFUSAL"


def _utc_now() -> datetime:
    return datetime.now(UTC)


class DynamoRefusalLog:
    def __init__(self, *, table_name: str, client: Any | None = None, now: Callable[[], datetime] = _utc_now) -> None:
        self._table = table_name
        self._client = LazyClient("dynamodb", client)
        self._now = now

    @property
    def client(self) -> Any:
        return self._client()

    def record_refusal(
        self, *, source: str, event_id: str, event_type: str, rule: str, correlation_id: str, raw_key: str
    ) -> None:
        now = self._now().isoformat()
        record_sighting(
            self.client,
            table=self._table,
            key={"pk": {"S": delivery_partition_key(source, event_id)}, "sk": {"S": REFUSAL_SORT_KEY}},
            fields={
                "source": source,
                "event_id": event_id,
                "event_type": event_type,
                "rule": rule,
                "correlation_id": correlation_id,
                "raw_key": raw_key,
            },
            lookup=(REFUSAL_LOOKUP_PARTITION, f"{now}#{source}#{event_id}"),
            now=now,
        )

    def refusals(self) -> list[dict[str, str]]:
        """Every audited refusal, oldest first."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": topology.LEDGER_LOOKUP_INDEX,
            "KeyConditionExpression": "gsi1pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": REFUSAL_LOOKUP_PARTITION}},
        }
        while True:
            response = self.client.query(**kwargs)
            items.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return [
            {name: value.get("S", value.get("N", "")) for name, value in item.items()}
            for item in sorted(items, key=lambda i: i.get("gsi1sk", {}).get("S", ""))
        ]
