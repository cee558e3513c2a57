"""A billing run through the whole local stack with the real handlers, over more contracts
than one batch (the batch size is lowered to 2): every contract of every child execution is
billed; a contract whose step crashes is held as an exception, the others are still billed,
and the run fails with a cause naming it."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from billbridge import topology
from billbridge.local.scenario_replay import ScenarioReplayer, generate_webhook_secrets
from billbridge.local.stack import LocalStack

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "01-time-and-materials.json"
CONTRACTS = [f"SOW-B{i}" for i in range(5)]
COMPOSE = next(t for t in topology.BILLING_TASKS if t.name == "compose_invoice").handler


def scenario() -> dict[str, Any]:
    return dict(json.loads(SCENARIO.read_text(encoding="utf-8")))


def contract(contract_id: str) -> dict[str, Any]:
    template = next(
        s["deliver"] for s in scenario()["steps"] if s.get("deliver", {}).get("type") == "contract.approved"
    )
    event = copy.deepcopy(template)
    event["id"] = f"clm-{contract_id}"
    event["subject"] = contract_id
    event["data"].update(contract_id=contract_id, customer_id=f"CUST-{contract_id}")
    return dict(event)


def time_entry(contract_id: str) -> dict[str, Any]:
    entry_id = f"TE-{contract_id}"
    return {
        "specversion": "1.0",
        "id": f"psa-{entry_id}",
        "source": "psa",
        "type": "time_entry.approved",
        "time": "2026-03-31T18:00:00Z",
        "datacontenttype": "application/json",
        "subject": entry_id,
        "data": {
            "entry_id": entry_id,
            "revision": 1,
            "contract_id": contract_id,
            "resource_id": "EMP-1",
            "role": "consultant",
            "billable": True,
            "cost_center": "CC-100",
            "work_date": "2026-03-02",
            "hours": "8",
        },
    }


@pytest.fixture
def hub() -> Iterator[tuple[LocalStack, ScenarioReplayer]]:
    secrets = generate_webhook_secrets()
    with (
        LocalStack(secrets=secrets, extra_env={topology.ENV_BILLING_BATCH_SIZE: "2"}) as stack,
        ScenarioReplayer(stack, secrets) as replayer,
    ):
        replayer.configure(scenario()["config"])
        for contract_id in CONTRACTS:
            assert replayer.deliver(contract(contract_id)).status in (200, 202)
            assert replayer.deliver(time_entry(contract_id)).status in (200, 202)
        with stack.unit_of_work():
            stack.drain()
        yield stack, replayer


def invoiced_contracts(replayer: ScenarioReplayer) -> list[str]:
    return sorted({invoice["contract_id"] for invoice in replayer.report()["invoices"]})


def test_a_run_over_three_batches_bills_every_contract(hub: tuple[LocalStack, ScenarioReplayer]) -> None:
    stack, replayer = hub

    run = replayer.bill("2026-03", request_id="batches")

    assert (run.status, run.error) == ("SUCCEEDED", None)
    assert invoiced_contracts(replayer) == CONTRACTS
    (execution,) = stack.client("stepfunctions").list_executions(stateMachineArn=stack.names.state_machine_arn)[
        "executions"
    ]
    output = stack.wait_for_execution(execution["executionArn"])["output"]
    assert (output["contract_count"], output["batch_count"], output["invoiced"]) == (5, 3, 5)


def test_a_contract_whose_step_crashes_fails_the_run_and_the_others_are_billed(
    hub: tuple[LocalStack, ScenarioReplayer],
) -> None:
    stack, replayer = hub
    compose = stack.resolver.resolve(COMPOSE)

    def crashes_on_b3(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if event["contract_id"] == "SOW-B3":
            raise ZeroDivisionError("a defect while composing")
        return dict(compose(event, context))

    stack.resolver.override(COMPOSE, crashes_on_b3)

    run = replayer.bill("2026-03", request_id="crash")

    assert (run.status, run.error) == ("FAILED", "ContractsFailed")
    described = stack.client("stepfunctions").describe_execution(
        executionArn=stack.names.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{run.name}"
    )
    assert described["cause"] == "1 contract(s) failed and are held as exceptions: SOW-B3"
    assert invoiced_contracts(replayer) == [c for c in CONTRACTS if c != "SOW-B3"]
    held = [e for e in replayer.report()["exceptions"] if e["contract_id"] == "SOW-B3"]
    assert held and "ZeroDivisionError" in json.dumps(held)
