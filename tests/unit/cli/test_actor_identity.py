"""Who acts: the caller's IAM identity on a deployed stack, the OS user (or --actor) locally."""

from __future__ import annotations

import argparse
import getpass
from decimal import Decimal
from typing import Any

import pytest
from billbridge.app.segregation_of_duties import SegregationPolicy
from billbridge.cli.commands.operations_target import ActorError, actor_of
from billbridge.cli.hub_target import Hub

ALICE = "arn:aws:sts::111122223333:assumed-role/Billbridge-ApproverRole/alice"


class FakeSts:
    def __init__(self, arn: str) -> None:
        self.arn = arn
        self.calls = 0

    def get_caller_identity(self) -> dict[str, Any]:
        self.calls += 1
        return {"Arn": self.arn, "Account": "111122223333", "UserId": "AROAEXAMPLE:alice"}


def hub(*, is_local: bool, sts: FakeSts | None = None) -> Hub:
    return Hub(
        ledger_table="ledger",
        client=lambda service: {"sts": sts}[service],
        queues=[],
        state_machine_arn="",
        is_local=is_local,
        start_run=lambda run_input, name: {},
    )


def test_on_a_deployed_stack_the_actor_is_the_callers_iam_identity() -> None:
    sts = FakeSts(ALICE)
    assert actor_of(argparse.Namespace(actor=None), hub(is_local=False, sts=sts)) == ALICE
    assert sts.calls == 1


def test_on_a_deployed_stack_a_typed_actor_naming_someone_else_is_refused() -> None:
    with pytest.raises(ActorError, match="your AWS identity"):
        actor_of(argparse.Namespace(actor="bob"), hub(is_local=False, sts=FakeSts(ALICE)))


def test_on_a_deployed_stack_a_typed_actor_naming_the_caller_is_accepted_as_the_arn() -> None:
    assert actor_of(argparse.Namespace(actor="Alice"), hub(is_local=False, sts=FakeSts(ALICE))) == ALICE


def test_locally_the_actor_is_the_os_user_unless_given() -> None:
    assert actor_of(argparse.Namespace(actor=None), hub(is_local=True)) == getpass.getuser()
    assert actor_of(argparse.Namespace(actor="carol"), hub(is_local=True)) == "carol"


def test_segregation_of_duties_sees_the_person_behind_a_role_session_and_not_the_account_root() -> None:
    policy = SegregationPolicy(threshold=Decimal("1000"))
    assert policy.is_person(ALICE)
    assert policy.is_person("arn:aws:iam::111122223333:user/dave")
    assert not policy.is_person("arn:aws:iam::111122223333:root")
