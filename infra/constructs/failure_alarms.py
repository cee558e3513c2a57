"""The alarms that page when something stops or a business figure goes past its threshold.

- A scheduled function that stops being invoked (its schedule disabled or deleted, its
  role broken): `Invocations` below 1 for three of its intervals (`stopped_alarm`). Only
  `rate(...)` schedules have an interval to count; a `cron(...)` KPI schedule has none and
  relies on its dead-letter alarm.
- The monthly billing run that did not start on its day (`billing_run_missed_alarm`):
  the state machine's `ExecutionsStarted` on the UTC day the schedule fires (derived from
  the billing day, hour and time zone), through metric math `DAY()`.
- Downstream commands held: an open `sync_refused` or `sync_failed` exception, from the
  `ExceptionsOpen` series the KPI publisher writes per exception type (`sync_held_alarms`).
- The seed's KPIs past the thresholds of `billbridge:kpi_thresholds` (cdk.json context):
  `kpi_threshold_alarms`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs.function_defaults import METRICS_NAMESPACE

KPI_PERIOD = cdk.Duration.hours(1)
MISSED_TICKS = 3
"""A scheduled function pages once it has missed this many of its ticks in a row."""
RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")


def schedule_interval(expression: str) -> cdk.Duration | None:
    """The interval of a Scheduler `rate(...)` expression; None for a `cron(...)`."""
    found = RATE.match(expression.strip())
    if found is None:
        return None
    amount, unit = int(found.group(1)), found.group(2)
    if unit.startswith("minute"):
        return cdk.Duration.minutes(amount)
    if unit.startswith("hour"):
        return cdk.Duration.hours(amount)
    return cdk.Duration.days(amount)


def stopped_alarm(
    scope: Construct, *, function: lambda_.IFunction, schedule_expression: str, what: str
) -> cloudwatch.Alarm | None:
    """`StoppedAlarm` under `scope`: the function was not invoked for three of its intervals."""
    interval = schedule_interval(schedule_expression)
    if interval is None:
        return None
    period = cdk.Duration.minutes(max(1, min(int(interval.to_minutes()), 24 * 60)))
    return cloudwatch.Alarm(
        scope,
        "StoppedAlarm",
        alarm_description=f"{what} was not invoked for {MISSED_TICKS} of its ticks ({schedule_expression}): "
        "its schedule is disabled, deleted or cannot invoke it",
        metric=function.metric_invocations(period=period, statistic=cloudwatch.Stats.SUM),
        threshold=1,
        comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluation_periods=MISSED_TICKS,
        datapoints_to_alarm=MISSED_TICKS,
        # No invocation writes no datapoint: missing data is what "stopped" looks like.
        treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
    )


def billing_utc_day(day_of_month: int, hour: int, time_zone: str) -> int:
    """The UTC day of month on which the schedule (`day_of_month` at `hour` in `time_zone`) fires,
    taken in January (standard time); a run at the month's first hours east of UTC fires on the
    previous month's last day: 0 means that day."""
    local = datetime(2026, 1, day_of_month, hour, tzinfo=ZoneInfo(time_zone))
    utc = local.astimezone(ZoneInfo("UTC"))
    return utc.day if utc.month == local.month else 0


def billing_run_missed_alarm(
    scope: Construct, *, state_machine: sfn.StateMachine, day_of_month: int, hour: int, time_zone: str
) -> cloudwatch.Alarm:
    utc_day = billing_utc_day(day_of_month, hour, time_zone)
    # On the day the schedule fires (UTC), no execution started: the schedule stopped or the
    # starter could not start one. `DAY()` of a daily datapoint is its UTC day of month; day 0
    # (the previous month's last day) is any day from the 28th on.
    on_the_day = f"DAY(started) == {utc_day}" if utc_day else "DAY(started) >= 28"
    return cloudwatch.Alarm(
        scope,
        "BillingRunMissedAlarm",
        alarm_description=f"No billing run started on its day ({day_of_month} at {hour:02d}:00 {time_zone}): "
        "the billing schedule stopped or the starter failed",
        metric=cloudwatch.MathExpression(
            expression=f"IF({on_the_day} AND started < 1, 1, 0)",
            using_metrics={
                "started": cloudwatch.MathExpression(
                    expression="FILL(executions, 0)",
                    using_metrics={
                        "executions": state_machine.metric_started(
                            period=cdk.Duration.days(1), statistic=cloudwatch.Stats.SUM
                        )
                    },
                    period=cdk.Duration.days(1),
                )
            },
            period=cdk.Duration.days(1),
            label="billing run missed",
        ),
        threshold=0,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=1,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )


def _kpi(service_name: str, name: str, **dimensions: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={**dimensions, "service": service_name},
        statistic=cloudwatch.Stats.MAXIMUM,
        period=KPI_PERIOD,
    )


def sync_held_alarms(scope: Construct, *, service_name: str) -> list[cloudwatch.Alarm]:
    """A downstream command refused (`sync_refused`) or failed after retries (`sync_failed`)."""
    return [
        cloudwatch.Alarm(
            scope,
            construct_id,
            alarm_description=description,
            metric=_kpi(service_name, "ExceptionsOpen", ExceptionType=exception_type),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        for construct_id, exception_type, description in (
            (
                "SyncRefusedAlarm",
                "sync_refused",
                "The PSA or an ERP refused a command (project, billing schedule, invoice status): it is held",
            ),
            (
                "SyncFailedAlarm",
                "sync_failed",
                "A command to the PSA or an ERP got no usable answer after the connector's retries: it is held",
            ),
        )
    ]


KPI_THRESHOLD_ALARMS: tuple[tuple[str, str, str, str], ...] = (
    # (threshold key, construct id, metric, description)
    ("dso_days", "DsoAlarm", "DaysSalesOutstanding", "DSO (posting to payment, worst currency) above {} days"),
    ("dispute_rate_percent", "DisputeRateAlarm", "DisputeRatePercent", "Dispute rate above {} % of invoices"),
    (
        "failure_resolution_hours",
        "FailureResolutionAlarm",
        "FailureResolutionMedianHours",
        "Integration failures take more than {} h (median) to close",
    ),
    (
        "oldest_open_failure_hours",
        "OldestOpenFailureAlarm",
        "OldestOpenFailureHours",
        "An exception or dead letter has been open for more than {} h",
    ),
    (
        "approval_to_invoice_days",
        "ApprovalToInvoiceAlarm",
        "ApprovalToInvoiceMedianDays",
        "Approved time takes more than {} days (median) to reach an invoice",
    ),
)
KPI_THRESHOLD_KEYS = frozenset({key for key, _, _, _ in KPI_THRESHOLD_ALARMS} | {"revenue_leakage"})


def kpi_threshold_alarms(
    scope: Construct, *, service_name: str, thresholds: Mapping[str, Any]
) -> list[cloudwatch.Alarm]:
    """One alarm per configured threshold (absent: no alarm); revenue leakage per currency."""
    alarms = []
    for key, construct_id, metric, description in KPI_THRESHOLD_ALARMS:
        if thresholds.get(key) is None:
            continue
        threshold = Decimal(str(thresholds[key]))
        alarms.append(
            cloudwatch.Alarm(
                scope,
                construct_id,
                alarm_description=description.format(threshold),
                metric=_kpi(service_name, metric),
                # CloudWatch compares doubles: the threshold is converted here, at the edge.
                threshold=float(threshold),
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
        )
    for currency, amount in sorted((thresholds.get("revenue_leakage") or {}).items()):
        threshold = Decimal(str(amount))
        alarms.append(
            cloudwatch.Alarm(
                scope,
                f"RevenueLeakage{currency}Alarm",
                alarm_description=f"Revenue leakage (written off and withdrawn) above {threshold} {currency}",
                metric=_kpi(service_name, "RevenueLeakageAmount", Currency=currency),
                threshold=float(threshold),
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
        )
    return alarms


def validate_kpi_thresholds(thresholds: Mapping[str, Any]) -> None:
    """Refuse unknown keys and values that are not non-negative amounts (at synth)."""
    unknown = sorted(set(thresholds) - KPI_THRESHOLD_KEYS)
    if unknown:
        known = ", ".join(sorted(KPI_THRESHOLD_KEYS))
        raise ValueError(f"kpi_thresholds: unknown {', '.join(unknown)}; known: {known}")
    values = [v for k, v in thresholds.items() if k != "revenue_leakage" and v is not None]
    leakage = thresholds.get("revenue_leakage") or {}
    if not isinstance(leakage, Mapping):
        raise ValueError("kpi_thresholds.revenue_leakage: an object of currency code to amount")
    for value in [*values, *leakage.values()]:
        try:
            amount = Decimal(str(value))
        except ArithmeticError:
            raise ValueError(f"kpi_thresholds: {value!r} is not a number") from None
        if not amount.is_finite() or amount < 0:
            raise ValueError(f"kpi_thresholds: {value!r} must be a number at least 0")
    for currency in leakage:
        if not re.fullmatch(r"[A-Z]{3}", str(currency)):
            raise ValueError(f"kpi_thresholds.revenue_leakage: {currency!r} is not an ISO 4217 code")
