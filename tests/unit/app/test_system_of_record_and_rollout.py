"""System-of-record rules and phased-rollout switches at the webhook edge."""

from __future__ import annotations

import json
from typing import Any

import pytest
from billbridge.app.ingest_webhook import IngestWebhook, WebhookRequest
from billbridge.app.rollout import InvalidRolloutError, Rollout
from billbridge.app.system_of_record import InvalidSystemsOfRecordError, SystemsOfRecord
from billbridge.app.webhook_signature import sign
from billbridge.entrypoints.api.webhook_http import WebhookResponse, http_answer

from tests.fakes.edge import (
    PSA_SECRET,
    FixedClock,
    InMemoryDeliveryRegistry,
    InMemoryEventPublisher,
    InMemoryRawPayloadStore,
    InMemoryRefusalLog,
    InMemoryWebhookSecrets,
    SequentialIds,
)
from tests.unit.app.test_canonical_events import DATA_BY_TYPE


def event(event_type: str, source: str, event_id: str = "evt-1") -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": event_type,
        "time": "2026-03-16T09:30:00Z",
        "data": DATA_BY_TYPE[event_type],
    }


class Edge:
    def __init__(self, *, systems_of_record: SystemsOfRecord | None = None, rollout: Rollout | None = None) -> None:
        self.clock = FixedClock()
        self.publisher = InMemoryEventPublisher()
        self.refusals = InMemoryRefusalLog()
        self.raw_payloads = InMemoryRawPayloadStore()
        secrets = {source: [PSA_SECRET] for source in ("clm", "psa", "erp", "crm")}
        self.use_case = IngestWebhook(
            secrets=InMemoryWebhookSecrets(secrets),
            raw_payloads=self.raw_payloads,
            deliveries=InMemoryDeliveryRegistry(),
            publisher=self.publisher,
            clock=self.clock,
            ids=SequentialIds(),
            systems_of_record=systems_of_record,
            refusals=self.refusals,
            rollout=rollout,
        )
        self.sent = 0

    def post(self, payload: dict[str, Any], source: str) -> WebhookResponse:
        body = json.dumps(payload).encode()
        self.sent += 1
        headers = {"Content-Type": "application/cloudevents+json"} | sign(
            PSA_SECRET, f"msg_{self.sent}", self.clock.now(), body
        )
        return http_answer(self.use_case.handle(WebhookRequest(source=source, headers=headers, body=body)))


def test_customer_master_from_the_default_system_of_record_erp_is_accepted() -> None:
    edge = Edge()
    response = edge.post(event("customer.upserted", "erp"), "erp")
    assert response.status == 202
    assert [e.detail_type for e in edge.publisher.published] == ["customer.upserted"]
    assert edge.refusals.refusals == []


def test_customer_master_from_a_source_that_is_not_its_system_of_record_is_400_naming_the_rule() -> None:
    edge = Edge()
    response = edge.post(event("customer.upserted", "crm"), "crm")
    assert response.status == 400
    assert response.body["field"] == "source"
    assert "customer=erp" in response.body["error"]
    assert edge.publisher.published == []
    assert [(r["source"], r["event_id"], r["rule"]) for r in edge.refusals.refusals] == [
        ("crm", "evt-1", "customer=erp")
    ]
    assert edge.refusals.refusals[0]["raw_key"] in edge.raw_payloads.objects


def test_configuring_crm_as_the_customer_system_of_record_refuses_the_erp() -> None:
    edge = Edge(systems_of_record=SystemsOfRecord.parse('{"customer": "crm"}'))
    assert edge.post(event("legal_entity.upserted", "crm"), "crm").status == 202
    refused = edge.post(event("legal_entity.upserted", "erp", "evt-2"), "erp")
    assert refused.status == 400 and "customer=crm" in refused.body["error"]


@pytest.mark.parametrize(
    ("configured", "message"),
    [
        ('{"customer": "psa"}', "customer cannot be written by 'psa'; possible: erp, crm"),
        ('{"ledger": "erp"}', "unknown domain 'ledger'"),
        ("[1]", "must be a JSON object"),
        ("{", "not JSON"),
    ],
)
def test_malformed_systems_of_record_are_refused_by_name(configured: str, message: str) -> None:
    with pytest.raises(InvalidSystemsOfRecordError, match=message.replace("(", r"\(").replace(")", r"\)")):
        SystemsOfRecord.parse(configured)


def test_a_workflow_switched_off_refuses_its_events_with_400_naming_the_switch() -> None:
    edge = Edge(rollout=Rollout.parse('{"workflows": {"actuals": "off"}}'))
    response = edge.post(event("time_entry.approved", "psa"), "psa")
    assert response.status == 400
    assert "workflow actuals is off" in response.body["error"]
    assert edge.publisher.published == []
    assert edge.refusals.refusals[0]["rule"] == "rollout: workflow actuals is off"
    assert edge.post(event("contract.approved", "clm", "evt-2"), "clm").status == 202


def test_a_source_switched_off_refuses_its_events() -> None:
    edge = Edge(rollout=Rollout.parse('{"sources": {"erp": "off"}}'))
    assert edge.post(event("invoice.posted", "erp"), "erp").status == 400
    assert edge.post(event("contract.approved", "clm", "evt-2"), "clm").status == 202


def test_shadow_events_are_accepted_like_on() -> None:
    edge = Edge(rollout=Rollout.parse('{"workflows": {"actuals": "shadow"}}'))
    assert edge.post(event("time_entry.approved", "psa"), "psa").status == 202


def test_an_events_mode_is_the_stricter_of_its_workflow_and_its_source() -> None:
    rollout = Rollout.parse({"workflows": {"contracts": "shadow"}, "sources": {"clm": "off", "erp": "on"}})
    assert rollout.mode_of_event("contract.approved", "clm") == "off"
    assert rollout.mode_of_event("customer.upserted", "erp") == "shadow"
    assert rollout.mode_of_event("invoice.posted", "erp") == "on"
    assert rollout.document()["workflows"] == {"contracts": "shadow", "actuals": "on", "feedback": "on"}


@pytest.mark.parametrize(
    ("configured", "message"),
    [
        ('{"workflows": {"billing": "on"}}', "unknown workflow 'billing'"),
        ('{"sources": {"psa": "half"}}', "'half' is not one of off, shadow, on"),
        ('{"phases": {}}', 'must be an object with "workflows"'),
    ],
)
def test_malformed_rollout_is_refused_by_name(configured: str, message: str) -> None:
    with pytest.raises(InvalidRolloutError, match=message):
        Rollout.parse(configured)
