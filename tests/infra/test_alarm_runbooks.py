"""Every alarm links its section of the operations runbook, and that section exists."""

from __future__ import annotations

import re
from pathlib import Path

from tests.infra.conftest import Synthesized

RUNBOOK = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def anchors_of(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#{2,4} (.+)$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^a-z0-9 -]", "", heading.lower()).strip().replace(" ", "-") for heading in headings}


def test_every_alarm_description_ends_with_a_runbook_section_that_exists(synthesized: Synthesized) -> None:
    alarms = synthesized.properties("AWS::CloudWatch::Alarm")
    sections = anchors_of(RUNBOOK.read_text(encoding="utf-8"))
    assert len(alarms) >= 10
    for alarm in alarms:
        description = alarm["AlarmDescription"]
        assert isinstance(description, str) and len(description) <= 1024, description
        found = re.search(r" Runbook: docs/operations\.md#([a-z0-9-]+)$", description)
        assert found, description
        assert found.group(1) in sections, f"{found.group(1)} is not a section of docs/operations.md"


def test_the_dashboard_url_is_a_stack_output(synthesized: Synthesized) -> None:
    assert "DashboardUrl" in synthesized.template["Outputs"]


def test_a_saved_query_follows_one_correlation_id_through_every_function(synthesized: Synthesized) -> None:
    (query,) = synthesized.properties("AWS::Logs::QueryDefinition")
    functions = synthesized.resources("AWS::Lambda::Function")
    log_groups = synthesized.resources("AWS::Logs::LogGroup")
    assert "correlation_id = " in query["QueryString"]
    assert "sort @timestamp asc" in query["QueryString"]
    # One log group per function of the hub (the others are the API's and the state machine's).
    assert len(query["LogGroupNames"]) >= len(functions) - 2
    assert all(ref["Ref"] in log_groups for ref in query["LogGroupNames"])
