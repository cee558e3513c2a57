"""The read API on `billbridge local serve`: the same routes and handler as on AWS, behind the
server's read token (the local stack has no IAM), over the state a replay left."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from billbridge.cli.main import main
from billbridge.local.http_server import LocalWebhookServer
from billbridge.local.scenario_replay import generate_webhook_secrets
from billbridge.local.stack import LocalStack

from tests.scenarios.catalog import SCENARIO_DIR

TOKEN = "local-read-token-for-tests"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalWebhookServer]:
    folder = tmp_path_factory.mktemp("read-api")
    state = folder / "state.sqlite"
    scenario = SCENARIO_DIR / "07-customer-master.json"
    assert main(["replay", str(scenario), "--report", str(folder / "report.json"), "--state", str(state)]) == 0
    with LocalStack(secrets=generate_webhook_secrets(), state_file=state) as stack:
        running = LocalWebhookServer(stack, "127.0.0.1", 0, read_token=TOKEN)
        running.start_in_background()
        try:
            yield running
        finally:
            running.shutdown()
            running.server_close()


def get(
    server: LocalWebhookServer, path: str, query: dict[str, Any] | None = None, *, token: str | None = TOKEN
) -> tuple[int, dict[str, Any]]:
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(str(host), port, timeout=30)
    target = path + (f"?{urlencode({k: v for k, v in query.items() if v is not None})}" if query else "")
    connection.request("GET", target, headers={"Authorization": f"Bearer {token}"} if token else {})
    response = connection.getresponse()
    status, body = response.status, response.read()
    connection.close()
    return status, json.loads(body or b"null")


@pytest.mark.parametrize("path", ["/contracts", "/invoices/X", "/exceptions", "/lineage/X", "/kpis", "/unbilled"])
def test_a_read_without_the_token_or_with_another_is_401(server: LocalWebhookServer, path: str) -> None:
    assert get(server, path, token=None)[0] == 401
    status, body = get(server, path, token="guessed")
    assert status == 401 and body["field"] == "Authorization"


def test_contracts_page_through_with_the_cursor_over_http(server: LocalWebhookServer) -> None:
    served, cursor = [], None
    while True:
        status, page = get(server, "/contracts", {"limit": 4, "cursor": cursor})
        assert status == 200, page
        served += [item["contract_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert served == sorted(served) and len(served) == len(set(served)) == 6


def test_a_bad_cursor_is_400_naming_it(server: LocalWebhookServer) -> None:
    status, body = get(server, "/invoices", {"cursor": "bm9wZQ"})
    assert (status, body["field"]) == (400, "cursor")


def test_filters_and_details_are_served_from_the_local_ledger(server: LocalWebhookServer) -> None:
    status, invoices = get(server, "/invoices", {"status": "proposed", "limit": 200})
    assert status == 200 and invoices["items"]
    assert {i["status"] for i in invoices["items"]} == {"proposed"}
    first = invoices["items"][0]
    status, invoice = get(server, f"/invoices/{first['proposal_id']}")
    assert status == 200 and invoice["total"] == first["total"] and invoice["lines"]
    status, lineage = get(server, f"/lineage/{first['proposal_id']}")
    assert status == 200 and lineage["proposals"]
    status, contract = get(server, f"/contracts/{first['contract_id']}")
    assert status == 200 and contract["propagation"] and contract["ids"]
    status, exceptions = get(server, "/exceptions", {"type": "unknown_customer"})
    assert status == 200 and {e["type"] for e in exceptions["items"]} == {"unknown_customer"}
    status, kpis = get(server, "/kpis", {"as_of": "2026-04-30"})
    assert status == 200 and kpis["contracts"] == 6
    assert get(server, "/contracts/SOW-NOPE")[0] == 404
    assert get(server, "/invoices", {"status": "sent"})[0] == 422


def test_the_local_token_comes_from_the_flag_the_environment_or_is_new(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    from billbridge.cli.commands.local import READ_TOKEN_ENV_VAR, _read_token

    assert _read_token(argparse.Namespace(read_token="given")) == "given"
    monkeypatch.setenv(READ_TOKEN_ENV_VAR, "from-env")
    assert _read_token(argparse.Namespace(read_token=None)) == "from-env"
    monkeypatch.delenv(READ_TOKEN_ENV_VAR)
    first, second = (_read_token(argparse.Namespace(read_token=None)) for _ in range(2))
    assert first != second and len(first) >= 32


def test_unknown_get_paths_stay_404(server: LocalWebhookServer) -> None:
    assert get(server, "/webhooks/psa")[0] == 404
    assert get(server, "/contracts/a/b")[0] == 404
