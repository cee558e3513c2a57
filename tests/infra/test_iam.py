"""Least privilege: no wildcard resources beyond the acknowledged ones, scoped grants per function."""

from __future__ import annotations

import json
from typing import Any

from tests.infra.conftest import Synthesized

WILDCARD_ACTIONS_WITHOUT_RESOURCE_LEVEL_PERMISSIONS = {
    # X-Ray (functions and state machine)
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    # Step Functions log delivery
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}


def _referenced_ids(value: Any) -> set[str]:
    """Logical ids a resource expression refers to (Ref, GetAtt, inside Fn::Join)."""
    if isinstance(value, dict):
        if "Ref" in value:
            return {value["Ref"]}
        if "Fn::GetAtt" in value:
            return {value["Fn::GetAtt"][0]}
        return set().union(*(_referenced_ids(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_referenced_ids(v) for v in value))
    return set()


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(synthesized: Synthesized) -> list[tuple[str, dict[str, Any]]]:
    return [
        (logical_id, statement)
        for logical_id, policy in synthesized.resources("AWS::IAM::Policy").items()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _role_actions(synthesized: Synthesized, role_logical_id: str) -> dict[str, list[Any]]:
    actions: dict[str, list[Any]] = {}
    for policy in synthesized.properties("AWS::IAM::Policy"):
        if {"Ref": role_logical_id} not in policy["Roles"]:
            continue
        for statement in policy["PolicyDocument"]["Statement"]:
            for action in _as_list(statement["Action"]):
                actions.setdefault(action, []).extend(_as_list(statement["Resource"]))
    return actions


def test_wildcard_resources_only_for_actions_without_resource_level_permissions(
    synthesized: Synthesized,
) -> None:
    for policy_id, statement in _statements(synthesized):
        if "*" in _as_list(statement["Resource"]):
            actions = set(_as_list(statement["Action"]))
            assert actions <= WILDCARD_ACTIONS_WITHOUT_RESOURCE_LEVEL_PERMISSIONS, (policy_id, actions)


def test_no_policy_grants_all_actions_of_a_service(synthesized: Synthesized) -> None:
    for policy_id, statement in _statements(synthesized):
        for action in _as_list(statement["Action"]):
            assert not action.endswith(":*") and action != "*", (policy_id, action)


def test_webhook_reads_one_secret_puts_objects_and_events(synthesized: Synthesized) -> None:
    stack = synthesized.stack
    actions = _role_actions(synthesized, synthesized.logical_id(stack.webhook.role))
    secret_ref = {"Ref": synthesized.logical_id(stack.webhook_secrets.secret)}
    assert actions["secretsmanager:GetSecretValue"] == [secret_ref]
    assert [a for a in actions if a.startswith("s3:")] == ["s3:PutObject"]
    bus_arn = {"Fn::GetAtt": [synthesized.logical_id(stack.event_bus.bus), "Arn"]}
    assert actions["events:PutEvents"] == [bus_arn]
    assert not any(a.startswith("states:") for a in actions)


def test_consumers_use_the_ledger_and_the_bus_only(synthesized: Synthesized) -> None:
    """No deduplication store: the webhook's delivery claim deduplicates, the ledger absorbs redeliveries."""
    stack = synthesized.stack
    allowed_tables = {synthesized.logical_id(stack.tables.ledger)}
    for consumer in stack.consumers:
        actions = _role_actions(synthesized, synthesized.logical_id(consumer.consumer.role))
        assert "dynamodb:PutItem" in actions and "events:PutEvents" in actions
        assert _referenced_ids(actions["dynamodb:PutItem"]) == allowed_tables
        assert not any(a.startswith(("s3:", "secretsmanager:", "states:")) for a in actions)


def test_billing_tasks_use_the_ledger_the_bus_and_their_run_workspace_only(synthesized: Synthesized) -> None:
    stack = synthesized.stack
    ledger_id = synthesized.logical_id(stack.tables.ledger)
    workspace_id = synthesized.logical_id(stack.billing.workspace)
    for task in stack.billing.task_functions.values():
        actions = _role_actions(synthesized, synthesized.logical_id(task.role))
        assert _referenced_ids(actions["dynamodb:PutItem"]) == {ledger_id}
        assert "events:PutEvents" in actions
        assert all(_referenced_ids(actions[a]) == {workspace_id} for a in actions if a.startswith("s3:"))
        assert not any(a.startswith(("secretsmanager:", "states:")) for a in actions)


def test_the_starter_may_only_start_and_look_up_this_state_machines_runs(synthesized: Synthesized) -> None:
    stack = synthesized.stack
    machine_id = synthesized.logical_id(stack.billing.state_machine)
    actions = _role_actions(synthesized, synthesized.logical_id(stack.schedule.starter.role))
    assert actions["states:StartExecution"] == [{"Ref": machine_id}]
    assert sorted(a for a in actions if a.startswith("states:")) == [
        "states:DescribeExecution",
        "states:StartExecution",
    ]
    assert machine_id in json.dumps(actions["states:DescribeExecution"]), "executions of this state machine only"
    assert not any(a.startswith(("dynamodb:", "s3:", "events:", "secretsmanager:")) for a in actions)
