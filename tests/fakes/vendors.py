"""In-memory fakes of the vendor seam's ports (cursor store) and the canonical use case on edge fakes."""

from __future__ import annotations

from datetime import datetime

from billbridge.app.ingest_webhook import IngestWebhook
from billbridge.app.system_of_record import SystemsOfRecord
from billbridge.app.vendor_adapters import PollCursor

from tests.fakes.edge import (
    FixedClock,
    InMemoryDeliveryRegistry,
    InMemoryEventPublisher,
    InMemoryRawPayloadStore,
    InMemoryWebhookSecrets,
    SequentialIds,
)


class InMemoryPollCursors:
    def __init__(self) -> None:
        self.cursors: dict[str, PollCursor] = {}
        self.saves = 0

    def load(self, poller: str) -> PollCursor | None:
        return self.cursors.get(poller)

    def save(self, poller: str, cursor: PollCursor, *, polled_at: datetime) -> None:
        current = self.cursors.get(poller)
        if current is None or (cursor.modified, int(cursor.record_id)) >= (current.modified, int(current.record_id)):
            self.cursors[poller] = cursor
            self.saves += 1


class CanonicalHub:
    """IngestWebhook on in-memory fakes, with the fakes exposed for assertions."""

    def __init__(
        self, secrets: dict[str, list[str]] | None = None, systems_of_record: SystemsOfRecord | None = None
    ) -> None:
        self.clock = FixedClock()
        self.secrets = InMemoryWebhookSecrets(secrets)
        self.raw_payloads = InMemoryRawPayloadStore()
        self.deliveries = InMemoryDeliveryRegistry()
        self.publisher = InMemoryEventPublisher()
        self.ingest = IngestWebhook(
            secrets=self.secrets,
            raw_payloads=self.raw_payloads,
            deliveries=self.deliveries,
            publisher=self.publisher,
            clock=self.clock,
            ids=SequentialIds(),
            systems_of_record=systems_of_record,
        )

    def published_types(self) -> list[str]:
        return [e.detail_type for e in self.publisher.published]
