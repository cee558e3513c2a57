"""The published scenarios pass against the domain core and use cases directly."""

from __future__ import annotations

import pytest
from billbridge.reporting.report_comparison import compare_report

from tests.fakes.hub import CoreHub
from tests.scenarios.catalog import load_scenario, scenario_names


@pytest.mark.parametrize("name", scenario_names())
def test_published_scenario_matches_expected_report(name: str) -> None:
    scenario, expected = load_scenario(name)
    report = CoreHub(scenario.get("config")).run_scenario(scenario)
    assert compare_report(report, expected) == []
