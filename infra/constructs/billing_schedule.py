"""Starts the billing run once a month, in a chosen time zone."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from billbridge import topology
from constructs import Construct

from infra.constructs.function_defaults import BillbridgeFunction, FunctionDefaults

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
                reason="This queue is the dead-letter queue of the schedule target and the on-failure "
                "destination of the starter function, which cdk-nag does not recognise as a DLQ.",
            ),
            cdk.Acknowledgment(
                id="Serverless-SQSRedrivePolicy",
                reason="This queue is itself the end of a failure path; an operator inspects it and "
                "re-runs the billing run.",
            ),
        )
        self.starter: BillbridgeFunction = functions.new_function(
            self,
            "Starter",
            handler=topology.START_BILLING_RUN_HANDLER,
            description="Starts the monthly billing run",
            environment={topology.ENV_STATE_MACHINE_ARN: state_machine.state_machine_arn},
            failure_queue=self.dead_letter_queue,
        )
        state_machine.grant_start_execution(self.starter.function)
        # A duplicated tick finds its execution by name and starts nothing new.
        state_machine.grant_execution(self.starter.function, "states:DescribeExecution")
        machine_id = cdk.Stack.of(self).get_logical_id(state_machine.node.default_child)  # type: ignore[arg-type]
        cdk.Validations.of(self.starter.function.role).acknowledge(  # type: ignore[arg-type]
            cdk.Acknowledgment(
                id=(
                    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>"
                    f':execution:{{"Fn::Select":[6,{{"Fn::Split":[":",{{"Ref":"{machine_id}"}}]}}]}}:*]'
                ),
                reason="states:DescribeExecution on this one state machine's executions, whose names are "
                "only known at run time (deterministic per period and request).",
            )
        )

        self.scheduler_role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Stack.of(self).account}},
            ),
            description="Lets EventBridge Scheduler invoke the billing run starter",
        )
        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            description="Monthly billing run",
            schedule=scheduler.ScheduleExpression.cron(
                minute="0",
                hour=str(hour),
                day=str(day_of_month),
                month="*",
                year="*",
                time_zone=cdk.TimeZone.of(time_zone),
            ),
            target=scheduler_targets.LambdaInvoke(
                self.starter.function,
                # The shape of an EventBridge "Scheduled Event": `time` is the scheduled time.
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
        starter_id = cdk.Stack.of(self).get_logical_id(self.starter.function.node.default_child)  # type: ignore[arg-type]
        cdk.Validations.of(self.scheduler_role).acknowledge(
            cdk.Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::<{starter_id}.Arn>:*]",
                reason="lambda:InvokeFunction on the starter's versions and aliases (ARN:*), granted by "
                "the Scheduler target; scoped to this one function.",
            )
        )
        self.dead_letter_alarm = cloudwatch.Alarm(
            self,
            "DeadLetterQueueAlarm",
            alarm_description="The billing run could not be started",
            metric=self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=cdk.Duration.minutes(1), statistic=cloudwatch.Stats.MAXIMUM
            ),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
