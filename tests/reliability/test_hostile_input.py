"""Hostile input at the webhook: requests generated from docs/openapi.yaml by
schemathesis against the local HTTP server on 127.0.0.1, and hypothesis on
headers and bodies against the handler over in-memory ports. Zero 5xx (the
documented 503 is for dependency failures, none occur here), zero forged or
replayed deliveries accepted, oversized bodies refused, rotation honoured."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from billbridge.app.ingest_webhook import IngestWebhook, WebhookRequest
from billbridge.app.webhook_signature import sign
from billbridge.entrypoints.api.webhook_http import http_answer
from billbridge.local.http_server import LocalWebhookServer
from billbridge.topology import MAX_WEBHOOK_BODY_BYTES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes.edge import (
    PSA_NEXT_SECRET,
    PSA_SECRET,
    FixedClock,
    InMemoryDeliveryRegistry,
    InMemoryEventPublisher,
    InMemoryRawPayloadStore,
    InMemoryWebhookSecrets,
    SequentialIds,
)
from tests.reliability.figures import record
from tests.reliability.local_hub import LocalHub, local_hub

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
DOCUMENTED = {200, 202, 400, 401, 404, 409, 413, 415, 429}
RETIRED_SECRET = "whsec_cmV0aXJlZC1zZWNyZXQtbm90LWFjdGl2ZS0xMjM0"
SCHEMA = schemathesis.openapi.from_path(str(OPENAPI))
OPERATION = SCHEMA["/webhooks/{source}"]["POST"]
STATS: dict[str, Counter[str]] = {"http": Counter(), "handler": Counter(), "rotation": Counter()}


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[LocalWebhookServer, LocalHub]]:
    with local_hub(prefix="fuzz") as hub:
        http = LocalWebhookServer(hub.stack, "127.0.0.1", 0)
        http.start_in_background()
        try:
            yield http, hub
        finally:
            http.shutdown()
            http.server_close()


def _post(url: str, headers: dict[str, str], body: bytes) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=OPERATION.as_strategy(), signed=st.booleans())
def test_generated_requests_never_get_a_5xx_and_unsigned_ones_never_get_in(
    server: tuple[LocalWebhookServer, LocalHub], case: Any, signed: bool
) -> None:
    http, hub = server
    source = str(case.path_parameters.get("source", "psa"))
    body = json.dumps(case.body).encode() if case.body is not None else b""
    headers = {str(k): str(v) for k, v in (case.headers or {}).items()}
    headers["Content-Type"] = case.media_type or "application/json"
    if signed and source in hub.secrets:
        headers |= hub.signed(source, body, batch=isinstance(case.body, list))
        headers["Content-Type"] = case.media_type or "application/json"
    status = _post(f"{http.url}/webhooks/{source}", headers, body)
    STATS["http"][f"{'signed' if signed else 'forged'}:{status}"] += 1
    assert status in DOCUMENTED, status
    if not signed:
        assert status in (401, 404, 413, 415), status


def handler(clock: FixedClock) -> IngestWebhook:
    return IngestWebhook(
        secrets=InMemoryWebhookSecrets({"psa": [PSA_SECRET, PSA_NEXT_SECRET]}),
        raw_payloads=InMemoryRawPayloadStore(),
        deliveries=InMemoryDeliveryRegistry(),
        publisher=InMemoryEventPublisher(),
        clock=clock,
        ids=SequentialIds(),
    )


EVENT = {
    "specversion": "1.0",
    "id": "psa-1",
    "source": "psa",
    "type": "expense.approved",
    "time": "2026-03-16T12:00:00Z",
    "data": {
        "expense_id": "EX-1",
        "contract_id": "SOW-1",
        "date": "2026-03-16",
        "category": "travel",
        "amount": "10.00",
        "currency": "USD",
        "billable": True,
    },
}
header_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=80)


@settings(max_examples=400, deadline=None)
@given(
    headers=st.dictionaries(
        st.sampled_from(["webhook-id", "webhook-timestamp", "webhook-signature", "content-type", "x-other"]),
        header_text,
    ),
    body=st.one_of(st.binary(max_size=2048), st.just(json.dumps(EVENT).encode())),
)
def test_forged_headers_and_bodies_are_never_accepted(headers: dict[str, str], body: bytes) -> None:
    response = http_answer(handler(FixedClock()).handle(WebhookRequest(source="psa", headers=headers, body=body)))
    STATS["handler"][f"forged:{response.status}"] += 1
    assert response.status < 500
    assert response.status not in (200, 202)


@settings(max_examples=200, deadline=None)
@given(age=st.integers(min_value=301, max_value=10**8), future=st.booleans(), rotated=st.booleans())
def test_replayed_or_future_timestamps_are_refused_even_when_well_signed(age: int, future: bool, rotated: bool) -> None:
    clock = FixedClock()
    body = json.dumps(EVENT).encode()
    when = clock.now() + timedelta(seconds=age if future else -age)
    headers = sign(PSA_NEXT_SECRET if rotated else PSA_SECRET, "msg_replay", when, body)
    headers["content-type"] = "application/cloudevents+json"
    response = http_answer(handler(clock).handle(WebhookRequest(source="psa", headers=headers, body=body)))
    STATS["handler"][f"replayed:{response.status}"] += 1
    assert response.status == 401


@settings(max_examples=25, deadline=None)
@given(extra=st.integers(min_value=1, max_value=64 * 1024))
def test_oversized_bodies_are_refused_with_413(extra: int) -> None:
    clock = FixedClock()
    body = b"[" + b" " * (MAX_WEBHOOK_BODY_BYTES + extra) + b"]"
    headers = sign(PSA_SECRET, "msg_big", clock.now(), body)
    headers["content-type"] = "application/cloudevents-batch+json"
    response = http_answer(handler(clock).handle(WebhookRequest(source="psa", headers=headers, body=body)))
    STATS["handler"][f"oversized:{response.status}"] += 1
    assert response.status == 413


def test_rotation_accepts_both_active_secrets_and_refuses_a_retired_one() -> None:
    clock = FixedClock()
    use_case = handler(clock)
    statuses = []
    for index, secret in enumerate((PSA_SECRET, PSA_NEXT_SECRET, RETIRED_SECRET)):
        event = {**EVENT, "id": f"psa-rot-{index}"}
        body = json.dumps(event).encode()
        headers = sign(secret, f"msg_rot_{index}", clock.now(), body)
        headers["content-type"] = "application/cloudevents+json"
        statuses.append(http_answer(use_case.handle(WebhookRequest(source="psa", headers=headers, body=body))).status)
    both = json.dumps({**EVENT, "id": "psa-rot-both"}).encode()
    old, new = sign(PSA_SECRET, "msg_both", clock.now(), both), sign(RETIRED_SECRET, "msg_both", clock.now(), both)
    headers = old | {"webhook-signature": new["webhook-signature"] + " " + old["webhook-signature"]}
    headers["content-type"] = "application/cloudevents+json"
    statuses.append(http_answer(use_case.handle(WebhookRequest(source="psa", headers=headers, body=both))).status)
    assert statuses == [202, 202, 401, 202]
    STATS["rotation"]["active_secrets_accepted"] = statuses[:2].count(202)
    STATS["rotation"]["retired_secrets_refused"] = statuses[2:3].count(401)


def test_hostile_input_figures() -> None:
    """Runs last in this module: the counts of what the generators above produced."""
    http, handler_counts = STATS["http"], STATS["handler"]
    assert sum(http.values()) > 0 and sum(handler_counts.values()) > 0
    five_xx = sum(n for k, n in (http + handler_counts).items() if k.split(":")[1].startswith("5"))
    forged_accepted = sum(n for k, n in (http + handler_counts).items() if k in ("forged:200", "forged:202"))
    replay_accepted = sum(n for k, n in handler_counts.items() if k in ("replayed:200", "replayed:202"))
    assert five_xx == forged_accepted == replay_accepted == 0
    assert STATS["rotation"]["active_secrets_accepted"] == 2, "the rotation test ran and both secrets got in"
    record(
        "hostile_input",
        schemathesis_requests=sum(http.values()),
        signed_generated_accepted=http["signed:202"] + http["signed:200"],
        hypothesis_requests=sum(handler_counts.values()),
        responses_5xx=five_xx,
        forged_accepted=forged_accepted,
        replayed_accepted=replay_accepted,
        oversized_refused_413=handler_counts["oversized:413"],
        rotation_active_secrets_accepted=STATS["rotation"]["active_secrets_accepted"],
        rotation_retired_secrets_refused=STATS["rotation"]["retired_secrets_refused"],
    )
