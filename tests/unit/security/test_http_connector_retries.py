"""The HTTP connector's contract over a scripted transport: headers, signature, retries, refusals, pacing."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from billbridge.adapters.connectors.connector_credentials import StaticApiKey
from billbridge.adapters.connectors.http_connector import (
    ConnectorEndpoint,
    ConnectorSettings,
    HttpConnector,
    HttpResponse,
    HttpTransportError,
    RetryPolicy,
    TokenBucket,
    UnknownTargetError,
    retry_after_seconds,
)
from billbridge.app.ports import ConnectorCommand, TransientConnectorError
from billbridge.app.webhook_signature import verify_signature

SIGNING_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NOW = 1_773_662_400.0  # 2026-03-16T12:00:00Z


@dataclass
class Call:
    method: str
    url: str
    body: bytes
    headers: dict[str, str]


@dataclass
class ScriptedTransport:
    """Answers from a script; an exception in the script is raised as the transport's failure."""

    script: list[HttpResponse | Exception]
    calls: list[Call] = field(default_factory=list)

    def request(
        self, method: str, url: str, *, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> HttpResponse:
        self.calls.append(Call(method, url, body, dict(headers)))
        answer = self.script.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def ok(body: dict[str, object] | None = None, status: int = 201) -> HttpResponse:
    return HttpResponse(status=status, headers={}, body=json.dumps(body or {"reference": "INV-1"}).encode())


def answer(status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> HttpResponse:
    return HttpResponse(status=status, headers=headers or {}, body=body)


class Sleeps:
    def __init__(self) -> None:
        self.slept: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)


def command(**overrides: object) -> ConnectorCommand:
    values: dict[str, object] = {
        "target": "erp-us",
        "name": "CreateInvoice",
        "idempotency_key": "P-2026-03-SOW-1001-1",
        "payload": {"proposal_id": "P-1", "total": "1250.00"},
        "correlation_id": "corr-1",
    }
    values.update(overrides)
    return ConnectorCommand(**values)  # type: ignore[arg-type]


def connector(transport: ScriptedTransport, sleeps: Sleeps, **kwargs: object) -> HttpConnector:
    endpoint = ConnectorEndpoint(
        target="erp-us",
        base_url="https://erp.example/us/",
        signing_secret=lambda: SIGNING_SECRET,
        credentials=kwargs.pop("credentials", None),  # type: ignore[arg-type]
    )
    return HttpConnector(
        endpoints={"erp-us": endpoint},
        transport=transport,
        wall_clock=lambda: NOW,
        sleep=sleeps,
        jitter=lambda: 1.0,
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_command_is_posted_signed_with_its_idempotency_key_and_correlation_id() -> None:
    transport = ScriptedTransport([ok({"id": "ERP-77"})])
    receipt = connector(transport, Sleeps()).send(command())

    assert (receipt.accepted, receipt.reference) == (True, "ERP-77")
    (call,) = transport.calls
    assert (call.method, call.url) == ("POST", "https://erp.example/us/commands/CreateInvoice")
    assert call.headers["Idempotency-Key"] == "P-2026-03-SOW-1001-1"
    assert call.headers["X-Correlation-Id"] == "corr-1"
    assert json.loads(call.body) == {"proposal_id": "P-1", "total": "1250.00"}
    verified = verify_signature(
        body=call.body,
        headers=call.headers,
        secrets=[SIGNING_SECRET],
        now=datetime.fromtimestamp(NOW, tz=UTC),
    )
    assert verified.webhook_id.startswith("msg_")


def test_retries_keep_the_same_message_id_and_idempotency_key() -> None:
    transport = ScriptedTransport([answer(503), ok()])
    connector(transport, Sleeps()).send(command())
    first, second = transport.calls
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]


def test_5xx_429_and_timeouts_are_retried_with_exponential_backoff() -> None:
    sleeps = Sleeps()
    transport = ScriptedTransport([answer(500), answer(429), HttpTransportError("ReadTimeoutError"), ok()])
    receipt = connector(transport, sleeps, retry=RetryPolicy(max_attempts=4, base_delay=0.5)).send(command())
    assert receipt.accepted
    assert sleeps.slept == [0.5, 1.0, 2.0]


def test_full_jitter_draws_each_delay_below_its_exponential_ceiling() -> None:
    sleeps = Sleeps()
    transport = ScriptedTransport([answer(502), answer(502), ok()])
    jitters = iter([0.25, 0.5])
    c = connector(transport, sleeps, retry=RetryPolicy(base_delay=1.0))
    c.jitter = lambda: next(jitters)
    c.send(command())
    assert sleeps.slept == [0.25, 1.0]


def test_retry_after_is_honoured_when_longer_than_the_backoff() -> None:
    sleeps = Sleeps()
    transport = ScriptedTransport([answer(429, {"Retry-After": "3"}), ok()])
    connector(transport, sleeps).send(command())
    assert sleeps.slept == [3.0]


def test_retry_after_as_an_http_date() -> None:
    assert retry_after_seconds("Mon, 16 Mar 2026 12:00:05 GMT", NOW) == pytest.approx(5.0)
    assert retry_after_seconds("soon", NOW) is None


def test_exhausted_retries_raise_transient_so_the_queue_retries_and_dead_letters() -> None:
    sleeps = Sleeps()
    transport = ScriptedTransport([answer(503)] * 3)
    with pytest.raises(TransientConnectorError, match="HTTP 503 after 3 attempt"):
        connector(transport, sleeps, retry=RetryPolicy(max_attempts=3)).send(command())
    assert len(transport.calls) == 3 and len(sleeps.slept) == 2


def test_a_retry_after_beyond_the_invocations_patience_gives_up_at_once() -> None:
    sleeps = Sleeps()
    transport = ScriptedTransport([answer(429, {"Retry-After": "120"})])
    with pytest.raises(TransientConnectorError):
        connector(transport, sleeps, retry=RetryPolicy(max_total_delay=15)).send(command())
    assert sleeps.slept == []


def test_a_4xx_is_a_refusal_with_the_apis_reason_and_no_retry() -> None:
    body = json.dumps({"error": "invalid_customer", "message": "customer CUST-ACME is blocked"}).encode()
    transport = ScriptedTransport([answer(422, body=body)])
    receipt = connector(transport, Sleeps()).send(command())
    assert not receipt.accepted
    assert receipt.detail == "HTTP 422 invalid_customer: customer CUST-ACME is blocked"
    assert len(transport.calls) == 1


def test_a_401_refreshes_the_credentials_once_then_is_a_refusal() -> None:
    keys = iter(["old-key", "new-key", "newer-key"])
    reads: list[bool] = []

    def key(force: bool) -> str:
        reads.append(force)
        return next(keys)

    api_key = StaticApiKey(header_name="X-Api-Key", key=key)
    transport = ScriptedTransport([answer(401), answer(401)])
    receipt = connector(transport, Sleeps(), credentials=api_key).send(command())
    assert not receipt.accepted and receipt.detail == "HTTP 401"
    assert [c.headers["X-Api-Key"] for c in transport.calls] == ["old-key", "new-key"]
    assert reads == [False, True]


def test_an_unknown_target_is_a_configuration_error() -> None:
    with pytest.raises(UnknownTargetError):
        connector(ScriptedTransport([]), Sleeps()).send(command(target="erp-eu"))


def test_the_token_bucket_spaces_calls_beyond_the_burst() -> None:
    moments = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        moments[0] += seconds

    bucket = TokenBucket(rate=2.0, capacity=2, clock=lambda: moments[0], sleep=sleep)
    for _ in range(4):
        bucket.acquire()
    assert sleeps == [pytest.approx(0.5), pytest.approx(0.5)]


def test_settings_refuse_plain_http_except_on_loopback() -> None:
    with pytest.raises(ValueError, match="https"):
        ConnectorSettings(targets={"psa": {"base_url": "http://psa.example"}}, secrets_arn="arn")  # type: ignore[dict-item]
    settings = ConnectorSettings.from_environment(
        {
            "CONNECTOR_TARGETS": json.dumps({"psa": {"base_url": "http://127.0.0.1:8080", "auth": "none"}}),
            "CONNECTOR_SECRETS_ARN": "arn:aws:secretsmanager:us-east-1:111111111111:secret:c",
        }
    )
    assert settings.targets["psa"].auth == "none"
