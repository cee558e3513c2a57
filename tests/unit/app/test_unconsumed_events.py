"""An event type nothing consumes is not published; every other event is, in order."""

from __future__ import annotations

from collections.abc import Sequence

from billbridge.app.ports import OutboundEvent
from billbridge.app.unconsumed_events import PublisherOfConsumedEvents


class RecordingPublisher:
    def __init__(self) -> None:
        self.calls: list[list[OutboundEvent]] = []

    def publish(self, events: Sequence[OutboundEvent]) -> None:
        self.calls.append(list(events))


def event(source: str, detail_type: str, ref: str) -> OutboundEvent:
    return OutboundEvent(source=source, detail_type=detail_type, detail={"ref": ref}, correlation_id=ref)


def test_entry_rated_is_left_out_and_the_other_events_go_on_in_their_order() -> None:
    bus = RecordingPublisher()
    publisher = PublisherOfConsumedEvents(bus, unconsumed=frozenset({("billbridge.rating", "EntryRated")}))

    publisher.publish(
        [
            event("billbridge.rating", "EntryRated", "TE-1"),
            event("billbridge.operations", "ExceptionRaised", "X-1"),
            event("billbridge.billing", "InvoiceProposed", "P-1"),
        ]
    )

    assert [[e.detail["ref"] for e in call] for call in bus.calls] == [["X-1", "P-1"]]


def test_a_publication_of_only_unconsumed_events_makes_no_call() -> None:
    bus = RecordingPublisher()
    publisher = PublisherOfConsumedEvents(bus, unconsumed=frozenset({("billbridge.rating", "EntryRated")}))

    publisher.publish([event("billbridge.rating", "EntryRated", "TE-1")])

    assert bus.calls == []
