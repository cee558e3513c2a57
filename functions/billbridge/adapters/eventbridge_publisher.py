"""EventPublisher on EventBridge: PutEvents in chunks, failed entries retried once.

A PutEvents call takes at most 10 entries and 256 KiB; entries are packed
under both limits. Entries still failing after one retry (and entries of a
call that failed as a whole) are raised together as a PublishError, so the
caller can release exactly those.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from billbridge.app.ports import OutboundEvent, PublishError

MAX_ENTRIES_PER_CALL = 10
MAX_BYTES_PER_CALL = 256 * 1024


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)  # money travels as decimal strings, as in the webhook contract
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode_detail(detail: dict[str, Any]) -> str:
    return json.dumps(detail, default=_json_default, separators=(",", ":"), ensure_ascii=False)


def _entry_size(entry: dict[str, Any]) -> int:
    # As EventBridge counts it: source, detail-type, detail (UTF-8) and a fixed 14 bytes for the time.
    return 14 + sum(len(str(entry[k]).encode("utf-8")) for k in ("Source", "DetailType", "Detail"))


def _chunks(
    entries: list[tuple[OutboundEvent, dict[str, Any]]],
) -> Iterator[list[tuple[OutboundEvent, dict[str, Any]]]]:
    chunk: list[tuple[OutboundEvent, dict[str, Any]]] = []
    size = 0
    for item in entries:
        entry_size = _entry_size(item[1])
        if chunk and (len(chunk) == MAX_ENTRIES_PER_CALL or size + entry_size > MAX_BYTES_PER_CALL):
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += entry_size
    if chunk:
        yield chunk


class EventBridgeEventPublisher:
    def __init__(self, *, event_bus_name: str, client: Any | None = None) -> None:
        self._bus = event_bus_name
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("events")
        return self._client

    def _entry(self, event: OutboundEvent) -> dict[str, Any]:
        return {
            "EventBusName": self._bus,
            "Source": event.source,
            "DetailType": event.detail_type,
            "Detail": encode_detail(event.detail),
        }

    def publish(self, events: Sequence[OutboundEvent]) -> None:
        failed: list[tuple[OutboundEvent, str]] = []
        entries = [(event, self._entry(event)) for event in events]
        for chunk in _chunks(entries):
            still_failing = self._put(chunk)
            if still_failing:
                retried = self._put([(event, entry) for event, entry, _ in still_failing])
                failed.extend((event, reason) for event, _, reason in retried)
        if failed:
            raise PublishError(failed)

    def _put(
        self, chunk: list[tuple[OutboundEvent, dict[str, Any]]]
    ) -> list[tuple[OutboundEvent, dict[str, Any], str]]:
        """Send one chunk; return the entries that failed, with the reason."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self.client.put_events(Entries=[entry for _, entry in chunk])
        except (ClientError, BotoCoreError) as error:
            return [(event, entry, f"PutEvents failed: {error}") for event, entry in chunk]
        if not response.get("FailedEntryCount"):
            return []
        failing = []
        for (event, entry), result in zip(chunk, response.get("Entries", []), strict=False):
            if "ErrorCode" in result or "EventId" not in result:
                reason = f"{result.get('ErrorCode', 'Unknown')}: {result.get('ErrorMessage', '')}".rstrip(": ")
                failing.append((event, entry, reason))
        return failing
