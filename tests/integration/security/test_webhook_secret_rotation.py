"""Rotating a sender's webhook secret with no failed delivery: IngestWebhook with the Secrets
Manager adapter under moto, the secret's value changed between deliveries.

The procedure (docs/security.md): add the new secret next to the old one; wait until every
receiver has seen it (the adapter caches the value for `max_age_seconds`); let the vendor sign
with the new secret; remove the old one; after another `max_age_seconds` it is refused."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from billbridge.adapters.secrets_manager_webhook_secrets import SecretsManagerWebhookSecrets
from billbridge.app.ingest_webhook import IngestWebhook, WebhookRequest
from billbridge.app.webhook_signature import sign
from billbridge.entrypoints.api.webhook_http import http_answer
from moto import mock_aws

from tests.fakes.edge import (
    PSA_NEXT_SECRET,
    PSA_SECRET,
    FixedClock,
    InMemoryDeliveryRegistry,
    InMemoryEventPublisher,
    InMemoryRawPayloadStore,
    SequentialIds,
)

SECRET_NAME = "billbridge/webhook-secrets"


@pytest.fixture
def secretsmanager(fake_aws_credentials: None) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("secretsmanager")
        client.create_secret(Name=SECRET_NAME, SecretString=json.dumps({"psa": [PSA_SECRET]}))
        yield client


def set_secrets(client: Any, secrets: list[str]) -> None:
    client.put_secret_value(SecretId=SECRET_NAME, SecretString=json.dumps({"psa": secrets}))


def receiver(client: Any, max_age: int) -> IngestWebhook:
    return IngestWebhook(
        secrets=SecretsManagerWebhookSecrets(secret_id=SECRET_NAME, max_age_seconds=max_age, client=client),
        raw_payloads=InMemoryRawPayloadStore(),
        deliveries=InMemoryDeliveryRegistry(),
        publisher=InMemoryEventPublisher(),
        clock=FixedClock(),
        ids=SequentialIds(),
    )


def delivery(secret: str, n: int, clock: FixedClock | None = None) -> WebhookRequest:
    now = (clock or FixedClock()).now()
    event = {
        "specversion": "1.0",
        "id": f"evt-{n}",
        "source": "psa",
        "type": "time_entry.rejected",
        "time": now.isoformat(),
        "data": {"entry_id": f"TE-{n}", "revision": 1},
    }
    body = json.dumps(event).encode()
    headers = sign(secret, f"msg-{n}", now, body) | {"content-type": "application/cloudevents+json"}
    return WebhookRequest(source="psa", headers=headers, body=body)


def test_two_live_secrets_then_the_old_one_retired_without_a_refused_delivery(secretsmanager: Any) -> None:
    hub = receiver(secretsmanager, max_age=0)  # no cache: each change is seen at once
    statuses = [http_answer(hub.handle(delivery(PSA_SECRET, 1))).status]

    set_secrets(secretsmanager, [PSA_SECRET, PSA_NEXT_SECRET])  # 1. add the new secret
    statuses.append(http_answer(hub.handle(delivery(PSA_SECRET, 2))).status)  # the vendor has not switched yet
    statuses.append(http_answer(hub.handle(delivery(PSA_NEXT_SECRET, 3))).status)  # 2. the vendor switches
    set_secrets(secretsmanager, [PSA_NEXT_SECRET])  # 3. retire the old secret
    statuses.append(http_answer(hub.handle(delivery(PSA_NEXT_SECRET, 4))).status)
    assert statuses == [202, 202, 202, 202]

    assert http_answer(hub.handle(delivery(PSA_SECRET, 5))).status == 401  # the old secret is dead


def test_the_cache_keeps_the_previous_value_for_max_age(secretsmanager: Any) -> None:
    """Why step 1 must precede the vendor's switch by at least max_age: until the cached value
    expires, a warm receiver still knows only the old secret (and, after step 3, still accepts it)."""
    hub = receiver(secretsmanager, max_age=1)
    assert http_answer(hub.handle(delivery(PSA_SECRET, 1))).status == 202  # caches [old]

    set_secrets(secretsmanager, [PSA_NEXT_SECRET])
    assert http_answer(hub.handle(delivery(PSA_SECRET, 2))).status == 202  # cached: the old one still passes
    assert http_answer(hub.handle(delivery(PSA_NEXT_SECRET, 3))).status == 401  # ...and the new one not yet

    time.sleep(1.1)
    assert http_answer(hub.handle(delivery(PSA_NEXT_SECRET, 4))).status == 202
    assert http_answer(hub.handle(delivery(PSA_SECRET, 5))).status == 401


def test_a_vendor_may_sign_with_both_secrets_during_its_switch(secretsmanager: Any) -> None:
    hub = receiver(secretsmanager, max_age=0)
    request = delivery(PSA_NEXT_SECRET, 1)
    old_signature = delivery(PSA_SECRET, 1).headers["webhook-signature"]
    both = dict(request.headers) | {"webhook-signature": f"{request.headers['webhook-signature']} {old_signature}"}
    assert http_answer(hub.handle(WebhookRequest(source="psa", headers=both, body=request.body))).status == 202
