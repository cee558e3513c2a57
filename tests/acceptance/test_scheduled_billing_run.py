"""The monthly schedule starts the billing run for the month that ended, once
per schedule tick: a duplicated trigger starts nothing new."""

from __future__ import annotations

from billbridge.app.billing_requests import execution_name, previous_period
from billbridge.entrypoints.schedule.start_billing_run import lambda_handler as start_billing_run
from billbridge.local.lambda_context import new_context
from billbridge.local.stack import LocalStack


def test_previous_period_bills_the_month_that_ended() -> None:
    from datetime import date

    assert previous_period(date(2026, 4, 1)) == "2026-03"
    assert previous_period(date(2026, 1, 1)) == "2025-12"


def test_execution_names_are_deterministic_per_period_contracts_and_request() -> None:
    first = execution_name("2026-03", ["B", "A"], "tick-1")
    assert first == execution_name("2026-03", ["A", "B"], "tick-1")
    assert first != execution_name("2026-03", ["A", "B"], "tick-2")
    assert first != execution_name("2026-03", None, "tick-1")
    assert len(execution_name("2026-03", None, "x" * 200)) <= 80


def test_a_duplicated_schedule_trigger_starts_nothing_new() -> None:
    tick = {"id": "sched-2026-04-01", "time": "2026-04-01T02:00:00Z", "detail-type": "Scheduled Event"}
    with LocalStack(secrets={}) as stack:
        first = start_billing_run(tick, new_context("start-billing-run"))
        again = start_billing_run(tick, new_context("start-billing-run"))
        executions = stack.client("stepfunctions").list_executions(stateMachineArn=stack.names.state_machine_arn)
        finished = stack.wait_for_execution(first["execution_arn"])
    assert first["started"] is True and first["name"].startswith("bill-2026-03-all-")
    assert again == {"started": False, "name": first["name"], "reason": "already started for this request"}
    assert [e["name"] for e in executions["executions"]] == [first["name"]]
    assert finished["status"] == "SUCCEEDED", finished
