"""The published scenarios replayed through the whole local stack: signed
webhooks over HTTP, bus, rules, queues, consumers, and the billing state machine."""

from __future__ import annotations

import pytest
from billbridge.app.report_comparison import compare_report
from billbridge.localstack.scenario_replay import ScenarioReplayer, generate_webhook_secrets
from billbridge.localstack.stack import LocalStack

from tests.scenarios.catalog import load_scenario, scenario_names


@pytest.mark.parametrize("name", scenario_names())
def test_scenario_replays_through_the_local_stack(name: str) -> None:
    scenario, expected = load_scenario(name)
    secrets = generate_webhook_secrets()
    with LocalStack(secrets=secrets) as stack, ScenarioReplayer(stack, secrets) as replayer:
        result = replayer.run(scenario)
        dead_letters = {wf: stack.dead_letters(wf) for wf in ("contracts", "actuals", "feedback")}
    assert all(run.status == "SUCCEEDED" for run in result.runs), result.runs
    assert all(d.status in (200, 202) for d in result.deliveries), [d for d in result.deliveries if d.status >= 300]
    assert dead_letters == {"contracts": [], "actuals": [], "feedback": []}
    assert compare_report(result.report, expected) == []
