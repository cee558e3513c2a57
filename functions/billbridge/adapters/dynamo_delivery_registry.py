"""DeliveryRegistry in the ledger table: one item per delivered `(source, id)`.

- claim: `pk = DELIVERY#{source}#{id}`, `sk = DELIVERY`, put on condition
  `attribute_not_exists(pk)`; when the condition fails the existing item's
  digest decides between duplicate and conflict.
- conflicts: `sk = CONFLICT#{digest}`, one item per conflicting body, with an
  attempt count, listed for operators under the lookup index.
- release: a conditional delete of the claim.
Claims expire (TTL) after topology.IDEMPOTENCY_EXPIRY_SECONDS, longer than any
vendor's retry window; conflict records are kept.

A claim given the delivery's raw body (a small single-event delivery) keeps it
in `raw_body` (zlib-compressed when that is smaller, `raw_encoding` says so) and
then expires with the raw payloads (`raw_retention_seconds`, the raw payload
bucket's lifecycle), not after the retry window: it is the body's only copy
(docs/decisions/0005-cost-per-entry.md).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from billbridge import topology
from billbridge.adapters.aws_client import LazyClient
from billbridge.app.ports import ClaimOutcome, DeliveryClaim

DELIVERY_PARTITION_PREFIX = topology.DELIVERY_PARTITION_PREFIX
"""Every item of the registry lives under it (the webhook's IAM grant is bounded to it)."""
CLAIM_SORT_KEY = "DELIVERY"
CONFLICT_SORT_KEY_PREFIX = "CONFLICT#"
CONFLICT_LOOKUP_PARTITION = "DELIVERY_CONFLICT"
_CLAIM_ATTEMPTS = 3
RAW_BODY_ATTRIBUTE = "raw_body"
RAW_ENCODING_ATTRIBUTE = "raw_encoding"
ZLIB = "zlib"


def encode_raw_body(body: bytes) -> dict[str, dict[str, Any]]:
    """The claim's attributes holding a raw body: compressed when that is smaller."""
    packed = zlib.compress(body, 9)
    if len(packed) < len(body):
        return {RAW_BODY_ATTRIBUTE: {"B": packed}, RAW_ENCODING_ATTRIBUTE: {"S": ZLIB}}
    return {RAW_BODY_ATTRIBUTE: {"B": body}}


def decode_raw_body(item: dict[str, Any]) -> bytes | None:
    """The raw body kept in a claim item, or None when the claim holds none."""
    if RAW_BODY_ATTRIBUTE not in item:
        return None
    value = item[RAW_BODY_ATTRIBUTE]["B"]
    body = bytes(value) if not isinstance(value, bytes) else value
    if item.get(RAW_ENCODING_ATTRIBUTE, {}).get("S") == ZLIB:
        return zlib.decompress(body)
    return body


def delivery_partition_key(source: str, event_id: str) -> str:
    return f"{DELIVERY_PARTITION_PREFIX}{source}#{event_id}"


def _utc_now() -> datetime:
    return datetime.now(UTC)


class DeliveryRegistryRaceError(Exception):
    """A claim kept appearing and disappearing while it was being read: give up (the caller answers 503)."""


class DynamoDeliveryRegistry:
    def __init__(
        self,
        *,
        table_name: str,
        client: Any | None = None,
        now: Callable[[], datetime] = _utc_now,
        retention_seconds: int = topology.IDEMPOTENCY_EXPIRY_SECONDS,
        raw_retention_seconds: int = topology.RAW_PAYLOAD_RETENTION_DAYS * 24 * 3600,
    ) -> None:
        self._raw_retention = timedelta(seconds=max(raw_retention_seconds, retention_seconds))
        self._table = table_name
        self._client = LazyClient("dynamodb", client)
        self._now = now
        self._retention = timedelta(seconds=retention_seconds)
        self._pk = topology.LEDGER_TABLE.partition_key
        self._sk = topology.LEDGER_TABLE.sort_key or "sk"
        self._ttl = topology.LEDGER_TABLE.ttl_attribute or "expires_at"

    @property
    def client(self) -> Any:
        return self._client()

    def _key(self, source: str, event_id: str, sort_key: str) -> dict[str, Any]:
        return {self._pk: {"S": delivery_partition_key(source, event_id)}, self._sk: {"S": sort_key}}

    def claim(
        self,
        *,
        source: str,
        event_id: str,
        body_digest: str,
        correlation_id: str,
        raw_key: str,
        raw_body: bytes | None = None,
    ) -> DeliveryClaim:
        from botocore.exceptions import ClientError

        retention = self._retention if raw_body is None else self._raw_retention
        for _ in range(_CLAIM_ATTEMPTS):
            now = self._now()
            item = self._key(source, event_id, CLAIM_SORT_KEY) | {
                "source": {"S": source},
                "event_id": {"S": event_id},
                "body_digest": {"S": body_digest},
                "correlation_id": {"S": correlation_id},
                "raw_key": {"S": raw_key},
                "accepted_at": {"S": now.isoformat()},
                self._ttl: {"N": str(int((now + retention).timestamp()))},
            }
            if raw_body is not None:
                item |= encode_raw_body(raw_body)
            try:
                self.client.put_item(
                    TableName=self._table,
                    Item=item,
                    # A claim past its TTL may linger until DynamoDB deletes it: it no longer counts.
                    ConditionExpression="attribute_not_exists(#pk) OR #ttl < :now",
                    ExpressionAttributeNames={"#pk": self._pk, "#ttl": self._ttl},
                    ExpressionAttributeValues={":now": {"N": str(int(now.timestamp()))}},
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return DeliveryClaim(ClaimOutcome.NEW, correlation_id)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
                existing = error.response.get("Item") or self._read_claim(source, event_id)
            if existing is None:
                continue  # released between our put and our read: claim again
            original_correlation = existing.get("correlation_id", {}).get("S", correlation_id)
            if existing.get("body_digest", {}).get("S") == body_digest:
                return DeliveryClaim(ClaimOutcome.DUPLICATE, original_correlation)
            return DeliveryClaim(ClaimOutcome.CONFLICT, original_correlation)
        raise DeliveryRegistryRaceError(f"could not settle the claim of {source}/{event_id}")

    def _read_claim(self, source: str, event_id: str) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self._table, Key=self._key(source, event_id, CLAIM_SORT_KEY), ConsistentRead=True
        )
        item: dict[str, Any] | None = response.get("Item")
        return item

    def raw_body(self, source: str, event_id: str) -> bytes | None:
        """The raw body kept in the claim of `(source, id)`, if it holds one."""
        item = self._read_claim(source, event_id)
        return None if item is None else decode_raw_body(item)

    def release(self, *, source: str, event_id: str) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.delete_item(
                TableName=self._table,
                Key=self._key(source, event_id, CLAIM_SORT_KEY),
                ConditionExpression="attribute_exists(#pk)",
                ExpressionAttributeNames={"#pk": self._pk},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            # Already gone: releasing is idempotent.

    def record_conflict(
        self, *, source: str, event_id: str, body_digest: str, correlation_id: str, raw_key: str
    ) -> None:
        now = self._now().isoformat()
        record_sighting(
            self.client,
            table=self._table,
            key=self._key(source, event_id, f"{CONFLICT_SORT_KEY_PREFIX}{body_digest}"),
            fields={
                "source": source,
                "event_id": event_id,
                "body_digest": body_digest,
                "correlation_id": correlation_id,
                "raw_key": raw_key,
            },
            lookup=(CONFLICT_LOOKUP_PARTITION, f"{now}#{source}#{event_id}"),
            now=now,
        )


def record_sighting(
    client: Any, *, table: str, key: dict[str, Any], fields: dict[str, str], lookup: tuple[str, str], now: str
) -> None:
    """Record one more sighting of a delivery the webhook did not accept as new (a body that
    conflicts with the claimed one, an event refused by a rule): its text fields set, first and
    last seen, the sightings counted (`attempts`), and one entry on the lookup index
    (`lookup`: partition and sort key, the sort key kept from the first sighting) for the
    operators' listings."""
    keys = topology.LEDGER_LOOKUP_KEYS
    names = {"#gpk": keys.partition_key, "#gsk": keys.sort_key or "gsi1sk"}
    values: dict[str, Any] = {
        ":now": {"S": now},
        ":lookup_pk": {"S": lookup[0]},
        ":lookup_sk": {"S": lookup[1]},
        ":one": {"N": "1"},
    }
    assignments = []
    for index, (name, value) in enumerate(fields.items()):
        names[f"#f{index}"] = name
        values[f":f{index}"] = {"S": value}
        assignments.append(f"#f{index} = :f{index}")
    client.update_item(
        TableName=table,
        Key=key,
        UpdateExpression=(
            f"SET {', '.join(assignments)}, last_seen_at = :now, first_seen_at = if_not_exists(first_seen_at, :now),"
            " #gpk = :lookup_pk, #gsk = if_not_exists(#gsk, :lookup_sk) ADD attempts :one"
        ),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )
