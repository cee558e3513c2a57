"""Every failure pages: a schedule that stops, a downstream command held, a KPI past its threshold."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.config import BillbridgeConfig
from infra.constructs.failure_alarms import billing_utc_day, schedule_interval, validate_kpi_thresholds
from infra.synth import build_app, cdk_context
from tests.infra.conftest import Synthesized


def alarms_by_id(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }


def alarm(template: dict[str, Any], prefix: str) -> dict[str, Any]:
    (found,) = [p for logical_id, p in alarms_by_id(template).items() if logical_id.startswith(prefix)]
    return found


def test_each_kpi_threshold_of_cdk_json_has_an_alarm_on_its_metric(synthesized: Synthesized) -> None:
    thresholds = cdk_context()["billbridge:kpi_thresholds"]
    expected = {
        "MonitoringDsoAlarm": ("DaysSalesOutstanding", thresholds["dso_days"]),
        "MonitoringDisputeRateAlarm": ("DisputeRatePercent", thresholds["dispute_rate_percent"]),
        "MonitoringFailureResolutionAlarm": ("FailureResolutionMedianHours", thresholds["failure_resolution_hours"]),
        "MonitoringOldestOpenFailureAlarm": ("OldestOpenFailureHours", thresholds["oldest_open_failure_hours"]),
        "MonitoringApprovalToInvoiceAlarm": ("ApprovalToInvoiceMedianDays", thresholds["approval_to_invoice_days"]),
    }
    for prefix, (metric, threshold) in expected.items():
        found = alarm(synthesized.template, prefix)
        assert found["MetricName"] == metric and found["Namespace"] == "Billbridge"
        assert found["Threshold"] == float(threshold)
        assert found["ComparisonOperator"] == "GreaterThanThreshold"
        assert {"Name": "service", "Value": "billbridge"} in found["Dimensions"]
    for currency, amount in thresholds["revenue_leakage"].items():
        leakage = alarm(synthesized.template, f"MonitoringRevenueLeakage{currency}Alarm")
        assert leakage["MetricName"] == "RevenueLeakageAmount" and leakage["Threshold"] == float(amount)
        assert {"Name": "Currency", "Value": currency} in leakage["Dimensions"]


def test_a_threshold_left_out_has_no_alarm() -> None:
    context = {**cdk_context(), "billbridge:kpi_thresholds": {"dso_days": 30}}
    app, stack = build_app(context=context)
    template = app.synth().get_stack_artifact(stack.artifact_id).template
    ids = set(alarms_by_id(template))
    assert any(i.startswith("MonitoringDsoAlarm") for i in ids)
    assert not any(i.startswith(("MonitoringDisputeRateAlarm", "MonitoringRevenueLeakage")) for i in ids)


def test_a_held_downstream_command_pages_refused_and_failed_apart(synthesized: Synthesized) -> None:
    for prefix, exception_type in (
        ("MonitoringSyncRefusedAlarm", "sync_refused"),
        ("MonitoringSyncFailedAlarm", "sync_failed"),
    ):
        found = alarm(synthesized.template, prefix)
        assert found["MetricName"] == "ExceptionsOpen" and found["Threshold"] == 0
        assert {"Name": "ExceptionType", "Value": exception_type} in found["Dimensions"]


def test_the_kpi_publisher_that_stops_being_invoked_pages_after_three_missed_ticks(synthesized: Synthesized) -> None:
    found = alarm(synthesized.template, "KpiPublisherStoppedAlarm")
    publisher = synthesized.logical_id(synthesized.stack.kpi_publisher.publisher.function)
    assert found["MetricName"] == "Invocations" and found["Namespace"] == "AWS/Lambda"
    assert found["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": publisher}}]
    assert (found["Period"], found["EvaluationPeriods"], found["DatapointsToAlarm"]) == (3600, 3, 3)
    assert found["ComparisonOperator"] == "LessThanThreshold" and found["Threshold"] == 1
    assert found["TreatMissingData"] == "breaching"  # not invoked writes no datapoint at all


def test_a_poller_pages_when_it_stops_only_once_its_vendor_is_configured(synthesized: Synthesized) -> None:
    assert not any(i.startswith("NetSuiteInvoicesStoppedAlarm") for i in alarms_by_id(synthesized.template))
    adapters = {"erp/netsuite": {"api_base_url": "https://1234567.suitetalk.api.netsuite.com/services/rest"}}
    app, stack = build_app(context={"billbridge:vendor_adapters": adapters})
    template = app.synth().get_stack_artifact(stack.artifact_id).template
    found = alarm(template, "NetSuiteInvoicesStoppedAlarm")
    assert found["Period"] == 300 and found["EvaluationPeriods"] == 3


def test_no_billing_run_started_on_the_schedules_day_pages(synthesized: Synthesized) -> None:
    found = alarm(synthesized.template, "BillingScheduleBillingRunMissedAlarm")
    expressions = [m.get("Expression", "") for m in found["Metrics"]]
    config = BillbridgeConfig.from_context(synthesized.stack.node)
    assert f"IF(DAY(started) == {config.billing_day_of_month} AND started < 1, 1, 0)" in expressions
    assert "FILL(executions, 0)" in expressions
    (started,) = [m for m in found["Metrics"] if "MetricStat" in m]
    assert started["MetricStat"]["Metric"]["MetricName"] == "ExecutionsStarted"
    assert started["MetricStat"]["Period"] == 86400


@pytest.mark.parametrize(
    ("day", "hour", "zone", "utc_day"),
    [
        (1, 2, "Etc/UTC", 1),
        (5, 22, "America/New_York", 6),  # 22:00 EST is 03:00 UTC the next day
        (1, 0, "Europe/Berlin", 0),  # midnight in Berlin is the previous month's last day in UTC
        (15, 9, "Asia/Tokyo", 15),
    ],
)
def test_the_billing_day_is_taken_in_utc(day: int, hour: int, zone: str, utc_day: int) -> None:
    assert billing_utc_day(day, hour, zone) == utc_day


def test_only_rate_schedules_have_an_interval_to_miss() -> None:
    assert schedule_interval("rate(5 minutes)").to_seconds() == 300  # type: ignore[union-attr]
    assert schedule_interval("rate(1 hour)").to_seconds() == 3600  # type: ignore[union-attr]
    assert schedule_interval("cron(0 * * * ? *)") is None


@pytest.mark.parametrize(
    "thresholds",
    [{"dso": 10}, {"dso_days": -1}, {"dispute_rate_percent": "many"}, {"revenue_leakage": {"euro": "10"}}],
)
def test_thresholds_that_cannot_be_alarmed_on_fail_the_synth(thresholds: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="kpi_thresholds"):
        validate_kpi_thresholds(thresholds)


def test_every_new_alarm_notifies_the_alarm_topic(synthesized: Synthesized) -> None:
    topic = synthesized.logical_id(synthesized.stack.monitoring.alarm_topic)
    for logical_id, properties in alarms_by_id(synthesized.template).items():
        assert {"Ref": topic} in properties.get("AlarmActions", []), logical_id
    assert json.dumps(synthesized.template).count("StoppedAlarm") >= 1
