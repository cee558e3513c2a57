"""Every custom metric the dashboard and the alarms show is written by some function: a series
nothing emits would stay empty and an alarm on it would never fire."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.infra.conftest import Synthesized

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions" / "billbridge"
NAMESPACE = "Billbridge"


def dashboard_metric_names(synthesized: Synthesized) -> set[str]:
    names: set[str] = set()
    for dashboard in synthesized.properties("AWS::CloudWatch::Dashboard"):
        body = json.dumps(dashboard["DashboardBody"])  # a Fn::Join of strings and references
        names |= set(re.findall(rf'\[\\\\?"{NAMESPACE}\\\\?",\\\\?"([A-Za-z]+)\\\\?"', body))
        names |= set(re.findall(r'MetricName=\\\\?"([A-Za-z]+)\\\\?"', body))
    return names


def alarm_metric_names(synthesized: Synthesized) -> set[str]:
    names = set()
    for alarm in synthesized.properties("AWS::CloudWatch::Alarm"):
        found: list[dict[str, Any]] = [alarm] + [
            m.get("MetricStat", {}).get("Metric", {}) for m in alarm.get("Metrics", [])
        ]
        names |= {m["MetricName"] for m in found if m.get("Namespace") == NAMESPACE and "MetricName" in m}
    return names


def emitted_names() -> set[str]:
    source = "\n".join(path.read_text(encoding="utf-8") for path in FUNCTIONS.rglob("*.py"))
    return set(re.findall(r'\b(?:count|emit|metric)\(\s*"([A-Za-z]+)"', source))


def test_the_dashboard_shows_custom_metrics_at_all(synthesized: Synthesized) -> None:
    shown = dashboard_metric_names(synthesized)
    assert {"WebhooksAccepted", "EntriesRated", "InvoicesProposed", "ExceptionsRaised"} <= shown, shown


def test_every_custom_metric_on_the_dashboard_or_an_alarm_has_an_emitter(synthesized: Synthesized) -> None:
    shown = dashboard_metric_names(synthesized) | alarm_metric_names(synthesized)
    missing = sorted(shown - emitted_names())
    assert missing == [], f"shown but written by no function: {missing}"
