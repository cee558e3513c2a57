"""Every Lambda entrypoint wears Powertools' handler decorators, applied on its first
invocation, and importing an entrypoint builds none of them (cold start)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from typing import Any

import pytest
from billbridge import observability, topology


def handler_paths() -> list[str]:
    return [
        topology.WEBHOOK_HANDLER,
        topology.START_BILLING_RUN_HANDLER,
        topology.POLL_VENDOR_HANDLER,
        topology.PUBLISH_KPIS_HANDLER,
        *(w.handler for w in topology.WORKFLOWS),
        *(t.handler for t in topology.BILLING_TASKS),
    ]


class LambdaContext:
    function_name = "entrypoint-test"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:entrypoint-test"
    aws_request_id = "request-1"


@pytest.mark.parametrize("path", handler_paths())
def test_every_handler_is_a_lambda_entrypoint(path: str) -> None:
    module, _, name = path.rpartition(".")
    handler = getattr(importlib.import_module(module), name)
    assert handler.__wrapped__.__name__ == name
    assert handler.__code__ is observability.lambda_entrypoint(lambda event, context: None).__code__


def test_the_decorators_inject_the_context_and_write_the_metrics(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(observability.metrics(), "namespace", "Billbridge")
    observability.metrics().clear_metrics()
    seen: list[dict[str, Any]] = []

    @observability.lambda_entrypoint
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        observability.count("EntrypointTestsRun")
        seen.append(dict(observability.logger().get_current_keys()))
        return {"ok": event["n"]}

    assert handler({"n": 1}, LambdaContext()) == {"ok": 1}
    assert handler({"n": 2}, LambdaContext()) == {"ok": 2}
    assert all(keys["function_request_id"] == "request-1" for keys in seen)
    assert [keys["cold_start"] for keys in seen] in ([True, False], [False, False])
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    assert [doc["EntrypointTestsRun"] for doc in emitted] == [[1.0], [1.0]]


def test_a_call_without_a_context_runs_the_handler_as_is() -> None:
    @observability.lambda_entrypoint
    def handler(event: dict[str, Any], context: Any) -> str:
        return "plain"

    assert handler({}, None) == "plain"


@pytest.mark.parametrize("path", handler_paths())
def test_importing_an_entrypoint_builds_no_powertools_object_nor_the_domain_model(path: str) -> None:
    module = path.rpartition(".")[0]
    code = (
        f"import sys, {module}; "
        "print(','.join(sorted(m for m in ('aws_lambda_powertools.logging.logger', 'aws_xray_sdk', "
        "'billbridge.domain.model', 'boto3', 'pydantic') if m in sys.modules)))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == ""
