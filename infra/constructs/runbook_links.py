"""Every alarm's description ends with a link to its section of the operations runbook
(`docs/operations.md`, "Alarms"), so the page that wakes an operator says what to do."""

from __future__ import annotations

from aws_cdk import aws_cloudwatch as cloudwatch
from billbridge import topology
from constructs import Construct

MAX_DESCRIPTION = 1024
"""CloudWatch's limit on an alarm description."""

SCHEDULED_ANCHORS: dict[str, str] = {
    "BillingSchedule": "the-billing-run-could-not-be-started",
    "KpiPublisher": "the-kpis-could-not-be-published",
}
ANCHOR_BY_ALARM: dict[str, str] = {
    "DeliveryDeadLetterQueueAlarm": "events-could-not-be-delivered-to-a-workflow-queue",
    "OldestMessageAgeAlarm": "a-workflow-queue-is-not-drained-fast-enough",
    "Api5xxRateAlarm": "webhooks-answered-5xx",
    "Api4xxRateAlarm": "webhooks-refused-4xx",
    "BillingRunFailedAlarm": "a-billing-run-failed",
    "StalePropagationAlarm": "a-contract-version-is-not-acknowledged",
    "BillingRunMissedAlarm": "no-billing-run-started-on-its-day",
    "SyncRefusedAlarm": "a-downstream-system-refused-a-command",
    "SyncFailedAlarm": "a-command-to-a-downstream-system-failed",
    "DsoAlarm": "dso-above-its-threshold",
    "DisputeRateAlarm": "dispute-rate-above-its-threshold",
    "FailureResolutionAlarm": "integration-failures-take-too-long-to-close",
    "OldestOpenFailureAlarm": "an-integration-failure-has-been-open-too-long",
    "ApprovalToInvoiceAlarm": "approved-time-takes-too-long-to-reach-an-invoice",
}
STOPPED_ANCHORS: dict[str, str] = {"KpiPublisher": "the-kpi-publisher-stopped"}


SECTION_BY_OWNER: dict[str, str] = {
    "BulkIntake": "bulk-intake-failed",
    "DataFeed": "the-data-feed-is-not-delivered",
}
"""Constructs whose alarms all share one section."""


def runbook_anchor(alarm: cloudwatch.Alarm) -> str:
    """The section of the runbook for one of the stack's alarms (by its construct id and parent)."""
    name = alarm.node.id
    if _owner_id(alarm) in SECTION_BY_OWNER:
        return SECTION_BY_OWNER[_owner_id(alarm)]
    if name in ANCHOR_BY_ALARM:
        return ANCHOR_BY_ALARM[name]
    if name.startswith("RevenueLeakage") and name.endswith("Alarm"):
        return "revenue-leakage-above-its-threshold"
    if name == "StoppedAlarm":
        owner = _owner_id(alarm)
        if owner in STOPPED_ANCHORS:
            return STOPPED_ANCHORS[owner]
        if owner in {poller.construct_id for poller in topology.VENDOR_POLLERS}:
            return "a-vendor-poller-stopped"
    if name == "DeadLetterQueueAlarm":
        owner = _owner_id(alarm)
        if owner in {workflow.construct_id for workflow in topology.WORKFLOWS}:
            return "a-consumer-dead-lettered-messages"
        if owner in SCHEDULED_ANCHORS:
            return SCHEDULED_ANCHORS[owner]
        if owner in {poller.construct_id for poller in topology.VENDOR_POLLERS}:
            return "a-vendor-poll-failed"
    raise ValueError(f"no runbook section for the alarm {alarm.node.path}: add one to docs/operations.md")


def _owner_id(alarm: cloudwatch.Alarm) -> str:
    """The id of the construct the alarm watches for (its nearest named ancestor)."""
    scope = alarm.node.scope
    while scope is not None and scope.node.id == "Default":
        scope = scope.node.scope
    return scope.node.id if scope is not None else ""


def link_runbooks(scope: Construct, runbook_url: str) -> None:
    """Append `Runbook: URL#section` to the description of every alarm under `scope`."""
    for construct in scope.node.find_all():
        if not isinstance(construct, cloudwatch.Alarm):
            continue
        alarm = construct.node.default_child
        assert isinstance(alarm, cloudwatch.CfnAlarm)
        link = f" Runbook: {runbook_url}#{runbook_anchor(construct)}"
        description = alarm.alarm_description or ""
        alarm.alarm_description = description[: MAX_DESCRIPTION - len(link)] + link
