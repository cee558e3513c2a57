"""Schema versions: `dataschema` per event type, contract.approved v1 and v2 side by side."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from billbridge.app.canonical_events import (
    CURRENT_SCHEMA_VERSION,
    SCHEMA_VERSIONS,
    InvalidEventError,
    parse_cloud_event,
    schema_uri,
    upcast_event,
)
from billbridge.app.event_translation import contract_version_from
from billbridge.app.ingest_webhook import IngestWebhook, WebhookRequest
from billbridge.app.webhook_signature import sign
from billbridge.entrypoints.api.webhook_http import http_answer

from tests.fakes.edge import (
    PSA_SECRET,
    FixedClock,
    InMemoryDeliveryRegistry,
    InMemoryEventPublisher,
    InMemoryRawPayloadStore,
    InMemoryWebhookSecrets,
    SequentialIds,
)
from tests.unit.app.test_canonical_events import CONTRACT

V1 = schema_uri("contract.approved", 1)
V2 = schema_uri("contract.approved", 2)


def v2_contract() -> dict[str, Any]:
    data = copy.deepcopy(CONTRACT)
    data["rate_card"] = [
        {**{k: v for k, v in line.items() if k != "rate"}, "rate": {"amount": line["rate"], "currency": "USD"}}
        for line in data["rate_card"]
    ]
    return data


def envelope(data: dict[str, Any], dataschema: str | None, event_id: str = "clm-1") -> dict[str, Any]:
    event = {
        "specversion": "1.0",
        "id": event_id,
        "source": "clm",
        "type": "contract.approved",
        "time": "2026-03-16T09:30:00Z",
        "data": data,
    }
    return event | ({"dataschema": dataschema} if dataschema is not None else {})


def test_every_event_type_has_an_explicit_current_schema() -> None:
    assert set(SCHEMA_VERSIONS) == set(CURRENT_SCHEMA_VERSION)
    assert schema_uri("customer.upserted", 1) == "urn:billbridge:events:customer.upserted:v1"
    assert sorted(SCHEMA_VERSIONS["contract.approved"]) == [1, 2]


@pytest.mark.parametrize("dataschema", [None, V1])
def test_v1_with_or_without_dataschema_is_accepted_unchanged(dataschema: str | None) -> None:
    event = envelope(copy.deepcopy(CONTRACT), dataschema)
    parse_cloud_event(event, expected_source="clm")
    assert upcast_event(event) == event


def test_v2_is_accepted_and_upcast_to_the_same_internal_contract_as_v1() -> None:
    event = envelope(v2_contract(), V2)
    parse_cloud_event(event, expected_source="clm")
    upcast = upcast_event(event)
    assert (upcast["dataschema"], upcast["upcastfrom"]) == (V1, V2)
    assert contract_version_from(upcast["data"]) == contract_version_from(CONTRACT)


def test_v1_shaped_data_under_the_v2_schema_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidEventError) as refused:
        parse_cloud_event(envelope(copy.deepcopy(CONTRACT), V2), expected_source="clm")
    assert refused.value.field == "data.rate_card[0].rate"


def test_v2_line_in_another_currency_is_refused() -> None:
    data = v2_contract()
    data["rate_card"][1]["rate"]["currency"] = "EUR"
    with pytest.raises(InvalidEventError, match=r"rate_card\[1\].rate.currency is EUR but the contract bills in USD"):
        parse_cloud_event(envelope(data, V2), expected_source="clm")


def test_an_unknown_schema_version_is_refused_naming_the_supported_ones() -> None:
    with pytest.raises(InvalidEventError) as refused:
        parse_cloud_event(envelope(copy.deepcopy(CONTRACT), schema_uri("contract.approved", 3)), expected_source="clm")
    assert refused.value.field == "dataschema"
    assert f"supported: {V1}, {V2}" in str(refused.value)


def test_the_edge_answers_400_for_an_unknown_version_and_publishes_v2_upcast() -> None:
    publisher = InMemoryEventPublisher()
    clock = FixedClock()
    edge = IngestWebhook(
        secrets=InMemoryWebhookSecrets({"clm": [PSA_SECRET]}),
        raw_payloads=InMemoryRawPayloadStore(),
        deliveries=InMemoryDeliveryRegistry(),
        publisher=publisher,
        clock=clock,
        ids=SequentialIds(),
    )

    def post(event: dict[str, Any], n: int) -> Any:
        body = json.dumps(event).encode()
        headers = {"Content-Type": "application/cloudevents+json"} | sign(PSA_SECRET, f"msg_{n}", clock.now(), body)
        return http_answer(edge.handle(WebhookRequest(source="clm", headers=headers, body=body)))

    refused = post(envelope(copy.deepcopy(CONTRACT), "urn:billbridge:events:contract.approved:v9"), 1)
    assert refused.status == 400 and refused.body["field"] == "dataschema"
    assert V1 in refused.body["error"] and V2 in refused.body["error"]
    accepted = post(envelope(v2_contract(), V2, "clm-2"), 2)
    assert accepted.status == 202
    (published,) = publisher.published
    assert published.detail["event"]["dataschema"] == V1
    assert published.detail["event"]["data"]["rate_card"][0]["rate"] == CONTRACT["rate_card"][0]["rate"]
