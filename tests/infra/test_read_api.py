"""The read API: its own RestApi, every route GET with IAM authorization, least privilege per route,
a throttled stage, and a function that may only read the ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from billbridge import topology

from tests.infra.conftest import Synthesized
from tests.infra.test_api import _path_of, json_values
from tests.infra.test_iam import _role_actions

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
LEDGER_WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}


def _read_api_methods(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    api_id = synthesized.logical_id(synthesized.stack.read_api.api)
    resources = synthesized.resources("AWS::ApiGateway::Resource")
    return {
        _path_of(m["ResourceId"]["Ref"], resources): m
        for m in synthesized.properties("AWS::ApiGateway::Method")
        if m["RestApiId"] == {"Ref": api_id}
    }


def test_every_read_route_is_a_get_with_iam_authorization(synthesized: Synthesized) -> None:
    methods = _read_api_methods(synthesized)
    assert set(methods) == set(topology.READ_API_ROUTES)
    reader_id = synthesized.logical_id(synthesized.stack.read_api_function.function)
    for route, method in methods.items():
        assert method["HttpMethod"] == "GET", route
        assert method["AuthorizationType"] == "AWS_IAM", route
        assert method["Integration"]["Type"] == "AWS_PROXY"
        assert {"Fn::GetAtt": [reader_id, "Arn"]} in method["Integration"]["Uri"]["Fn::Join"][1]


def test_the_published_document_lists_exactly_the_deployed_read_routes(synthesized: Synthesized) -> None:
    document = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    documented = {path for path, item in document["paths"].items() if "get" in item}
    assert documented == set(_read_api_methods(synthesized))


def test_the_read_stage_is_throttled_traced_and_logs_the_caller(synthesized: Synthesized) -> None:
    api_id = synthesized.logical_id(synthesized.stack.read_api.api)
    (stage,) = [s for s in synthesized.properties("AWS::ApiGateway::Stage") if s["RestApiId"] == {"Ref": api_id}]
    assert stage["TracingEnabled"] is True
    (settings,) = stage["MethodSettings"]
    assert 0 < settings["ThrottlingRateLimit"] <= settings["ThrottlingBurstLimit"]
    assert '"caller"' in stage["AccessLogSetting"]["Format"] and '"user"' in stage["AccessLogSetting"]["Format"]


def _invocable_routes(synthesized: Synthesized, role: Any) -> set[str]:
    actions = _role_actions(synthesized, synthesized.logical_id(role))
    routes = set()
    for resource in actions.get("execute-api:Invoke", []):
        text = "".join(str(v) for v in json_values(resource) if isinstance(v, str))
        routes.add(text.split("/GET", 1)[1])
    return routes


def _with_wildcards(routes: tuple[str, ...]) -> set[str]:
    return {"/".join("*" if p.startswith("{") else p for p in route.split("/")) for route in routes}


def test_operators_and_approvers_may_call_every_read_route(synthesized: Synthesized) -> None:
    security = synthesized.stack.security
    for role in (security.operator_role, security.approver_role):
        assert _invocable_routes(synthesized, role) == _with_wildcards(topology.READ_API_ROUTES)


def test_the_read_only_role_may_not_call_the_exceptions_or_the_lineage(synthesized: Synthesized) -> None:
    routes = _invocable_routes(synthesized, synthesized.stack.read_api.read_only_role)
    assert routes == _with_wildcards(topology.READ_API_DASHBOARD_ROUTES)
    assert not any(r.startswith(("/exceptions", "/lineage")) for r in routes)
    actions = _role_actions(synthesized, synthesized.logical_id(synthesized.stack.read_api.read_only_role))
    assert set(actions) == {"execute-api:Invoke"}


def test_the_personal_data_reader_cannot_call_the_read_api(synthesized: Synthesized) -> None:
    assert _invocable_routes(synthesized, synthesized.stack.security.personal_data_reader_role) == set()


def test_the_read_function_only_reads_the_ledger(synthesized: Synthesized) -> None:
    actions = _role_actions(synthesized, synthesized.logical_id(synthesized.stack.read_api_function.role))
    assert "dynamodb:GetItem" in actions and "dynamodb:Query" in actions
    assert not LEDGER_WRITES & set(actions)
    assert not any(
        a.startswith(("s3:", "secretsmanager:", "states:", "events:", "sqs:", "kms:Encrypt")) for a in actions
    )
