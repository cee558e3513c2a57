"""The local HTTP front answers on 127.0.0.1 and runs each delivery through to the consumers."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from billbridge.local.http_server import LocalWebhookServer
from billbridge.local.stack import LocalStack


@pytest.fixture
def server(stack: LocalStack) -> Iterator[LocalWebhookServer]:
    saved: list[int] = []
    running = LocalWebhookServer(stack, "127.0.0.1", 0, after_request=lambda s, status: saved.append(status))
    running.start_in_background()
    yield running
    running.shutdown()
    running.server_close()


def request(server: LocalWebhookServer, method: str, path: str, body: bytes = b"") -> tuple[int, dict, bytes]:
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(str(host), port, timeout=10)
    connection.request(method, path, body=body, headers={"Content-Type": "application/cloudevents+json"})
    response = connection.getresponse()
    result = response.status, dict(response.getheaders()), response.read()
    connection.close()
    return result


def test_a_posted_webhook_is_answered_after_its_consumer_ran(server: LocalWebhookServer, stack: LocalStack) -> None:
    body = json.dumps({"id": "TE-7", "source": "psa", "type": "time_entry.approved", "data": {"hours": 4}})

    status, headers, payload = request(server, "POST", "/webhooks/psa", body.encode())

    assert server.server_address[0] == "127.0.0.1" and server.server_address[1] > 0
    assert (status, json.loads(payload)) == (202, {"accepted": ["TE-7"]})
    assert headers["Content-Type"] == "application/json"
    items = stack.client("dynamodb").scan(TableName=stack.names.ledger_table)["Items"]
    assert [i["pk"]["S"] for i in items] == ["EVENT#TE-7"]
    assert server.requests_handled == 1


def test_unknown_paths_and_methods_are_404(server: LocalWebhookServer) -> None:
    assert request(server, "POST", "/webhooks")[0] == 404
    assert request(server, "POST", "/webhooks/psa/docusign/extra")[0] == 404  # /webhooks/{source}/{vendor} is a route
    assert request(server, "GET", "/webhooks/psa")[0] == 404
    assert request(server, "POST", "/other", b"{}")[0] == 404
    assert server.requests_handled == 0


def test_a_crashing_webhook_handler_is_a_502_and_the_server_keeps_serving(
    server: LocalWebhookServer, stack: LocalStack
) -> None:
    from billbridge import topology

    def crash(event: dict, context: object) -> dict:
        raise RuntimeError("boom")

    stack.resolver.override(topology.WEBHOOK_HANDLER, crash)

    assert request(server, "POST", "/webhooks/clm", b"{}")[0] == 502
    assert request(server, "POST", "/webhooks/clm", b"{}")[0] == 502


def test_local_reset_removes_the_state_file(tmp_path: Path) -> None:
    state = tmp_path / "local-state.json"
    state.write_text("{}")
    env = {**os.environ, "BILLBRIDGE_LOCAL_STATE": str(state)}
    command = [sys.executable, "-m", "billbridge.cli.main", "local", "reset"]

    first = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    second = subprocess.run(command, env=env, capture_output=True, text=True, check=True)

    assert not state.exists()
    assert first.stdout.startswith("removed ") and second.stdout.startswith("no local state at ")
