"""The read API over a hub that replayed published scenarios through the use cases (no AWS)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
import pytest_socket
from billbridge import observability
from billbridge.entrypoints.api.read_api import handle_read_request
from billbridge.reporting.read_queries import ReadQueries

from tests.fakes.read_ledger import ReadableHub
from tests.scenarios.catalog import load_scenario

CALLER = "arn:aws:sts::123456789012:assumed-role/BillbridgeOperator/alex"

ReadCall = Callable[..., tuple[int, dict[str, Any]]]


def proxy_event(path: str, query: dict[str, Any] | None = None, *, caller: str | None = CALLER) -> dict[str, Any]:
    """An API Gateway REST proxy event as IAM authorization delivers it (identity of the signed caller)."""
    params = {k: str(v) for k, v in (query or {}).items() if v is not None}
    identity: dict[str, Any] = {"sourceIp": "10.0.0.1", "userArn": caller, "caller": caller and "AROAEXAMPLE:alex"}
    return {
        "resource": path,
        "path": path,
        "httpMethod": "GET",
        "headers": {"Accept": "application/json"},
        "multiValueHeaders": {"Accept": ["application/json"]},
        "queryStringParameters": params or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in params.items()} or None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "readapi",
            "httpMethod": "GET",
            "identity": identity,
            "path": f"/v1{path}?{urlencode(params)}",
            "requestId": "req-1",
            "resourcePath": path,
            "stage": "v1",
        },
        "body": None,
        "isBase64Encoded": False,
    }


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Billbridge")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "read-api")
    observability.metrics.cache_clear()
    pytest_socket.disable_socket(allow_unix_socket=True)
    yield
    pytest_socket.enable_socket()
    observability.metrics.cache_clear()


@pytest.fixture(scope="module")
def hub() -> ReadableHub:
    scenario, _ = load_scenario("07-customer-master")
    replayed = ReadableHub(scenario.get("config"))
    replayed.run_scenario(scenario)
    return replayed


@pytest.fixture
def read(hub: ReadableHub) -> ReadCall:
    queries = ReadQueries(hub.ledger, hub.clock)

    def call(
        path: str, query: dict[str, Any] | None = None, *, caller: str | None = CALLER
    ) -> tuple[int, dict[str, Any]]:
        response = handle_read_request(proxy_event(path, query, caller=caller), None, queries=queries)
        return int(response["statusCode"]), json.loads(response["body"] or "null")

    return call
