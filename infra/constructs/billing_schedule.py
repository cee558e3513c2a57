"""Starts the billing run once a month, in a chosen time zone."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from billbridge import topology
from constructs import Construct

from infra.constructs.function_defaults import BillbridgeFunction, FunctionDefaults
from infra.constructs.scheduled_function import ScheduledFunction

MAX_EVENT_AGE = cdk.Duration.hours(6)
RETRY_ATTEMPTS = 10


class BillingSchedule(Construct):
    """An EventBridge Scheduler schedule invoking the starter function.

    EventBridge Scheduler evaluates the cron expression in `time_zone` (IANA name),
    daylight saving included, which a plain EventBridge rule (UTC only) cannot do.
    The starter may only `states:StartExecution` on the one state machine; it names the
    execution deterministically, so a repeated invocation cannot start a second run.
    Failed invocations (Scheduler retries, then Lambda's asynchronous retries) end in
    `dead_letter_queue`, which alarms.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: FunctionDefaults,
        state_machine: sfn.IStateMachine,
        day_of_month: int,
        hour: int,
        time_zone: str,
    ) -> None:
        super().__init__(scope, construct_id)
        # "Default" is left out of logical ids: the resources keep theirs.
        self.scheduled = ScheduledFunction(
            self,
            "Default",
            functions=functions,
            function_id="Starter",
            handler=topology.START_BILLING_RUN_HANDLER,
            description="Starts the monthly billing run",
            purpose="the billing run starter",
            environment={topology.ENV_STATE_MACHINE_ARN: state_machine.state_machine_arn},
            schedule=scheduler.ScheduleExpression.cron(
                minute="0",
                hour=str(hour),
                day=str(day_of_month),
                month="*",
                year="*",
                time_zone=cdk.TimeZone.of(time_zone),
            ),
            schedule_description="Monthly billing run",
            max_event_age=MAX_EVENT_AGE,
            retry_attempts=RETRY_ATTEMPTS,
            dead_letter_recovery="an operator inspects it and re-runs the billing run.",
            alarm_description="The billing run could not be started",
        )
        self.starter: BillbridgeFunction = self.scheduled.function
        self.dead_letter_queue: sqs.Queue = self.scheduled.dead_letter_queue
        self.scheduler_role: iam.Role = self.scheduled.scheduler_role
        self.schedule: scheduler.Schedule = self.scheduled.schedule
        self.dead_letter_alarm: cloudwatch.Alarm = self.scheduled.dead_letter_alarm

        state_machine.grant_start_execution(self.starter.function)
        # A duplicated tick finds its execution by name and starts nothing new.
        state_machine.grant_execution(self.starter.function, "states:DescribeExecution")
        machine_id = cdk.Stack.of(self).get_logical_id(state_machine.node.default_child)  # type: ignore[arg-type]
        cdk.Validations.of(self.starter.role).acknowledge(
            cdk.Acknowledgment(
                id=(
                    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>"
                    f':execution:{{"Fn::Select":[6,{{"Fn::Split":[":",{{"Ref":"{machine_id}"}}]}}]}}:*]'
                ),
                reason="states:DescribeExecution on this one state machine's executions, whose names are "
                "only known at run time (deterministic per period and request).",
            )
        )
