"""The billing contact is sealed at the webhook edge: the bus, its archive,
the queues and the dead-letter queues never carry it in clear. The contracts
consumer opens it, so a re-delivered version is still the same version."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from billbridge.adapters.field_encryption import KmsFieldEncryption, is_token
from billbridge.app.event_translation import IngestedEvent
from billbridge.app.ingest_webhook import IngestWebhook, WebhookRequest
from billbridge.app.personal_data_in_transit import seal_contract_event
from billbridge.app.sync_contract import SyncContract
from billbridge.app.webhook_signature import sign
from billbridge.domain.model import ExceptionType
from billbridge.entrypoints.api.webhook_http import http_answer
from moto import mock_aws

from tests.fakes.edge import (
    FixedClock,
    InMemoryDeliveryRegistry,
    InMemoryEventPublisher,
    InMemoryRawPayloadStore,
    InMemoryWebhookSecrets,
    SequentialIds,
)
from tests.fakes.hub import RecordingPublisher
from tests.fakes.memory_ledger import InMemoryLedger

SECRET = "whsec_" + "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
EMAIL = "ap@acme.example"


def contract_event(event_id: str) -> dict:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "clm",
        "type": "contract.approved",
        "time": "2026-01-01T09:00:00Z",
        "data": {
            "contract_id": "SOW-1001",
            "version": 1,
            "effective_date": "2026-01-01",
            "customer_id": "CUST-ACME",
            "legal_entity": "US01",
            "currency": "USD",
            "tax_jurisdiction": "US-NY",
            "start_date": "2026-01-01",
            "end_date": "2026-12-31",
            "rate_card": [{"role": "consultant", "rate": "150.00"}],
            "billing_contact": {"name": "AP Team", "email": EMAIL},
        },
    }


@pytest.fixture
def key_id() -> Iterator[str]:
    with mock_aws():
        yield boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["KeyId"]


def deliver(use_case: IngestWebhook, clock: FixedClock, event: dict) -> None:
    body = json.dumps(event).encode()
    headers = sign(SECRET, f"msg-{event['id']}", clock.now(), body) | {"content-type": "application/cloudevents+json"}
    assert http_answer(use_case.handle(WebhookRequest(source="clm", headers=headers, body=body))).status == 202


def test_the_contact_travels_sealed_and_is_opened_only_by_the_contracts_consumer(
    key_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    clock = FixedClock()
    bus = InMemoryEventPublisher()
    webhook = IngestWebhook(
        secrets=InMemoryWebhookSecrets({"clm": [SECRET]}),
        raw_payloads=InMemoryRawPayloadStore(),
        deliveries=InMemoryDeliveryRegistry(),
        publisher=bus,
        clock=clock,
        ids=SequentialIds(),
        personal_data=KmsFieldEncryption(key_id=key_id, decrypt=False),
    )
    deliver(webhook, clock, contract_event("clm-1"))
    deliver(webhook, clock, contract_event("clm-1-resent"))  # the same version again, under another id

    published = [event.detail for event in bus.published]
    assert len(published) == 2
    assert EMAIL not in json.dumps(published)
    contacts = [detail["event"]["data"]["billing_contact"] for detail in published]
    assert all(is_token(c["name"]) and is_token(c["email"]) for c in contacts)
    assert contacts[0] != contacts[1], "each delivery is sealed afresh"

    ledger = InMemoryLedger()
    consumer = SyncContract(ledger, RecordingPublisher(), personal_data=KmsFieldEncryption(key_id=key_id))
    for detail in published:
        consumer.handle(IngestedEvent.from_detail("contract.approved", detail))
    book = ledger.load("SOW-1001").book
    assert book.versions[1].billing_contact is not None
    assert book.versions[1].billing_contact.email == EMAIL
    assert not any(e.type is ExceptionType.VERSION_CONFLICT for e in book.exceptions.values())


def test_without_the_key_nothing_is_sealed(key_id: str) -> None:
    event = contract_event("clm-2")
    assert seal_contract_event(event, None) == event
