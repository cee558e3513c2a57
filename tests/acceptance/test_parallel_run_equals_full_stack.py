"""The parallel run (use cases in bulk on the SQLite ledger) gives the same replay
report as the full-stack replay (signed webhooks through the local stack) on every
published scenario. Correlation ids minted at the webhook edge are random, so they
are compared by where they appear (the same id in the same places), not by value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from billbridge.adapters.sqlite_ledger import SqliteLedger
from billbridge.app.billing_config_document import billing_config_from
from billbridge.local.scenario_replay import ScenarioReplayer, generate_webhook_secrets
from billbridge.local.stack import LocalStack
from billbridge.parallel_run.bulk_hub import BulkHub
from billbridge.reporting.replay_report import build_replay_report

from tests.scenarios.catalog import load_scenario, scenario_names


def _with_correlation_ids_by_position(report: dict[str, Any]) -> dict[str, Any]:
    """Exceptions in one order (the ledgers list a book's exceptions in their own storage order;
    the spec compares them as a multiset), then correlation ids named by where they appear."""
    report = {**report, "exceptions": sorted(report["exceptions"], key=lambda e: str(e["exception_id"]))}
    names: dict[str, str] = {}

    def rename(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: rename(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [rename(v) for v in value]
        if key == "correlation_id" and isinstance(value, str) and not value.startswith("billing-run-"):
            return names.setdefault(value, f"correlation-{len(names) + 1}")
        return value

    return dict(rename(report))


def parallel_run_report(scenario: dict[str, Any], store: Path) -> dict[str, Any]:
    with SqliteLedger(store) as ledger:
        ledger.save_config(billing_config_from(scenario.get("config") or {}))
        hub = BulkHub(ledger)
        hub.run_scenario(scenario)
        assert all(run.status == "SUCCEEDED" for run in hub.runs), [run.as_json() for run in hub.runs]
        assert hub.dead_letters == []
        return build_replay_report(ledger.books())


@pytest.mark.parametrize("name", scenario_names())
def test_parallel_run_report_equals_the_full_stack_replay(name: str, tmp_path: Path) -> None:
    scenario, _ = load_scenario(name)
    secrets = generate_webhook_secrets()
    with LocalStack(secrets=secrets) as stack, ScenarioReplayer(stack, secrets) as replayer:
        full_stack = replayer.run(scenario)
    assert all(run.status == "SUCCEEDED" for run in full_stack.runs), full_stack.runs

    parallel = parallel_run_report(scenario, tmp_path / "ledger.sqlite")

    assert parallel["invoices"], "a scenario that bills nothing would compare nothing"
    assert _with_correlation_ids_by_position(parallel) == _with_correlation_ids_by_position(full_stack.report)
