"""The published scenarios replayed by `billbridge replay` (its default, the full
stack): signed webhooks over HTTP, bus, rules, queues, consumers, and the billing
state machine; the report must match the scenario's expected report, with no
failure of the hub, no refused delivery and nothing dead-lettered."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from billbridge.cli.main import main
from billbridge.local.store import LocalStore

from tests.scenarios.catalog import SCENARIO_DIR, scenario_names


@pytest.mark.parametrize("name", scenario_names())
def test_scenario_replays_through_the_local_stack(name: str, tmp_path: Path, capsys: Any) -> None:
    state, report = tmp_path / "state.sqlite", tmp_path / "report.json"

    code = main(
        [
            "replay",
            str(SCENARIO_DIR / f"{name}.json"),
            "--report",
            str(report),
            "--expected",
            str(SCENARIO_DIR / f"{name}.expected.json"),
            "--state-file",
            str(state),
        ]
    )

    out = capsys.readouterr().out
    assert code == 0, out
    assert "matches the expected report" in out and "(0 refused)" in out
    assert "FAILED" not in out
    assert json.loads(report.read_text())["invoices"]
    with LocalStore(state, create=False) as store:
        for queue in ("contracts-dlq", "actuals-dlq", "feedback-dlq"):
            assert store.messages(queue) == [], queue
