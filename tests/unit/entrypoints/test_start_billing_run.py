"""The scheduled start function names the run by its period and schedule tick and asks the
BillingRuns port to start it: a repeated tick finds the run and starts nothing new."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from billbridge import bootstrap
from billbridge.app.ports import BillingRunStart
from billbridge.entrypoints.schedule.start_billing_run import lambda_handler
from billbridge.local.lambda_context import new_context

TICK = {"id": "sched-2026-04-01", "time": "2026-04-01T02:00:00Z", "detail-type": "Scheduled Event"}


class InMemoryBillingRuns:
    """Runs by name, as a workflow service keeps executions."""

    def __init__(self) -> None:
        self.inputs: dict[str, dict[str, Any]] = {}

    def start_or_find(self, name: str, run_input: Mapping[str, Any]) -> BillingRunStart:
        execution_id = f"arn:aws:states:eu-west-1:123456789012:execution:billing-run:{name}"
        if name in self.inputs:
            return BillingRunStart(name=name, execution_id=execution_id, started=False)
        self.inputs[name] = dict(run_input)
        return BillingRunStart(name=name, execution_id=execution_id, started=True)


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> InMemoryBillingRuns:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Billbridge")
    fake = InMemoryBillingRuns()
    monkeypatch.setattr(bootstrap, "billing_runs", lambda: fake)
    return fake


def test_a_tick_on_the_first_starts_the_run_of_the_month_that_ended(runs: InMemoryBillingRuns) -> None:
    started = lambda_handler(TICK, new_context("start-billing-run"))

    assert started["started"] is True and started["name"].startswith("bill-2026-03-all-sched-2026-04-01")
    assert started["execution_arn"].endswith(f":{started['name']}")
    assert runs.inputs == {started["name"]: {"period": "2026-03", "contract_ids": None, "run_id": started["name"]}}


def test_a_repeated_tick_starts_nothing_new(runs: InMemoryBillingRuns) -> None:
    first = lambda_handler(TICK, new_context("start-billing-run"))
    again = lambda_handler(TICK, new_context("start-billing-run"))

    assert again == {"started": False, "name": first["name"], "reason": "already started for this request"}
    assert list(runs.inputs) == [first["name"]]


def test_a_period_given_in_the_schedule_input_is_billed_instead(runs: InMemoryBillingRuns) -> None:
    started = lambda_handler({**TICK, "period": "2026-01"}, new_context("start-billing-run"))

    assert runs.inputs[started["name"]]["period"] == "2026-01"
