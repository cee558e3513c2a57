"""RawPayloadStore on S3: every signed delivery's body, byte for byte (claim-check).

Key: `webhooks/{source}/{YYYY}/{MM}/{DD}/{webhook-id}/{sha256 of body}`. The
digest keeps a different body sent under a reused webhook id from overwriting
the first one; the same body re-sent lands on the same key (idempotent).

A small single-event delivery is kept in its delivery claim instead (its raw
key is `delivery-claim:{source}/{id}`, `app.ports.inline_raw_key`); `load`
reads such a key from the claims it is given (`DynamoDeliveryRegistry`).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from billbridge.app.ports import claim_of_inline_raw_key

KEY_PREFIX = "webhooks"


def raw_payload_key(*, source: str, delivery_id: str, received_at: datetime, body: bytes) -> str:
    day = received_at.astimezone(UTC)
    digest = hashlib.sha256(body).hexdigest()
    return f"{KEY_PREFIX}/{quote(source, safe='')}/{day:%Y/%m/%d}/{quote(delivery_id, safe='')}/{digest}"


class S3RawPayloadStore:
    def __init__(self, *, bucket_name: str, client: Any | None = None, claims: Any | None = None) -> None:
        self._bucket = bucket_name
        self._client = client
        self._claims = claims
        """Has `raw_body(source, event_id) -> bytes | None`: the bodies kept in delivery claims."""

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("s3")
        return self._client

    def save(self, *, source: str, delivery_id: str, received_at: datetime, body: bytes) -> str:
        key = raw_payload_key(source=source, delivery_id=delivery_id, received_at=received_at, body=body)
        self.client.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=body,
            ContentType="application/octet-stream",
            Metadata={"source": source, "received-at": received_at.astimezone(UTC).isoformat()},
        )
        return key

    def load(self, key: str) -> bytes:
        """The stored body (for replays and investigations)."""
        claim = claim_of_inline_raw_key(key)
        if claim is not None:
            body = None if self._claims is None else self._claims.raw_body(*claim)
            if body is None:
                raise KeyError(f"no raw body kept in the delivery claim {key}")
            return bytes(body)
        response = self.client.get_object(Bucket=self._bucket, Key=key)
        body: bytes = response["Body"].read()
        return body
