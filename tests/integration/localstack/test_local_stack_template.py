"""The deployed template and the local stack agree: routes, rules, queues, and the billing definition."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from billbridge import topology
from billbridge.localstack import definition
from billbridge.localstack.stack import LocalStack

TASKS = {task.name: task for task in topology.BILLING_TASKS}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return definition.synthesize(definition.find_repo_root())


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v.get("Properties", {}) for k, v in template["Resources"].items() if v["Type"] == kind}


def handler_of(template: dict[str, Any], ref: Any) -> str:
    logical_id = ref["Ref"] if "Ref" in ref else ref["Fn::GetAtt"][0]
    return str(template["Resources"][logical_id]["Properties"]["Handler"])


def test_the_api_serves_the_topology_webhook_route_with_the_webhook_handler(template: dict[str, Any]) -> None:
    resources = of_type(template, "AWS::ApiGateway::Resource")
    paths: dict[str, str] = {}

    def path_of(logical_id: str) -> str:
        if logical_id not in paths:
            parent = resources[logical_id]["ParentId"]
            prefix = path_of(parent["Ref"]) if "Ref" in parent else ""
            paths[logical_id] = f"{prefix}/{resources[logical_id]['PathPart']}"
        return paths[logical_id]

    routes = {
        (path_of(method["ResourceId"]["Ref"]), method["HttpMethod"]): method
        for method in of_type(template, "AWS::ApiGateway::Method").values()
        if method["HttpMethod"] != "OPTIONS"
    }

    assert set(routes) == {(topology.WEBHOOK_ROUTE, "POST")}
    uri = json.dumps(routes[(topology.WEBHOOK_ROUTE, "POST")]["Integration"]["Uri"])
    webhook_functions = [
        logical_id
        for logical_id, props in of_type(template, "AWS::Lambda::Function").items()
        if props.get("Handler") == topology.WEBHOOK_HANDLER
    ]
    assert len(webhook_functions) == 1 and webhook_functions[0] in uri


def test_each_workflow_rule_queue_and_consumer_match_the_topology(template: dict[str, Any]) -> None:
    rules = of_type(template, "AWS::Events::Rule")
    queues = of_type(template, "AWS::SQS::Queue")
    mappings = of_type(template, "AWS::Lambda::EventSourceMapping")

    for workflow in topology.WORKFLOWS:
        (rule,) = [r for r in rules.values() if r.get("EventPattern") == workflow.event_pattern]
        queue_id = rule["Targets"][0]["Arn"]["Fn::GetAtt"][0]
        assert workflow.construct_id in queue_id
        assert queues[queue_id]["RedrivePolicy"]["maxReceiveCount"] == workflow.max_receive_count
        (mapping,) = [m for m in mappings.values() if m["EventSourceArn"]["Fn::GetAtt"][0] == queue_id]
        assert mapping["BatchSize"] == workflow.batch_size
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert handler_of(template, mapping["FunctionName"]) == workflow.handler


def test_the_billing_definition_resolves_to_the_local_task_functions(template: dict[str, Any]) -> None:
    stack = LocalStack(template=template)
    resolved = definition.TemplateResolver(template, stack.names).definition()

    function_arns = set(json.dumps(json.loads(resolved)).split('"'))
    assert {stack.names.function_arn(task) for task in topology.BILLING_TASKS} <= function_arns
    assert "Fn::" not in resolved and "Ref" not in resolved


@pytest.fixture
def billing_stack(template: dict[str, Any]) -> Iterator[tuple[LocalStack, list[dict[str, Any]]]]:
    failures: list[dict[str, Any]] = []
    posted: list[dict[str, Any]] = []

    class ComposeRejectedError(Exception):
        pass

    def select(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {**event, "contracts": [{"contract_id": c} for c in ("SOW-1", "SOW-BAD", "SOW-EMPTY")]}

    def compose(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if event["contract_id"] == "SOW-BAD":
            raise ComposeRejectedError("rate card has no role 'architect'")
        proposal = None if event["contract_id"] == "SOW-EMPTY" else f"P-{event['contract_id']}"
        return {**event, "proposal_id": proposal}

    def post(event: dict[str, Any], context: Any) -> dict[str, Any]:
        posted.append(event)
        return event

    def record(event: dict[str, Any], context: Any) -> dict[str, Any]:
        failures.append(event)
        return {}

    handlers = {
        TASKS["select_contracts"].handler: select,
        TASKS["compose_invoice"].handler: compose,
        TASKS["post_invoice"].handler: post,
        TASKS["record_failure"].handler: record,
    }
    with LocalStack(template=template, handlers=handlers) as stack:
        yield stack, failures
        assert [p["proposal_id"] for p in posted] == ["P-SOW-1"]


def test_the_deployed_definition_runs_locally_and_catches_a_failed_contract(
    billing_stack: tuple[LocalStack, list[dict[str, Any]]],
) -> None:
    stack, failures = billing_stack

    result = stack.start_billing_run({"period": "2026-03", "contract_ids": None, "run_id": "r-1"}, name="r-1")

    assert result["status"] == "SUCCEEDED", result
    assert result["output"] == {"run_id": "r-1", "period": "2026-03", "contract_count": 3}
    (failure,) = failures
    assert (failure["contract_id"], failure["error"]["Error"]) == ("SOW-BAD", "ComposeRejectedError")
