"""The deployed template and the local stack agree: routes, rules, queues, and the billing definition."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from billbridge import topology
from billbridge.local import definition
from billbridge.local.stack import LocalStack

TASKS = {task.name: task for task in topology.BILLING_TASKS}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return definition.synthesize(definition.find_repo_root())


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v.get("Properties", {}) for k, v in template["Resources"].items() if v["Type"] == kind}


def handler_of(template: dict[str, Any], ref: Any) -> str:
    logical_id = ref["Ref"] if "Ref" in ref else ref["Fn::GetAtt"][0]
    return str(template["Resources"][logical_id]["Properties"]["Handler"])


def test_the_apis_serve_the_topology_routes_with_their_handlers(template: dict[str, Any]) -> None:
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

    assert set(routes) == {
        (topology.WEBHOOK_ROUTE, "POST"),
        (topology.VENDOR_WEBHOOK_ROUTE, "POST"),
        *((route, "GET") for route in topology.READ_API_ROUTES),
    }

    def function_of(handler: str) -> str:
        (logical_id,) = [
            logical_id
            for logical_id, props in of_type(template, "AWS::Lambda::Function").items()
            if props.get("Handler") == handler
        ]
        return logical_id

    for route in (topology.WEBHOOK_ROUTE, topology.VENDOR_WEBHOOK_ROUTE):
        assert function_of(topology.WEBHOOK_HANDLER) in json.dumps(routes[(route, "POST")]["Integration"]["Uri"])
    for route in topology.READ_API_ROUTES:
        assert function_of(topology.READ_API_HANDLER) in json.dumps(routes[(route, "GET")]["Integration"]["Uri"])


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


def test_the_local_definition_differs_from_the_deployed_one_only_in_the_children_s_execution_type(
    template: dict[str, Any],
) -> None:
    stack = LocalStack(template=template)
    resolver = definition.TemplateResolver(template, stack.names)
    deployed = resolver.resolve(template_machine_definition(template))
    deployed = json.loads(deployed) if isinstance(deployed, str) else deployed
    local = json.loads(resolver.definition())

    distributed = deployed["States"]["BillBatches"]["ItemProcessor"]["ProcessorConfig"]
    assert distributed == {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}
    local_config = local["States"]["BillBatches"]["ItemProcessor"]["ProcessorConfig"]
    assert local_config == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    local["States"]["BillBatches"]["ItemProcessor"]["ProcessorConfig"] = distributed
    assert local == deployed


def template_machine_definition(template: dict[str, Any]) -> Any:
    (machine,) = of_type(template, "AWS::StepFunctions::StateMachine").values()
    return machine["DefinitionString"]


CONTRACTS = ("SOW-1", "SOW-BAD", "SOW-EMPTY")


@pytest.fixture
def billing_stack(template: dict[str, Any]) -> Iterator[tuple[LocalStack, list[dict[str, Any]], list[str], set[str]]]:
    """The deployed definition with stand-ins for the ledger-facing tasks; SelectContracts
    writes its batches (two contracts each) to the run workspace bucket as the real one does,
    and the real ConcludeBatch and ConcludeRun handlers count the outcomes."""
    failures: list[dict[str, Any]] = []
    posted: list[str] = []
    rejected = {"SOW-BAD"}

    class ComposeRejectedError(Exception):
        pass

    def select(event: dict[str, Any], context: Any) -> dict[str, Any]:
        stack.client("s3").put_object(
            Bucket=stack.names.billing_run_bucket,
            Key="runs/r/a/batches.json",
            Body=json.dumps(
                [{"batch": 0, "contract_ids": list(CONTRACTS[:2])}, {"batch": 1, "contract_ids": list(CONTRACTS[2:])}]
            ),
        )
        return {
            "contract_count": 3,
            "batch_count": 2,
            "bucket": stack.names.billing_run_bucket,
            "items_key": "runs/r/a/batches.json",
            "workspace": "runs/r/a/",
        }

    def compose(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if event["contract_id"] in rejected:
            raise ComposeRejectedError("rate card has no role 'architect'")
        proposal = None if event["contract_id"] == "SOW-EMPTY" else f"P-{event['contract_id']}"
        return {**event, "proposal_id": proposal}

    def post(event: dict[str, Any], context: Any) -> dict[str, Any]:
        posted.append(event["proposal_id"])
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
        yield stack, failures, posted, rejected


def test_the_deployed_definition_runs_locally_and_a_failed_contract_fails_the_run_after_the_others(
    billing_stack: tuple[LocalStack, list[dict[str, Any]], list[str], set[str]],
) -> None:
    stack, failures, posted, _ = billing_stack

    result = stack.start_billing_run({"period": "2026-03", "contract_ids": None, "run_id": "r-1"}, name="r-1")

    assert (result["status"], result["error"]) == ("FAILED", "ContractsFailed"), result
    assert result["cause"] == "1 contract(s) failed and are held as exceptions: SOW-BAD"
    assert posted == ["P-SOW-1"]
    (failure,) = failures
    assert (failure["contract_id"], failure["error"]["Error"]) == ("SOW-BAD", "ComposeRejectedError")


def test_the_deployed_definition_bills_every_batch_and_succeeds_when_no_contract_fails(
    billing_stack: tuple[LocalStack, list[dict[str, Any]], list[str], set[str]],
) -> None:
    stack, failures, posted, rejected = billing_stack
    rejected.clear()

    result = stack.start_billing_run({"period": "2026-03", "contract_ids": None, "run_id": "r-2"}, name="r-2")

    assert result["status"] == "SUCCEEDED", result
    assert result["output"] == {
        "run_id": "r-2",
        "period": "2026-03",
        "contract_count": 3,
        "batch_count": 2,
        "invoiced": 2,
        "nothing_to_invoice": 1,
    }
    assert sorted(posted) == ["P-SOW-1", "P-SOW-BAD"]
    assert failures == []
    events = stack.execution_history(result["executionArn"])
    assert any(e["type"] == "MapRunStarted" for e in events)
    assert not any(
        e["type"] == "TaskStateEntered" and "ComposeInvoice" in json.dumps(e, default=str) for e in events
    ), "the contracts' steps belong to the child executions, not to the run's history"
