"""The operator and approver roles carry exactly what their commands call on a deployed stack
(billbridge.cli.stack_permissions), and every command that takes `--stack` is accounted for."""

from __future__ import annotations

import argparse
from typing import Any

from billbridge.cli.main import build_parser
from billbridge.cli.stack_permissions import APPROVER, COMMANDS, OPERATOR, actions_of_role

from tests.infra.conftest import Synthesized


def statements_of(synthesized: Synthesized, role: Any) -> list[dict[str, Any]]:
    role_id = synthesized.logical_id(role)
    statements = []
    for policy in synthesized.properties("AWS::IAM::Policy"):
        if {"Ref": role_id} in policy["Roles"]:
            statements += policy["PolicyDocument"]["Statement"]
    return statements


def actions_in(statements: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for statement in statements:
        actions = statement["Action"]
        found.update([actions] if isinstance(actions, str) else actions)
    return found


def commands_taking_stack() -> set[str]:
    parser = build_parser(["--help"])
    found = set()

    def walk(prefix: str, command_parser: argparse.ArgumentParser) -> None:
        subcommands = [a for a in command_parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subcommands:
            if any("--stack" in action.option_strings for action in command_parser._actions):
                found.add(prefix)
            return
        for name, child in subcommands[0].choices.items():
            walk(f"{prefix} {name}".strip(), child)

    walk("", parser)
    return found


def test_every_command_that_acts_on_a_stack_has_its_actions_and_role_written_down() -> None:
    assert commands_taking_stack() == set(COMMANDS)


def test_the_operator_role_carries_exactly_the_operator_commands_actions(synthesized: Synthesized) -> None:
    role = synthesized.stack.security.operator_role
    assert actions_in(statements_of(synthesized, role)) == actions_of_role(OPERATOR)


def test_the_approver_role_carries_exactly_the_operator_and_approver_commands_actions(
    synthesized: Synthesized,
) -> None:
    role = synthesized.stack.security.approver_role
    assert actions_in(statements_of(synthesized, role)) == actions_of_role(APPROVER)


def test_bill_and_replay_archive_can_run_under_the_operator_role_on_their_own_resources_only(
    synthesized: Synthesized,
) -> None:
    statements = statements_of(synthesized, synthesized.stack.security.operator_role)
    by_action = {}
    for statement in statements:
        actions = statement["Action"]
        for action in [actions] if isinstance(actions, str) else actions:
            by_action.setdefault(action, []).append(statement)
    state_machine = synthesized.logical_id(synthesized.stack.billing.state_machine)
    (start,) = by_action["states:StartExecution"]
    assert start["Resource"] == {"Ref": state_machine}
    (replay,) = by_action["events:StartReplay"]
    assert replay["Resource"] == {"Fn::GetAtt": [synthesized.logical_id(synthesized.stack.event_bus.archive), "Arn"]}
    # the retry request is the only ingest event an operator may put on the bus
    (put,) = by_action["events:PutEvents"]
    assert put["Condition"]["StringEquals"] == {
        "events:source": ["billbridge.ingest"],
        "events:detail-type": ["sync.retry_requested"],
    }


def test_only_the_approver_writes_the_ledger_or_publishes_decisions(synthesized: Synthesized) -> None:
    operator = actions_in(statements_of(synthesized, synthesized.stack.security.operator_role))
    approver = actions_in(statements_of(synthesized, synthesized.stack.security.approver_role))
    assert not {a for a in operator if a.startswith("dynamodb:Put") or a == "dynamodb:UpdateItem"}
    assert {"dynamodb:PutItem", "dynamodb:UpdateItem"} <= approver
