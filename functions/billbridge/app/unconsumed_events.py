"""No event published that nothing reads: a publisher that leaves out the event types no
rule of the deployment consumes (e.g. `EntryRated` when the data feed's `entry.rated`
records are not wanted: one EventBridge event per rated entry, decision 12)."""

from __future__ import annotations

from collections.abc import Sequence

from billbridge.app.ports import EventPublisher, OutboundEvent


class PublisherOfConsumedEvents:
    """Publishes through `publisher` every event but those whose (source, detail type) is in
    `unconsumed`."""

    def __init__(self, publisher: EventPublisher, *, unconsumed: frozenset[tuple[str, str]]) -> None:
        self._publisher = publisher
        self._unconsumed = unconsumed

    def publish(self, events: Sequence[OutboundEvent]) -> None:
        consumed = [e for e in events if (e.source, e.detail_type) not in self._unconsumed]
        if consumed:
            self._publisher.publish(consumed)
