"""Publishes the operating KPIs (computed from the ledger) as CloudWatch metrics, on a schedule."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sqs as sqs
from billbridge import topology
from constructs import Construct

from infra.constructs.function_defaults import BillbridgeFunction, FunctionDefaults

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
    a cron is evaluated in `time_zone`. Failed invocations (Scheduler retries, then
    Lambda's asynchronous retries) end in `dead_letter_queue`, which alarms.
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
        stack = cdk.Stack.of(self)
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        cdk.Validations.of(self.dead_letter_queue).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-SQS3",
                reason="This queue is the dead-letter queue of the KPI schedule target and the "
                "on-failure destination of the publisher, which cdk-nag does not recognise as a DLQ.",
            ),
            cdk.Acknowledgment(
                id="Serverless-SQSRedrivePolicy",
                reason="This queue is itself the end of a failure path; it alarms, and the next tick "
                "publishes fresh KPIs anyway.",
            ),
        )

        self.publisher: BillbridgeFunction = functions.new_function(
            self,
            "Publisher",
            handler=topology.PUBLISH_KPIS_HANDLER,
            description="Publishes the operating KPIs computed from the ledger as CloudWatch metrics",
            timeout=PUBLISHER_TIMEOUT,
            failure_queue=self.dead_letter_queue,
        )
        ledger.grant(self.publisher.role, *LEDGER_READ_ACTIONS)
        ledger_id = stack.get_logical_id(ledger.node.default_child)  # type: ignore[arg-type]
        cdk.Validations.of(self.publisher.role).acknowledge(
            cdk.Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::<{ledger_id}.Arn>/index/*]",
                reason="Read-only (GetItem, Query, Scan) on the ledger's lookup index; the wildcard "
                "covers only this table's indexes.",
            )
        )

        self.scheduler_role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            ),
            description="Lets EventBridge Scheduler invoke the KPI publisher",
        )
        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            description="Operating KPIs to CloudWatch",
            schedule=scheduler.ScheduleExpression.expression(
                schedule_expression,
                cdk.TimeZone.of(time_zone) if schedule_expression.startswith("cron(") else None,
            ),
            target=scheduler_targets.LambdaInvoke(
                self.publisher.function,
                # The shape of an EventBridge "Scheduled Event": `time` (the scheduled time) is
                # the day the KPIs are computed as of.
                input=scheduler.ScheduleTargetInput.from_object(
                    {
                        "source": "aws.scheduler",
                        "detail-type": "Scheduled Event",
                        "time": scheduler.ContextAttribute.scheduled_time,
                        "id": scheduler.ContextAttribute.execution_id,
                        "detail": {},
                    }
                ),
                dead_letter_queue=self.dead_letter_queue,
                role=self.scheduler_role,
                max_event_age=MAX_EVENT_AGE,
                retry_attempts=RETRY_ATTEMPTS,
            ),
        )
        publisher_id = stack.get_logical_id(self.publisher.function.node.default_child)  # type: ignore[arg-type]
        cdk.Validations.of(self.scheduler_role).acknowledge(
            cdk.Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::<{publisher_id}.Arn>:*]",
                reason="lambda:InvokeFunction on the KPI publisher's versions and aliases (ARN:*), "
                "granted by the Scheduler target; scoped to this one function.",
            )
        )
        self.dead_letter_alarm = cloudwatch.Alarm(
            self,
            "DeadLetterQueueAlarm",
            alarm_description="The operating KPIs could not be published",
            metric=self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=cdk.Duration.minutes(1), statistic=cloudwatch.Stats.MAXIMUM
            ),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
