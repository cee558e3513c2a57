"""The billing run definition, parsed from the template with its tokens in place."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from billbridge import topology

from infra.constructs.billing_workflow import MAP_RESULTS_PREFIX, RETRYABLE_ERRORS
from tests.infra.conftest import Synthesized


def _definition(synthesized: Synthesized) -> dict[str, Any]:
    (machine,) = synthesized.properties("AWS::StepFunctions::StateMachine")
    parts = machine["DefinitionString"]["Fn::Join"][1]
    text = "".join(part if isinstance(part, str) else json.dumps(part).replace('"', "'") for part in parts)
    return json.loads(text)  # type: ignore[no-any-return]


def _states(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        yield name, state
        if state["Type"] == "Map":
            yield from _states(state["ItemProcessor"]["States"])


def _ref(token: str) -> str:
    return str(json.loads(token.replace("'", '"'))["Ref"])


@pytest.fixture(scope="module")
def definition(synthesized: Synthesized) -> dict[str, Any]:
    return _definition(synthesized)


@pytest.fixture(scope="module")
def states(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(_states(definition["States"]))


@pytest.fixture(scope="module")
def workspace_id(synthesized: Synthesized) -> str:
    return synthesized.logical_id(synthesized.stack.billing.workspace)


def test_standard_machine_with_tracing_and_error_logging_without_execution_data(synthesized: Synthesized) -> None:
    (machine,) = synthesized.properties("AWS::StepFunctions::StateMachine")
    assert machine["StateMachineType"] == "STANDARD"
    assert machine["TracingConfiguration"] == {"Enabled": True}
    assert machine["LoggingConfiguration"]["Level"] == "ERROR"
    assert machine["LoggingConfiguration"]["IncludeExecutionData"] is False
    assert machine["LoggingConfiguration"]["Destinations"]


def test_definition_is_jsonpath_only_and_has_no_item_batcher(
    definition: dict[str, Any], states: dict[str, dict[str, Any]]
) -> None:
    assert definition.get("QueryLanguage", "JSONPath") == "JSONPath"
    assert all(state.get("QueryLanguage", "JSONPath") == "JSONPath" for state in states.values())
    assert all("ItemBatcher" not in state for state in states.values()), (
        "the local stack's interpreter cannot parse ItemBatcher: SelectContracts writes the batches"
    )


def test_express_children_use_no_integration_pattern_express_lacks(states: dict[str, dict[str, Any]]) -> None:
    """Express executions support neither `.sync` nor `.waitForTaskToken`: a child's tasks are
    request-response Lambda invokes only."""
    child_states = dict(_states(states["BillBatches"]["ItemProcessor"]["States"]))
    resources = [state["Resource"] for state in child_states.values() if state["Type"] == "Task"]
    assert resources
    assert not [r for r in map(str, resources) if ".sync" in r or ".waitForTaskToken" in r]


def test_run_plans_then_bills_batches_then_concludes(
    definition: dict[str, Any], states: dict[str, dict[str, Any]]
) -> None:
    assert definition["StartAt"] == "SelectContracts"
    assert states["SelectContracts"]["ResultPath"] == "$.plan"
    assert states["SelectContracts"]["Next"] == "BillBatches"
    assert states["BillBatches"]["Next"] == "ConcludeRun"
    assert states["ConcludeRun"]["ResultPath"] == "$.summary"
    assert states["ConcludeRun"]["Next"] == "RunComplete"


def test_batches_are_child_executions_read_from_the_workspace_and_any_child_failure_fails_the_map(
    states: dict[str, dict[str, Any]], workspace_id: str
) -> None:
    bill = states["BillBatches"]
    assert bill["Type"] == "Map"
    assert bill["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}
    reader = bill["ItemReader"]
    assert reader["Resource"].endswith(":states:::s3:getObject")
    assert reader["ReaderConfig"] == {"InputType": "JSON"}
    assert _ref(reader["Parameters"]["Bucket"]) == workspace_id
    assert reader["Parameters"]["Key.$"] == "$.plan.items_key"
    assert "ItemsPath" not in bill and "Items" not in bill, "the contract ids never enter the state"
    assert bill["ItemSelector"] == {
        "period.$": "$.period",
        "run_id.$": "$.run_id",
        "workspace.$": "$.plan.workspace",
        "batch.$": "$$.Map.Item.Value",
    }
    assert bill["MaxConcurrency"] == topology.BILLING_MAP_MAX_CONCURRENCY
    assert bill["ToleratedFailureCount"] == 0
    assert "ToleratedFailurePercentage" not in bill
    writer = bill["ResultWriter"]
    assert writer["Resource"].endswith(":states:::s3:putObject")
    assert (_ref(writer["Parameters"]["Bucket"]), writer["Parameters"]["Prefix"]) == (workspace_id, MAP_RESULTS_PREFIX)
    assert bill["ResultPath"] is None, "the children's results stay out of the run's state"


def test_a_child_bills_its_batch_contract_by_contract_then_concludes_the_batch(
    states: dict[str, dict[str, Any]],
) -> None:
    child = states["BillBatches"]["ItemProcessor"]
    assert child["StartAt"] == "ForEachContract"
    each = states["ForEachContract"]
    assert each["ItemsPath"] == "$.batch.contract_ids"
    assert each["ItemSelector"] == {
        "contract_id.$": "$$.Map.Item.Value",
        "period.$": "$.period",
        "run_id.$": "$.run_id",
    }
    assert each["MaxConcurrency"] == topology.BILLING_BATCH_MAX_CONCURRENCY
    assert each["ResultPath"] == "$.outcomes"
    assert each["Next"] == "ConcludeBatch"
    assert states["ConcludeBatch"].get("End") is True


def test_per_contract_compose_then_post_only_with_a_proposal_each_path_yielding_an_outcome(
    states: dict[str, dict[str, Any]],
) -> None:
    assert states["ForEachContract"]["ItemProcessor"]["StartAt"] == "ComposeInvoice"
    assert states["ComposeInvoice"]["Next"] == "HasProposal"
    choice = states["HasProposal"]
    (rule,) = choice["Choices"]
    assert rule["And"] == [
        {"Variable": "$.proposal_id", "IsPresent": True},
        {"Variable": "$.proposal_id", "IsNull": False},
    ]
    assert rule["Next"] == "PostInvoice"
    outcomes = {
        "Invoiced": "invoiced",
        "NothingToInvoice": "nothing_to_invoice",
        "ContractFailed": "failed",
    }
    assert states["PostInvoice"]["Next"] == "Invoiced"
    assert choice["Default"] == "NothingToInvoice"
    assert states["RecordFailure"]["Next"] == "ContractFailed"
    for name, outcome in outcomes.items():
        state = states[name]
        assert (state["Type"], state.get("End")) == ("Pass", True), name
        assert state["Parameters"]["contract_id.$"] == "$.contract_id", name
        assert state["Parameters"]["outcome"] == outcome, name


def test_every_task_invokes_a_function_arn_directly_and_retries_transient_errors(
    synthesized: Synthesized, states: dict[str, dict[str, Any]]
) -> None:
    tasks = {name: state for name, state in states.items() if state["Type"] == "Task"}
    task_function_ids = {
        synthesized.logical_id(task.function) for task in synthesized.stack.billing.task_functions.values()
    }
    assert {
        "SelectContracts",
        "ComposeInvoice",
        "PostInvoice",
        "RecordFailure",
        "ConcludeBatch",
        "ConcludeRun",
        "RecordRunFailure",
    } == set(tasks)
    for name, task in tasks.items():
        resource = json.loads(task["Resource"].replace("'", '"'))
        assert resource["Fn::GetAtt"][0] in task_function_ids, name
        assert task["Retry"] == [
            {"ErrorEquals": list(RETRYABLE_ERRORS), "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2}
        ], name


def test_a_contract_failure_is_recorded_and_does_not_stop_the_other_contracts(
    states: dict[str, dict[str, Any]],
) -> None:
    for name in ("ComposeInvoice", "PostInvoice"):
        assert states[name]["Catch"] == [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "RecordFailure"}
        ], name
    assert states["RecordFailure"]["ResultPath"] is None
    assert states["ContractFailed"]["Parameters"]["error.$"] == "$.error.Error"


def test_the_run_fails_unless_its_summary_is_complete(states: dict[str, dict[str, Any]]) -> None:
    complete = states["RunComplete"]
    (rule,) = complete["Choices"]
    assert rule == {"Variable": "$.summary.complete", "BooleanEquals": True, "Next": "Summarize"}
    failed = states[complete["Default"]]
    assert failed == {"Type": "Fail", "Error": "ContractsFailed", "CausePath": "$.summary.cause"}
    assert states["Summarize"]["Type"] == "Pass"
    assert states["Summarize"].get("End") is True


def test_selection_a_failed_batch_or_concluding_fails_the_run(states: dict[str, dict[str, Any]]) -> None:
    for name in ("SelectContracts", "BillBatches", "ConcludeRun"):
        (catch,) = states[name]["Catch"]
        assert catch == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "RecordRunFailure"}, name
    recorder = states["RecordRunFailure"]
    assert recorder["Type"] == "Task"
    assert states[recorder["Next"]]["Type"] == "Fail"


def test_the_state_machine_may_start_its_own_children_and_read_and_write_the_workspace(
    synthesized: Synthesized, workspace_id: str
) -> None:
    machine_id = synthesized.logical_id(synthesized.stack.billing.state_machine)
    role_id = synthesized.logical_id(synthesized.stack.billing.state_machine.role)
    statements = [
        statement
        for policy in synthesized.properties("AWS::IAM::Policy")
        if {"Ref": role_id} in policy["Roles"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    start = [s for s in statements if s["Action"] == "states:StartExecution"]
    assert start and all(s["Resource"] == {"Ref": machine_id} for s in start)
    s3_actions = {
        action
        for s in statements
        if workspace_id in json.dumps(s["Resource"])
        for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert {"s3:GetObject", "s3:PutObject"} <= s3_actions


def test_the_workspace_is_private_encrypted_and_expires(synthesized: Synthesized, workspace_id: str) -> None:
    bucket = synthesized.template["Resources"][workspace_id]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    (rule,) = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled" and rule["ExpirationInDays"] > 0


def test_task_functions_know_the_workspace_and_only_planning_concluding_and_claim_checks_touch_it(
    synthesized: Synthesized, workspace_id: str
) -> None:
    billing = synthesized.stack.billing
    for name, task in billing.task_functions.items():
        function = synthesized.template["Resources"][synthesized.logical_id(task.function)]["Properties"]
        assert function["Environment"]["Variables"][topology.ENV_BILLING_RUN_BUCKET] == {"Ref": workspace_id}, name
        role_id = synthesized.logical_id(task.role)
        actions = {
            action
            for policy in synthesized.properties("AWS::IAM::Policy")
            if {"Ref": role_id} in policy["Roles"]
            for statement in policy["PolicyDocument"]["Statement"]
            if workspace_id in json.dumps(statement["Resource"])
            for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
        }
        expected = {
            "select_contracts": {"s3:PutObject"},
            "conclude_batch": {"s3:PutObject"},
            "conclude_run": {"s3:GetObject", "s3:ListBucket"},
            "post_invoice": {"s3:PutObject"},
        }.get(name, set())
        assert actions == expected, name


def test_posting_writes_claim_checks_only_under_commands(synthesized: Synthesized, workspace_id: str) -> None:
    role_id = synthesized.logical_id(synthesized.stack.billing.task_functions["post_invoice"].role)
    resources = [
        json.dumps(statement["Resource"])
        for policy in synthesized.properties("AWS::IAM::Policy")
        if {"Ref": role_id} in policy["Roles"]
        for statement in policy["PolicyDocument"]["Statement"]
        if workspace_id in json.dumps(statement["Resource"])
    ]
    assert resources and all("/commands/*" in resource for resource in resources)
