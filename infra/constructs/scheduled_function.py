"""A function invoked on a schedule by EventBridge Scheduler, with its failure path."""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.function_defaults import BillbridgeFunction, FunctionDefaults
from infra.constructs.queue_parts import DEAD_LETTER_RETENTION, depth_alarm, encrypted_queue

SCHEDULED_EVENT_INPUT = {
    "source": "aws.scheduler",
    "detail-type": "Scheduled Event",
    "time": scheduler.ContextAttribute.scheduled_time,
    "id": scheduler.ContextAttribute.execution_id,
    "detail": {},
}
"""The shape of an EventBridge "Scheduled Event": `time` is the scheduled time."""


class ScheduledFunction(Construct):
    """An EventBridge Scheduler schedule invoking one function, and where its failures end.

    The schedule's target sends a "Scheduled Event"-shaped input through `scheduler_role`
    (assumable by Scheduler from this account only). Failed invocations (Scheduler's
    `retry_attempts` within `max_event_age`, then Lambda's asynchronous retries) end in
    `dead_letter_queue`, which is also the function's on-failure destination and alarms
    (`dead_letter_alarm`) as soon as it holds a message.

    `purpose` names the function in descriptions and acknowledgement reasons ("the KPI
    publisher"); `dead_letter_recovery` says what happens to a message in the queue.

    Callers that replace an inline setup create it with the id `"Default"`, which CDK leaves
    out of logical ids: the resources keep the logical ids they had.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: FunctionDefaults,
        function_id: str,
        handler: str,
        description: str,
        purpose: str,
        schedule: scheduler.ScheduleExpression,
        schedule_description: str,
        max_event_age: cdk.Duration,
        retry_attempts: int,
        dead_letter_recovery: str,
        alarm_description: str,
        environment: Mapping[str, str] | None = None,
        timeout: cdk.Duration | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.dead_letter_queue: sqs.Queue = encrypted_queue(
            self, "DeadLetterQueue", retention_period=DEAD_LETTER_RETENTION
        )
        cdk.Validations.of(self.dead_letter_queue).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-SQS3",
                reason=f"This queue is the dead-letter queue of the schedule target and the on-failure "
                f"destination of {purpose}, which cdk-nag does not recognise as a DLQ.",
            ),
            cdk.Acknowledgment(
                id="Serverless-SQSRedrivePolicy",
                reason=f"This queue is itself the end of a failure path; {dead_letter_recovery}",
            ),
        )

        self.function: BillbridgeFunction = functions.new_function(
            self,
            function_id,
            handler=handler,
            description=description,
            environment=environment,
            timeout=timeout,
            failure_queue=self.dead_letter_queue,
        )

        self.scheduler_role: iam.Role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            ),
            description=f"Lets EventBridge Scheduler invoke {purpose}",
        )
        self.schedule: scheduler.Schedule = scheduler.Schedule(
            self,
            "Schedule",
            description=schedule_description,
            schedule=schedule,
            target=scheduler_targets.LambdaInvoke(
                self.function.function,
                input=scheduler.ScheduleTargetInput.from_object(SCHEDULED_EVENT_INPUT),
                dead_letter_queue=self.dead_letter_queue,
                role=self.scheduler_role,
                max_event_age=max_event_age,
                retry_attempts=retry_attempts,
            ),
        )
        function_logical_id = stack.get_logical_id(self.function.function.node.default_child)  # type: ignore[arg-type]
        cdk.Validations.of(self.scheduler_role).acknowledge(
            cdk.Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::<{function_logical_id}.Arn>:*]",
                reason=f"lambda:InvokeFunction on {purpose}'s versions and aliases (ARN:*), granted by "
                "the Scheduler target; scoped to this one function.",
            )
        )

        self.dead_letter_alarm: cloudwatch.Alarm = depth_alarm(
            self, "DeadLetterQueueAlarm", self.dead_letter_queue, alarm_description
        )
