"""The local stack gives the same result for the same input, every time, with the
billing Map's concurrency as deployed (no patch of the stand-ins in the tests)."""

from __future__ import annotations

import json
from typing import Any

from billbridge import topology
from billbridge.local.scenario_replay import ReplayResult, ScenarioReplayer, generate_webhook_secrets
from billbridge.local.stack import LocalStack

from tests.acceptance.multi_contract import multi_contract_scenario

REPEATS = 3


def without_correlation_ids(value: Any) -> Any:
    """Correlation ids are minted per delivery (random by design); everything else must be equal."""
    if isinstance(value, dict):
        return {k: without_correlation_ids(v) for k, v in value.items() if k != "correlation_id"}
    if isinstance(value, list):
        return [without_correlation_ids(v) for v in value]
    return value


def replay(scenario: dict[str, Any]) -> ReplayResult:
    secrets = generate_webhook_secrets()
    with LocalStack(secrets=secrets) as stack, ScenarioReplayer(stack, secrets) as replayer:
        return replayer.run(scenario)


def test_a_multi_contract_run_gives_identical_reports_every_time() -> None:
    assert topology.BILLING_MAP_MAX_CONCURRENCY != 1, "the Map must bill contracts in parallel for this test"
    scenario = multi_contract_scenario(contracts=6)

    results = [replay(scenario) for _ in range(REPEATS)]

    for result in results:
        assert result.failures == [], result.failures
        assert [run.succeeded for run in result.runs] == [True]
        assert all(d.status == 202 for d in result.deliveries)
    first = without_correlation_ids(results[0].report)
    invoices = first["invoices"]
    assert len(invoices) == 6
    assert {i["currency"] for i in invoices} == {"USD", "EUR"}
    assert all(i["lines"] for i in invoices)
    for result in results[1:]:
        assert json.dumps(without_correlation_ids(result.report), sort_keys=True) == json.dumps(first, sort_keys=True)
