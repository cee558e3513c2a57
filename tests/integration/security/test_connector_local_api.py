"""The HTTP connector against a local API and OAuth token endpoint (stdlib server on 127.0.0.1),
with its secrets in Secrets Manager (moto): token caching, 401 refresh, retries, and a client
secret rotated without a failed delivery."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote

import boto3
import pytest
from billbridge.adapters.connectors.connector_credentials import ConnectorSecrets
from billbridge.adapters.connectors.http_connector import ConnectorSettings, HttpConnector, RetryPolicy
from billbridge.app.ports import ConnectorCommand
from billbridge.app.webhook_signature import verify_signature
from moto import mock_aws

SIGNING_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SECRET_NAME = "billbridge/connectors"


@dataclass
class FakeVendor:
    """A PSA-like API: OAuth token endpoint plus `/commands/{name}`; behaviour set per test."""

    client_secrets: set[str] = field(default_factory=lambda: {"secret-v1"})
    token_lifetime: int = 3600
    issued: list[str] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    failures: list[int] = field(default_factory=list)
    commands: list[dict[str, Any]] = field(default_factory=list)
    token_requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def token(self, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.token_requests += 1
            scheme, _, encoded = headers.get("Authorization", "").partition(" ")
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
            form = parse_qs(body.decode())
            if scheme != "Basic" or unquote(secret) not in self.client_secrets or client_id != "billbridge":
                return 401, {"error": "invalid_client"}
            if form.get("grant_type") != ["client_credentials"] or form.get("scope") != ["projects.write"]:
                return 400, {"error": "invalid_request"}
            token = f"token-{len(self.issued) + 1}"
            self.issued.append(token)
            return 200, {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime}

    def command(self, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        with self.lock:
            bearer = headers.get("Authorization", "").removeprefix("Bearer ")
            if bearer not in self.issued or bearer in self.revoked:
                return 401, {"error": "invalid_token"}
            verify_signature(
                body=body,
                headers={k: v for k, v in headers.items()},
                secrets=[SIGNING_SECRET],
                now=datetime.now(UTC),
            )
            if self.failures:
                return self.failures.pop(0), {"error": "busy"}
            self.commands.append(
                {
                    "path": path,
                    "key": headers["Idempotency-Key"],
                    "correlation": headers["X-Correlation-Id"],
                    "payload": json.loads(body),
                }
            )
            return 201, {"reference": f"PRJ-{len(self.commands)}"}


@pytest.fixture
def vendor() -> Iterator[tuple[FakeVendor, str]]:
    state = FakeVendor()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path == "/oauth/token":
                status, document = state.token(self.headers, body)
            else:
                status, document = state.command(self.path, self.headers, body)
            payload = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            if status == 503:
                self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def secrets_manager(fake_aws_credentials: None) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("secretsmanager")
        client.create_secret(
            Name=SECRET_NAME,
            SecretString=json.dumps({"psa": {"signing_secret": SIGNING_SECRET, "client_secret": "secret-v1"}}),
        )
        yield client


def build_connector(base: str, client: Any, max_age: int = 300) -> HttpConnector:
    settings = ConnectorSettings(
        targets={
            "psa": {  # type: ignore[dict-item]
                "base_url": f"{base}/api",
                "auth": "oauth2",
                "token_url": f"{base}/oauth/token",
                "client_id": "billbridge",
                "scopes": ["projects.write"],
            }
        },
        secrets_arn=SECRET_NAME,
    )
    secrets = ConnectorSecrets(secret_id=SECRET_NAME, max_age_seconds=max_age, client=client)
    return HttpConnector.from_settings(
        settings, secrets=secrets, retry=RetryPolicy(base_delay=0.01, max_delay=0.05), jitter=lambda: 1.0
    )


def upsert(n: int) -> ConnectorCommand:
    return ConnectorCommand(
        target="psa",
        name="UpsertProject",
        idempotency_key=f"SOW-1001-v{n}",
        payload={"contract_id": "SOW-1001", "contract_version": n},
        correlation_id=f"corr-{n}",
    )


def test_commands_reach_the_api_signed_with_one_cached_token(
    vendor: tuple[FakeVendor, str], secrets_manager: Any
) -> None:
    state, base = vendor
    connector = build_connector(base, secrets_manager)
    receipts = [connector.send(upsert(n)) for n in (1, 2, 3)]
    assert [r.reference for r in receipts] == ["PRJ-1", "PRJ-2", "PRJ-3"]
    assert state.token_requests == 1
    assert [c["path"] for c in state.commands] == ["/api/commands/UpsertProject"] * 3
    assert [c["key"] for c in state.commands] == ["SOW-1001-v1", "SOW-1001-v2", "SOW-1001-v3"]
    assert state.commands[0]["correlation"] == "corr-1"


def test_a_token_close_to_expiry_is_refreshed_before_use(vendor: tuple[FakeVendor, str], secrets_manager: Any) -> None:
    state, base = vendor
    state.token_lifetime = 30  # inside the 60 s refresh margin: every call needs a new token
    connector = build_connector(base, secrets_manager)
    connector.send(upsert(1))
    connector.send(upsert(2))
    assert state.token_requests == 2


def test_a_revoked_token_is_replaced_once_and_the_command_delivered(
    vendor: tuple[FakeVendor, str], secrets_manager: Any
) -> None:
    state, base = vendor
    connector = build_connector(base, secrets_manager)
    connector.send(upsert(1))
    state.revoked.add("token-1")
    assert connector.send(upsert(2)).accepted
    assert state.issued == ["token-1", "token-2"]


def test_a_busy_api_is_retried_until_it_accepts(vendor: tuple[FakeVendor, str], secrets_manager: Any) -> None:
    state, base = vendor
    state.failures = [503, 429]
    assert build_connector(base, secrets_manager).send(upsert(1)).reference == "PRJ-1"


def test_a_rotated_client_secret_is_picked_up_without_a_failed_delivery(
    vendor: tuple[FakeVendor, str], secrets_manager: Any
) -> None:
    """Rotation: the vendor issues secret-v2 (both valid), the hub's secret is updated, the old
    one is revoked at the vendor. The hub's copy of the secret is still cached (max_age 300 s)
    when its token must be renewed: the token endpoint refuses v1, the connector re-reads the
    secret past the cache and gets a token with v2. No command fails on the way."""
    state, base = vendor
    connector = build_connector(base, secrets_manager, max_age=300)
    assert connector.send(upsert(1)).accepted

    state.client_secrets.add("secret-v2")
    secrets_manager.put_secret_value(
        SecretId=SECRET_NAME,
        SecretString=json.dumps({"psa": {"signing_secret": SIGNING_SECRET, "client_secret": "secret-v2"}}),
    )
    assert connector.send(upsert(2)).accepted  # the cached token still works

    state.client_secrets.discard("secret-v1")
    state.revoked.add("token-1")  # the vendor also ends the sessions of the old secret
    assert connector.send(upsert(3)).accepted
    assert [c["key"] for c in state.commands] == ["SOW-1001-v1", "SOW-1001-v2", "SOW-1001-v3"]
    assert state.issued == ["token-1", "token-2"]
