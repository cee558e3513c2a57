from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import pytest_socket
from billbridge import observability
from billbridge.app.ingest_webhook import IngestWebhook
from billbridge.app.webhook_signature import sign
from billbridge.entrypoints.api import webhook

from tests.fakes.edge import (
    CLM_SECRET,
    PSA_SECRET,
    FixedClock,
    InMemoryDeliveryRegistry,
    InMemoryEventPublisher,
    InMemoryRawPayloadStore,
    InMemoryWebhookSecrets,
    SequentialIds,
)

EVENT = {
    "specversion": "1.0",
    "id": "psa-1",
    "source": "psa",
    "type": "time_entry.rejected",
    "time": "2026-03-16T09:30:00Z",
    "data": {"entry_id": "TE-1", "revision": 2},
}


class LambdaContext:
    function_name = "webhook"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:webhook"
    aws_request_id = "req-1"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Billbridge")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "webhook")
    observability.metrics.cache_clear()  # built again under this environment
    pytest_socket.disable_socket(allow_unix_socket=True)
    yield
    pytest_socket.enable_socket()
    observability.metrics.cache_clear()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def publisher() -> InMemoryEventPublisher:
    return InMemoryEventPublisher()


@pytest.fixture
def use_case(clock: FixedClock, publisher: InMemoryEventPublisher) -> IngestWebhook:
    return IngestWebhook(
        secrets=InMemoryWebhookSecrets({"psa": [PSA_SECRET]}),
        raw_payloads=InMemoryRawPayloadStore(),
        deliveries=InMemoryDeliveryRegistry(),
        publisher=publisher,
        clock=clock,
        ids=SequentialIds(),
    )


def proxy_event(
    body: bytes,
    headers: dict[str, str],
    *,
    source: str = "psa",
    base64_body: bool = False,
    method: str = "POST",
) -> dict[str, Any]:
    return {
        "resource": "/webhooks/{source}",
        "path": f"/webhooks/{source}",
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "pathParameters": {"source": source},
        "requestContext": {"requestId": "req-1", "stage": "prod"},
        "body": base64.b64encode(body).decode() if base64_body else body.decode(),
        "isBase64Encoded": base64_body,
    }


def signed_headers(
    clock: FixedClock, body: bytes, content_type: str = "application/cloudevents+json"
) -> dict[str, str]:
    return {"Content-Type": content_type} | {
        k.title(): v for k, v in sign(PSA_SECRET, "msg_1", clock.now(), body).items()
    }


def test_a_signed_event_is_accepted(use_case: IngestWebhook, clock: FixedClock, publisher: Any) -> None:
    body = json.dumps(EVENT).encode()
    response = webhook.handle_api_event(proxy_event(body, signed_headers(clock, body)), LambdaContext(), use_case)
    assert response["statusCode"] == 202
    assert response["headers"]["Content-Type"] == "application/json"
    assert json.loads(response["body"])["correlationid"] == "corr-0001"
    assert len(publisher.published) == 1


def test_a_base64_body_is_decoded_before_the_signature_is_checked(use_case: IngestWebhook, clock: FixedClock) -> None:
    body = json.dumps(EVENT | {"note": "caf\u00e9"}, ensure_ascii=False).encode()
    event = proxy_event(body, signed_headers(clock, body), base64_body=True)
    assert webhook.handle_api_event(event, LambdaContext(), use_case)["statusCode"] == 202


def test_a_contract_in_a_currency_outside_iso_4217_is_400_naming_the_field(
    clock: FixedClock, publisher: InMemoryEventPublisher
) -> None:
    use_case = IngestWebhook(
        secrets=InMemoryWebhookSecrets({"clm": [CLM_SECRET]}),
        raw_payloads=InMemoryRawPayloadStore(),
        deliveries=InMemoryDeliveryRegistry(),
        publisher=publisher,
        clock=clock,
        ids=SequentialIds(),
    )
    contract = {
        "contract_id": "SOW-1",
        "version": 1,
        "effective_date": "2026-03-01",
        "customer_id": "CUST-1",
        "legal_entity": "US01",
        "currency": "XYZ",
        "tax_jurisdiction": "US-NY",
        "start_date": "2026-03-01",
        "end_date": "2026-12-31",
        "rate_card": [{"role": "consultant", "rate": "150.00"}],
    }
    event = {**EVENT, "id": "clm-1", "source": "clm", "type": "contract.approved", "data": contract}
    body = json.dumps(event).encode()
    headers = {"Content-Type": "application/cloudevents+json"} | {
        k.title(): v for k, v in sign(CLM_SECRET, "msg_1", clock.now(), body).items()
    }
    response = webhook.handle_api_event(proxy_event(body, headers, source="clm"), LambdaContext(), use_case)
    assert response["statusCode"] == 400
    error = json.loads(response["body"])
    assert "data.currency" in json.dumps(error)
    assert "XYZ" in json.dumps(error)
    assert publisher.published == []


def test_an_unsigned_event_is_401(use_case: IngestWebhook) -> None:
    body = json.dumps(EVENT).encode()
    response = webhook.handle_api_event(
        proxy_event(body, {"Content-Type": "application/cloudevents+json"}), LambdaContext(), use_case
    )
    assert response["statusCode"] == 401
    assert "missing header" in json.loads(response["body"])["error"]


def test_the_503_carries_retry_after(use_case: IngestWebhook, clock: FixedClock, publisher: Any) -> None:
    publisher.unavailable = True
    body = json.dumps(EVENT).encode()
    response = webhook.handle_api_event(proxy_event(body, signed_headers(clock, body)), LambdaContext(), use_case)
    assert response["statusCode"] == 503
    assert response["headers"]["Retry-After"] == "30"


def test_another_method_is_405(use_case: IngestWebhook) -> None:
    response = webhook.handle_api_event(proxy_event(b"", {}, method="GET"), LambdaContext(), use_case)
    assert response["statusCode"] == 405
    assert response["headers"]["Allow"] == "POST"


def test_the_source_is_read_from_the_path_when_parameters_are_missing(
    use_case: IngestWebhook, clock: FixedClock
) -> None:
    body = json.dumps(EVENT).encode()
    event = proxy_event(body, signed_headers(clock, body)) | {"pathParameters": None}
    assert webhook.handle_api_event(event, LambdaContext(), use_case)["statusCode"] == 202


def test_an_unknown_route_is_404(use_case: IngestWebhook) -> None:
    event = proxy_event(b"{}", {}) | {"pathParameters": None, "path": "/elsewhere"}
    assert webhook.handle_api_event(event, LambdaContext(), use_case)["statusCode"] == 404


def test_an_unknown_source_is_404(use_case: IngestWebhook) -> None:
    response = webhook.handle_api_event(proxy_event(b"{}", {}, source="hubspot"), LambdaContext(), use_case)
    assert response["statusCode"] == 404


def test_invalid_base64_is_400(use_case: IngestWebhook) -> None:
    event = proxy_event(b"", {}) | {"body": "***", "isBase64Encoded": True}
    assert webhook.handle_api_event(event, LambdaContext(), use_case)["statusCode"] == 400


@pytest.mark.parametrize("event", [None, [], {"httpMethod": 5, "pathParameters": "x"}, {"headers": 3}])
def test_an_unreadable_proxy_event_is_a_4xx(use_case: IngestWebhook, event: Any) -> None:
    response = webhook.handle_api_event(event, LambdaContext(), use_case)
    assert 400 <= response["statusCode"] < 500


def test_a_use_case_that_cannot_be_built_is_503(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> IngestWebhook:
        raise RuntimeError("WEBHOOK_SECRETS_ARN is not set")

    monkeypatch.setattr(webhook, "_default_use_case", broken)
    response = webhook.lambda_handler(proxy_event(b"{}", {}), LambdaContext())
    assert response["statusCode"] == 503


def test_metrics_count_accepted_and_rejected_events(
    use_case: IngestWebhook, clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    good = dict(EVENT)
    bad = EVENT | {"id": "psa-2", "type": "nope"}
    body = json.dumps([good, bad]).encode()
    headers = signed_headers(clock, body, "application/cloudevents-batch+json")
    assert webhook.handle_api_event(proxy_event(body, headers), LambdaContext(), use_case)["statusCode"] == 202
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    values = {
        metric["Name"]: record[metric["Name"]]
        for record in emitted
        for directive in record["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
    }
    assert values["WebhooksAccepted"] == [1.0]
    assert values["WebhooksRejected"] == [1.0]
    dimensions = {
        d
        for record in emitted
        for directive in record["_aws"]["CloudWatchMetrics"]
        for ds in directive["Dimensions"]
        for d in ds
    }
    assert "source" not in dimensions and "webhook_source" not in dimensions


def test_the_composition_builds_once_per_settings_without_touching_aws() -> None:
    from billbridge.bootstrap import ingest_webhook, reset
    from billbridge.settings import HubSettings

    settings = HubSettings.from_environment(
        {
            "LEDGER_TABLE_NAME": "ledger",
            "IDEMPOTENCY_TABLE_NAME": "idem",
            "RAW_PAYLOAD_BUCKET_NAME": "raw",
            "EVENT_BUS_NAME": "bus",
            "WEBHOOK_SECRETS_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:webhooks",
            "WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS": "120",
        }
    )
    reset()
    built = ingest_webhook(settings)
    assert isinstance(built, IngestWebhook)
    assert ingest_webhook(settings) is built
    assert ingest_webhook(settings.model_copy(update={"event_bus_name": "other"})) is not built
    reset()
