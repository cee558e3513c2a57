"""PollCursorStore in the ledger table: one item per poller, `pk = POLL#{poller}`, `sk = CURSOR`.

The cursor only moves forward: the write is conditional on the stored cursor
being older or the same (or absent), so two polls that overlap (a slow run and the next
scheduled one) cannot move it back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from billbridge import topology
from billbridge.app.vendor_adapters import PollCursor

CURSOR_SORT_KEY = "CURSOR"


def cursor_partition_key(poller: str) -> str:
    return f"POLL#{poller}"


def _order(cursor: PollCursor) -> str:
    """A string that sorts as (modified, id): the id left-padded to 20 digits."""
    return f"{cursor.modified}|{cursor.record_id.rjust(20, '0')}"


class DynamoPollCursors:
    def __init__(self, *, table_name: str, client: Any | None = None) -> None:
        self._table = table_name
        self._client = client
        self._pk = topology.LEDGER_TABLE.partition_key
        self._sk = topology.LEDGER_TABLE.sort_key or "sk"

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("dynamodb")
        return self._client

    def load(self, poller: str) -> PollCursor | None:
        item = self.client.get_item(
            TableName=self._table,
            Key={self._pk: {"S": cursor_partition_key(poller)}, self._sk: {"S": CURSOR_SORT_KEY}},
            ConsistentRead=True,
        ).get("Item")
        if not item:
            return None
        return PollCursor(
            modified=item["modified"]["S"],
            record_id=item["record_id"]["S"],
            caught_up=bool(item.get("caught_up", {}).get("BOOL", True)),
        )

    def save(self, poller: str, cursor: PollCursor, *, polled_at: datetime) -> None:
        try:
            self.client.put_item(
                TableName=self._table,
                Item={
                    self._pk: {"S": cursor_partition_key(poller)},
                    self._sk: {"S": CURSOR_SORT_KEY},
                    "modified": {"S": cursor.modified},
                    "record_id": {"S": cursor.record_id},
                    "position": {"S": _order(cursor)},
                    "caught_up": {"BOOL": cursor.caught_up},
                    "polled_at": {"S": polled_at.isoformat()},
                },
                ConditionExpression="attribute_not_exists(#pk) OR #position <= :position",
                ExpressionAttributeNames={"#pk": self._pk, "#position": "position"},
                ExpressionAttributeValues={":position": {"S": _order(cursor)}},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return  # another poll already moved it further (or to the same place)
