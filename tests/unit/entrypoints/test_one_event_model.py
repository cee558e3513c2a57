"""One model per event, edge to use case (docs/decisions/0016-one-event-model.md).

The webhook validates an event once and publishes the validated model's dump; the
queue consumer types the bus event with the same models and hands that typed event
to its use case; the translation to domain values reads the typed fields only.
Where the webhook's models and the consumers' former hand-written reading disagreed,
the contract's rule (docs/spec/events.md) holds on both sides: each is pinned below
by a test named after the rule.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from billbridge import bootstrap, topology
from billbridge.adapters.sqs_dead_letter_sink import SqsDeadLetterSink
from billbridge.app.canonical_events import (
    InvalidEventError,
    TimeEntryApprovedData,
    parse_bus_event_data,
    validate_cloud_event,
)
from billbridge.app.event_translation import IngestedEvent, time_entry_from
from billbridge.domain.model import WorkDay
from billbridge.entrypoints.queues.sqs_consumer import consume_batch

from tests.fakes.edge import (
    PSA_SECRET,
    FixedClock,
    InMemoryDeliveryRegistry,
    InMemoryEventPublisher,
    InMemoryRawPayloadStore,
    InMemoryWebhookSecrets,
    SequentialIds,
)
from tests.unit.app.test_ingest_webhook import Hub
from tests.unit.entrypoints.test_queue_consumer_permanent_faults import LambdaContext, RecordingSqs

SINGLE_DAY_ENTRY: dict[str, Any] = {
    "entry_id": "TE-7",
    "revision": 2,
    "contract_id": "SOW-1001",
    "resource_id": "EMP-3",
    "role": "consultant",
    "billable": True,
    "work_date": "2026-03-16",
    "hours": "7.50",
    "bill_rate": "150.00",
    "psa_internal_flag": [1, 2],
}


def time_entry_event(data: dict[str, Any], event_id: str = "psa-7") -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "psa",
        "type": "time_entry.approved",
        "time": "2026-03-16T09:30:00Z",
        "correlationid": f"corr-{event_id}",
        "data": data,
    }


def bus_record(detail: dict[str, Any], message_id: str = "msg-1") -> dict[str, Any]:
    """The SQS record the actuals queue receives for one bus event (EventBridge's envelope)."""
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": json.dumps({"detail-type": "time_entry.approved", "source": "billbridge.ingest", "detail": detail}),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:actuals",
        "awsRegion": "eu-west-1",
    }


def detail_of(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "correlationid": "corr-bus",
        "delivery": {"source": "psa", "id": "psa-bus"},
        "event": time_entry_event(data, "psa-bus"),
    }


@pytest.fixture
def publisher() -> InMemoryEventPublisher:
    return InMemoryEventPublisher()


@pytest.fixture
def hub(publisher: InMemoryEventPublisher) -> Hub:
    secrets = InMemoryWebhookSecrets({"psa": [PSA_SECRET]})
    return Hub(FixedClock(), secrets, InMemoryRawPayloadStore(), InMemoryDeliveryRegistry(), publisher, SequentialIds())


@pytest.fixture
def dead_letter_queue(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingSqs]:
    sqs = RecordingSqs()
    monkeypatch.setenv(topology.ENV_DEAD_LETTER_QUEUE_URL, "https://sqs.eu-west-1.amazonaws.com/1/actuals-dlq")
    monkeypatch.setenv(topology.ENV_MAX_RECEIVE_COUNT, "5")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Billbridge")
    sink = SqsDeadLetterSink(queue_url="https://sqs.eu-west-1.amazonaws.com/1/actuals-dlq", client=sqs)
    monkeypatch.setattr(bootstrap, "dead_letter_sink", lambda: sink)
    yield sqs


def consume(records: list[dict[str, Any]]) -> tuple[list[IngestedEvent], dict[str, Any]]:
    seen: list[IngestedEvent] = []

    def use_case() -> Callable[[IngestedEvent], object]:
        return seen.append

    response = consume_batch({"Records": records}, LambdaContext(), workflow="actuals", use_case=use_case)
    return seen, response


# --- one model, edge to use case -------------------------------------------------------------------


def test_the_webhook_publishes_the_validated_models_dump(hub: Hub, publisher: InMemoryEventPublisher) -> None:
    assert hub.post(time_entry_event(SINGLE_DAY_ENTRY)).status == 202

    published = publisher.published[0].detail["event"]
    assert published["data"] == {
        "entry_id": "TE-7",
        "revision": 2,
        "contract_id": "SOW-1001",
        "resource_id": "EMP-3",
        "role": "consultant",
        "billable": True,
        "days": [{"date": "2026-03-16", "hours": "7.50"}],
        "bill_rate": "150.00",
    }
    assert published["correlationid"] == "corr-psa-7"
    assert (published["id"], published["source"], published["type"]) == ("psa-7", "psa", "time_entry.approved")


def test_the_consumer_hands_its_use_case_the_event_the_webhook_validated(
    hub: Hub, publisher: InMemoryEventPublisher, dead_letter_queue: RecordingSqs
) -> None:
    hub.post(time_entry_event(SINGLE_DAY_ENTRY))
    validated = validate_cloud_event(time_entry_event(SINGLE_DAY_ENTRY), expected_source="psa").data

    seen, response = consume([bus_record(publisher.published[0].detail)])

    assert response["batchItemFailures"] == [] and dead_letter_queue.sent == []
    (event,) = seen
    assert isinstance(event.data, TimeEntryApprovedData)
    assert event.data == validated
    assert event.correlation_id == "corr-psa-7"
    entry = time_entry_from(event.data, event.provenance)
    assert entry.days == (WorkDay(date=validated.days[0].date, hours=Decimal("7.50")),)


def test_the_bus_form_parses_back_to_the_same_model() -> None:
    validated = validate_cloud_event(time_entry_event(SINGLE_DAY_ENTRY), expected_source="psa")
    assert parse_bus_event_data("time_entry.approved", validated.bus_form()["data"]) == validated.data


# --- where the two rule sets disagreed, the contract's rule holds at the consumer too --------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"billable": "false"}, "data.billable"),
        ({"billable": 1}, "data.billable"),
    ],
    ids=["a-string", "a-number"],
)
def test_billable_is_a_json_boolean_never_a_truthy_value(
    dead_letter_queue: RecordingSqs, change: dict[str, Any], field: str
) -> None:
    """The consumers used to read `bool(data.get("billable", True))`: the string "false" billed."""
    seen, response = consume([bus_record(detail_of(SINGLE_DAY_ENTRY | change))])

    assert seen == [] and response["batchItemFailures"] == []
    (dead,) = dead_letter_queue.sent
    assert dead["MessageAttributes"]["error_type"]["StringValue"] == "InvalidEventError"
    assert field in dead["MessageAttributes"]["error"]["StringValue"]


@pytest.mark.parametrize("missing", ["resource_id", "role", "billable", "revision"])
def test_a_time_entry_names_its_resource_role_billable_and_revision(
    dead_letter_queue: RecordingSqs, missing: str
) -> None:
    """The consumers used to default them (no resource, revision 1, billable): the contract requires them."""
    data = {k: v for k, v in SINGLE_DAY_ENTRY.items() if k != missing}
    seen, _ = consume([bus_record(detail_of(data))])

    assert seen == []
    (dead,) = dead_letter_queue.sent
    assert f"data.{missing}: is required" in dead["MessageAttributes"]["error"]["StringValue"]


def test_hours_are_decimal_strings_never_json_numbers_on_the_bus(dead_letter_queue: RecordingSqs) -> None:
    """The consumers used to take `Decimal(str(8))`; the contract reads decimals from strings only."""
    seen, _ = consume([bus_record(detail_of(SINGLE_DAY_ENTRY | {"hours": 8}))])

    assert seen == []
    (dead,) = dead_letter_queue.sent
    assert "data.hours" in dead["MessageAttributes"]["error"]["StringValue"]


def test_a_bus_event_without_data_is_dead_lettered_with_the_reason_not_dropped(
    dead_letter_queue: RecordingSqs,
) -> None:
    detail = detail_of(SINGLE_DAY_ENTRY)
    del detail["event"]["data"]
    seen, response = consume([bus_record(detail)])

    assert seen == [] and response["batchItemFailures"] == []
    (dead,) = dead_letter_queue.sent
    assert dead["MessageAttributes"]["correlation_id"]["StringValue"] == "corr-bus"
    assert "data" in dead["MessageAttributes"]["error"]["StringValue"]


def test_translation_types_a_plain_mapping_by_the_same_model() -> None:
    """A test's, a benchmark's or a parked event's plain data meets the same rules as a delivery's."""
    with pytest.raises(InvalidEventError, match=r"data\.billable"):
        time_entry_from(SINGLE_DAY_ENTRY | {"billable": "yes"})
    assert time_entry_from(SINGLE_DAY_ENTRY).revision == 2


def test_a_parked_event_is_kept_as_the_models_dump_and_made_again_equal() -> None:
    event = IngestedEvent("time_entry.approved", SINGLE_DAY_ENTRY, "corr-1", "psa", "psa-7")  # type: ignore[arg-type]
    document = event.parkable()
    assert "psa_internal_flag" not in document["data"]  # type: ignore[operator]
    assert IngestedEvent(**document) == event  # type: ignore[arg-type]
