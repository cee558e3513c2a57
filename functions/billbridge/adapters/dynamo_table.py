"""What every ledger adapter does with its DynamoDB table: a lazily created
client, the clock, and paged reads. Each adapter reads only its own items."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from billbridge import topology

BATCH_WRITE_LIMIT = 25
BATCH_GET_LIMIT = 100


class DynamoTable:
    def __init__(self, table_name: str, client: Any = None, clock: Any = None) -> None:
        self.table_name = table_name
        self._client = client
        self._clock = clock

    @cached_property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("dynamodb")
        return self._client

    def now_datetime(self) -> datetime:
        now: datetime = self._clock.now() if self._clock is not None else datetime.now(UTC)
        return now

    def now(self) -> str:
        return str(self.now_datetime().isoformat())

    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self.table_name, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
        )
        item: dict[str, Any] | None = response.get("Item")
        return item

    def batch_get(self, keys: list[tuple[str, str]]) -> list[dict[str, Any]]:
        """Strongly consistent reads of up to any number of keys (100 a call)."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), BATCH_GET_LIMIT):
            pending: list[dict[str, Any]] = [
                {"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in keys[start : start + BATCH_GET_LIMIT]
            ]
            for _ in range(8):
                if not pending:
                    break
                response = self.client.batch_get_item(
                    RequestItems={self.table_name: {"Keys": pending, "ConsistentRead": True}}
                )
                found.extend(response.get("Responses", {}).get(self.table_name, []))
                pending = response.get("UnprocessedKeys", {}).get(self.table_name, {}).get("Keys", [])
            if pending:
                raise RuntimeError(f"{len(pending)} key(s) not read after retries")
        return found

    def query_pk(self, pk: str, *, sk_prefix: str | None = None) -> list[dict[str, Any]]:
        expression = "pk = :pk"
        values: dict[str, Any] = {":pk": {"S": pk}}
        if sk_prefix is not None:
            expression += " AND begins_with(sk, :prefix)"
            values[":prefix"] = {"S": sk_prefix}
        return self._pages(
            "query",
            {
                "TableName": self.table_name,
                "KeyConditionExpression": expression,
                "ExpressionAttributeValues": values,
                "ConsistentRead": True,
            },
        )

    def query_sk_range(
        self, pk: str, condition: str, values: dict[str, str], *, after: str | None = None, limit: int = 0
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Strongly consistent read of the items of `pk` whose sort key meets `condition`
        (on `sk`, with `values`; "" for every item), in sort-key order, starting after the sort key `after`.
        With `limit`, at most that many items and the sort key to continue after (None
        when the range was read to its end)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": f"pk = :pk AND {condition}" if condition else "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}, **{name: {"S": v} for name, v in values.items()}},
            "ConsistentRead": True,
        }
        if after is not None:
            kwargs["ExclusiveStartKey"] = {"pk": {"S": pk}, "sk": {"S": after}}
        if not limit:
            return self._pages("query", kwargs), None
        items: list[dict[str, Any]] = []
        while len(items) < limit:
            kwargs["Limit"] = limit - len(items)
            response = self.client.query(**kwargs)
            items.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return items, None
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return items, str(items[-1]["sk"]["S"])

    def query_index(self, partition: str) -> list[dict[str, Any]]:
        return self._pages(
            "query",
            {
                "TableName": self.table_name,
                "IndexName": topology.LEDGER_LOOKUP_INDEX,
                "KeyConditionExpression": "gsi1pk = :pk",
                "ExpressionAttributeValues": {":pk": {"S": partition}},
            },
        )

    def scan_prefix(self, prefix: str, sk: str | None = None, *, keys_only: bool = False) -> list[dict[str, Any]]:
        expression = "begins_with(pk, :prefix)"
        values: dict[str, Any] = {":prefix": {"S": prefix}}
        if sk is not None:
            expression += " AND sk = :sk"
            values[":sk"] = {"S": sk}
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "FilterExpression": expression,
            "ExpressionAttributeValues": values,
        }
        if keys_only:
            kwargs["ProjectionExpression"] = "pk, sk"
        return self._pages("scan", kwargs)

    def _pages(self, operation: str, kwargs: dict[str, Any]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        call = getattr(self.client, operation)
        while True:
            response = call(**kwargs)
            items.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return items
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def batch_put(self, items: list[dict[str, Any]]) -> None:
        for start in range(0, len(items), BATCH_WRITE_LIMIT):
            pending = [{"PutRequest": {"Item": item}} for item in items[start : start + BATCH_WRITE_LIMIT]]
            for _ in range(8):
                if not pending:
                    break
                response = self.client.batch_write_item(RequestItems={self.table_name: pending})
                pending = response.get("UnprocessedItems", {}).get(self.table_name, [])
            if pending:
                raise RuntimeError(f"{len(pending)} item(s) not written after retries")


def plain_strings(item: dict[str, Any]) -> dict[str, str]:
    """The string attributes of an item, untyped (`{"S": "x"}` -> `"x"`)."""
    return {name: value["S"] for name, value in item.items() if "S" in value}
