"""EventPublisher on EventBridge: PutEvents in chunks, failed entries retried once.

A PutEvents call takes at most 10 entries and 256 KiB; entries are packed
under both limits. Entries still failing after one retry (and entries of a
call that failed as a whole) are raised together as a PublishError, so the
caller can release exactly those.

Canonical events of one type from one publication (a batch delivery) travel
together: they are packed into one bus entry of at most `PACKED_ENTRY_MAX_BYTES`
(within one 64 KB chunk, EventBridge's and SQS's billing unit), whose detail is
`{"schema_version": 1, "batch": [detail, ...]}` (`docs/spec/events.md`, "Packed
bus entries"). The bus rules route on source and detail-type, so a packed entry
reaches the same queue its events would; the queue consumer unpacks it and
applies each event on its own (`entrypoints.queues.sqs_consumer`). One event
alone, an event larger than the limit, and the hub's own events (which other
systems read) go as one entry each, as before. If a packed entry fails, every
event in it is reported failed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from billbridge import topology
from billbridge.app.ports import OutboundEvent, PublishError

MAX_ENTRIES_PER_CALL = 10
MAX_BYTES_PER_CALL = 256 * 1024
PACKED_ENTRY_MAX_BYTES = 63 * 1024
"""A packed entry stays within one 64 KB chunk, and so does the SQS message the bus makes of it
(the detail plus about 300 bytes of envelope): EventBridge bills events, and SQS requests, per
64 KB chunk, so a larger pack would save nothing."""
PACKABLE_DETAIL_TYPES = frozenset(t for workflow in topology.WORKFLOWS for t in workflow.event_types)


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


_Entry = tuple[list[OutboundEvent], dict[str, Any]]


def _chunks(entries: list[_Entry]) -> Iterator[list[_Entry]]:
    chunk: list[_Entry] = []
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


_PACK_OVERHEAD = len('{"schema_version":1,"":[]}') + len(topology.PACKED_DETAIL_KEY)


def _packable(event: OutboundEvent) -> bool:
    return event.source == topology.INGEST_EVENT_SOURCE and event.detail_type in PACKABLE_DETAIL_TYPES


def pack_events(events: Sequence[OutboundEvent]) -> list[tuple[list[OutboundEvent], str, str, str]]:
    """(events, source, detail type, encoded detail) per bus entry: canonical events of one type
    packed into entries of at most PACKED_ENTRY_MAX_BYTES, in the order of each type's first
    event; every other event alone, where it was."""
    groups: dict[str, list[tuple[OutboundEvent, str]]] = {}
    order: list[tuple[OutboundEvent, str] | str] = []
    for event in events:
        encoded = encode_detail(event.detail)
        if not _packable(event):
            order.append((event, encoded))
        elif event.detail_type in groups:
            groups[event.detail_type].append((event, encoded))
        else:
            groups[event.detail_type] = [(event, encoded)]
            order.append(event.detail_type)
    entries: list[tuple[list[OutboundEvent], str, str, str]] = []
    for position in order:
        if isinstance(position, str):
            entries.extend(_packs(position, groups[position]))
        else:
            event, encoded = position
            entries.append(([event], event.source, event.detail_type, encoded))
    return entries


def _packs(
    detail_type: str, group: list[tuple[OutboundEvent, str]]
) -> Iterator[tuple[list[OutboundEvent], str, str, str]]:
    fixed = 14 + len(topology.INGEST_EVENT_SOURCE) + len(detail_type.encode("utf-8")) + _PACK_OVERHEAD
    members: list[tuple[OutboundEvent, str]] = []
    size = fixed
    for event, encoded in group:
        event_size = len(encoded.encode("utf-8")) + 1
        if members and size + event_size > PACKED_ENTRY_MAX_BYTES:
            yield _pack(detail_type, members)
            members, size = [], fixed
        members.append((event, encoded))
        size += event_size
    if members:
        yield _pack(detail_type, members)


def _pack(detail_type: str, members: list[tuple[OutboundEvent, str]]) -> tuple[list[OutboundEvent], str, str, str]:
    if len(members) == 1:
        event, encoded = members[0]
        return [event], event.source, detail_type, encoded
    joined = ",".join(encoded for _, encoded in members)
    detail = f'{{"schema_version":1,"{topology.PACKED_DETAIL_KEY}":[{joined}]}}'
    return [event for event, _ in members], topology.INGEST_EVENT_SOURCE, detail_type, detail


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

    def _entry(self, source: str, detail_type: str, detail: str) -> dict[str, Any]:
        return {"EventBusName": self._bus, "Source": source, "DetailType": detail_type, "Detail": detail}

    def publish(self, events: Sequence[OutboundEvent]) -> None:
        failed: list[tuple[OutboundEvent, str]] = []
        entries = [
            (members, self._entry(source, detail_type, detail))
            for members, source, detail_type, detail in pack_events(events)
        ]
        for chunk in _chunks(entries):
            still_failing = self._put(chunk)
            if still_failing:
                retried = self._put([(members, entry) for members, entry, _ in still_failing])
                failed.extend((event, reason) for members, _, reason in retried for event in members)
        if failed:
            raise PublishError(failed)

    def _put(self, chunk: list[_Entry]) -> list[tuple[list[OutboundEvent], dict[str, Any], str]]:
        """Send one chunk; return the entries that failed, with the reason."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self.client.put_events(Entries=[entry for _, entry in chunk])
        except (ClientError, BotoCoreError) as error:
            return [(members, entry, f"PutEvents failed: {error}") for members, entry in chunk]
        if not response.get("FailedEntryCount"):
            return []
        failing = []
        for (members, entry), result in zip(chunk, response.get("Entries", []), strict=False):
            if "ErrorCode" in result or "EventId" not in result:
                reason = f"{result.get('ErrorCode', 'Unknown')}: {result.get('ErrorMessage', '')}".rstrip(": ")
                failing.append((members, entry, reason))
        return failing
