"""Driving CoreHub (the use cases over the in-memory ledger) the way the queues would:
some re-deliveries get past the webhook's de-duplication (a standard queue delivers
at least once), so the use cases' own idempotency is exercised too."""

from __future__ import annotations

from typing import Any

from tests.fakes.hub import CoreHub


def consume(hub: CoreHub, event: dict[str, Any]) -> None:
    """What a queue consumer does with one event, with no de-duplication in front of it."""
    hub.consume(event)


def clean_hub(events: list[dict[str, Any]], config: dict[str, Any], period: str) -> CoreHub:
    hub = CoreHub(config)
    for event in events:
        hub.deliver(event)
    hub.bill(period)
    return hub
