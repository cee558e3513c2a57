"""Driving CoreHub (the use cases over the in-memory ledger) the way the queues would:
some re-deliveries get past the webhook's de-duplication (a standard queue delivers
at least once), so the use cases' own idempotency is exercised too."""

from __future__ import annotations

from typing import Any

from billbridge.app.event_translation import IngestedEvent
from billbridge.app.record_actuals import RecordActuals
from billbridge.app.record_feedback import RecordFeedback
from billbridge.app.sync_contract import SyncContract
from billbridge.topology import ACTUALS_EVENT_TYPES, CONTRACT_EVENT_TYPES

from tests.fakes.hub import CoreHub


def consume(hub: CoreHub, event: dict[str, Any]) -> None:
    """What a queue consumer does with one event, with no de-duplication in front of it."""
    ingested = IngestedEvent(
        event_type=event["type"],
        data=event.get("data") or {},
        correlation_id=event.get("correlationid") or f"corr-{event['source']}-{event['id']}",
        source=event["source"],
        event_id=event["id"],
        subject=event.get("subject"),
    )
    if ingested.event_type in CONTRACT_EVENT_TYPES:
        SyncContract(hub.ledger, hub.publisher, psa=hub.psa, erp=hub.erp).handle(ingested)
    elif ingested.event_type in ACTUALS_EVENT_TYPES:
        RecordActuals(hub.ledger, hub.publisher).handle(ingested)
    else:
        RecordFeedback(hub.ledger, hub.publisher).handle(ingested)


def clean_hub(events: list[dict[str, Any]], config: dict[str, Any], period: str) -> CoreHub:
    hub = CoreHub(config)
    for event in events:
        hub.deliver(event)
    hub.bill(period)
    return hub
