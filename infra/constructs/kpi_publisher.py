"""Publishes the operating KPIs (computed from the ledger) as CloudWatch metrics, on a schedule."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from billbridge import topology
from constructs import Construct

from infra.constructs.function_defaults import BillbridgeFunction, FunctionDefaults
from infra.constructs.scheduled_function import ScheduledFunction

PUBLISHER_TIMEOUT = cdk.Duration.minutes(5)
"""Reads every book and each contract's audit trail: longer than a webhook, far less than a tick."""
MAX_EVENT_AGE = cdk.Duration.hours(1)
"""A KPI tick older than an hour is superseded by the next one (default schedule: hourly)."""
RETRY_ATTEMPTS = 5
LEDGER_READ_ACTIONS = ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan")


class KpiPublisher(Construct):
    """An EventBridge Scheduler schedule invoking the KPI publisher function.

    The function (`topology.PUBLISH_KPIS_HANDLER`) may only read the ledger (table and
    index): it computes the KPIs and writes them as EMF metrics to its log, which needs no
    CloudWatch permission. `schedule_expression` is a Scheduler `rate(...)` or `cron(...)`;
    a cron is evaluated in `time_zone`. The input's `time` (the scheduled time) is the day
    the KPIs are computed as of. Failed invocations (Scheduler retries, then Lambda's
    asynchronous retries) end in `dead_letter_queue`, which alarms.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: FunctionDefaults,
        ledger: dynamodb.ITable,
        schedule_expression: str,
        time_zone: str,
    ) -> None:
        super().__init__(scope, construct_id)
        # "Default" is left out of logical ids: the resources keep theirs.
        self.scheduled = ScheduledFunction(
            self,
            "Default",
            functions=functions,
            function_id="Publisher",
            handler=topology.PUBLISH_KPIS_HANDLER,
            description="Publishes the operating KPIs computed from the ledger as CloudWatch metrics",
            purpose="the KPI publisher",
            timeout=PUBLISHER_TIMEOUT,
            schedule=scheduler.ScheduleExpression.expression(
                schedule_expression,
                cdk.TimeZone.of(time_zone) if schedule_expression.startswith("cron(") else None,
            ),
            schedule_description="Operating KPIs to CloudWatch",
            max_event_age=MAX_EVENT_AGE,
            retry_attempts=RETRY_ATTEMPTS,
            dead_letter_recovery="it alarms, and the next tick publishes fresh KPIs anyway.",
            alarm_description="The operating KPIs could not be published",
        )
        self.publisher: BillbridgeFunction = self.scheduled.function
        self.dead_letter_queue: sqs.Queue = self.scheduled.dead_letter_queue
        self.scheduler_role: iam.Role = self.scheduled.scheduler_role
        self.schedule: scheduler.Schedule = self.scheduled.schedule
        self.dead_letter_alarm: cloudwatch.Alarm = self.scheduled.dead_letter_alarm

        ledger.grant(self.publisher.role, *LEDGER_READ_ACTIONS)
        ledger_id = cdk.Stack.of(self).get_logical_id(ledger.node.default_child)  # type: ignore[arg-type]
        cdk.Validations.of(self.publisher.role).acknowledge(
            cdk.Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::<{ledger_id}.Arn>/index/*]",
                reason="Read-only (GetItem, Query, Scan) on the ledger's lookup index; the wildcard "
                "covers only this table's indexes.",
            )
        )
