"""The billing run definition, parsed from the template with its tokens in place."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from billbridge import topology

from infra.constructs.billing_workflow import RETRYABLE_ERRORS
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


@pytest.fixture(scope="module")
def definition(synthesized: Synthesized) -> dict[str, Any]:
    return _definition(synthesized)


@pytest.fixture(scope="module")
def states(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(_states(definition["States"]))


def test_standard_machine_with_tracing_and_full_logging(synthesized: Synthesized) -> None:
    (machine,) = synthesized.properties("AWS::StepFunctions::StateMachine")
    assert machine["StateMachineType"] == "STANDARD"
    assert machine["TracingConfiguration"] == {"Enabled": True}
    assert machine["LoggingConfiguration"]["Level"] == "ALL"
    assert machine["LoggingConfiguration"]["Destinations"]


def test_definition_is_jsonpath_only(definition: dict[str, Any], states: dict[str, dict[str, Any]]) -> None:
    assert definition.get("QueryLanguage", "JSONPath") == "JSONPath"
    assert all(state.get("QueryLanguage", "JSONPath") == "JSONPath" for state in states.values())


def test_run_selects_then_maps_over_contracts_then_summarizes(
    definition: dict[str, Any], states: dict[str, dict[str, Any]]
) -> None:
    assert definition["StartAt"] == "SelectContracts"
    assert states["SelectContracts"]["Next"] == "ForEachContract"
    for_each = states["ForEachContract"]
    assert for_each["Type"] == "Map"
    assert for_each["ItemsPath"] == "$.contracts"
    assert for_each["MaxConcurrency"] == topology.BILLING_MAP_MAX_CONCURRENCY
    assert for_each["ItemSelector"] == {
        "contract_id.$": "$$.Map.Item.Value.contract_id",
        "period.$": "$.period",
        "run_id.$": "$.run_id",
    }
    assert for_each["ResultPath"] is None, "the Map's result is discarded to keep the state small"
    assert for_each["Next"] == "Summarize"
    assert states["Summarize"]["Type"] == "Pass"
    assert states["Summarize"].get("End") is True


def test_per_contract_compose_then_post_only_with_a_proposal(states: dict[str, dict[str, Any]]) -> None:
    assert states["ForEachContract"]["ItemProcessor"]["StartAt"] == "ComposeInvoice"
    assert states["ComposeInvoice"]["Next"] == "HasProposal"
    choice = states["HasProposal"]
    (rule,) = choice["Choices"]
    assert rule["And"] == [
        {"Variable": "$.proposal_id", "IsPresent": True},
        {"Variable": "$.proposal_id", "IsNull": False},
    ]
    assert rule["Next"] == "PostInvoice"
    assert states[choice["Default"]]["Type"] == "Succeed"
    assert states[states["PostInvoice"]["Next"]]["Type"] == "Succeed"


def test_every_task_invokes_a_function_arn_directly_and_retries_transient_errors(
    synthesized: Synthesized, states: dict[str, dict[str, Any]]
) -> None:
    tasks = {name: state for name, state in states.items() if state["Type"] == "Task"}
    task_function_ids = {
        synthesized.logical_id(task.function) for task in synthesized.stack.billing.task_functions.values()
    }
    assert {"SelectContracts", "ComposeInvoice", "PostInvoice", "RecordFailure"} <= set(tasks)
    for name, task in tasks.items():
        resource = json.loads(task["Resource"].replace("'", '"'))
        assert resource["Fn::GetAtt"][0] in task_function_ids, name
        assert task["Retry"] == [
            {"ErrorEquals": list(RETRYABLE_ERRORS), "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2}
        ], name


def test_a_contract_failure_is_recorded_and_never_fails_the_others(states: dict[str, dict[str, Any]]) -> None:
    for name in ("ComposeInvoice", "PostInvoice"):
        assert states[name]["Catch"] == [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "RecordFailure"}
        ], name
    record = states["RecordFailure"]
    assert record["ResultPath"] is None
    assert states[record["Next"]]["Type"] == "Succeed"


def test_a_selection_failure_is_recorded_and_fails_the_run(states: dict[str, dict[str, Any]]) -> None:
    (catch,) = states["SelectContracts"]["Catch"]
    assert catch["ErrorEquals"] == ["States.ALL"]
    recorder = states[catch["Next"]]
    assert recorder["Type"] == "Task"
    assert states[recorder["Next"]]["Type"] == "Fail"
