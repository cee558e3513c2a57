"""One asynchronous workflow: bus rule -> queue -> consumer, with every failure path."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sqs as sqs
from billbridge import topology
from constructs import Construct

from infra.constructs.function_defaults import BillbridgeFunction, FunctionDefaults
from infra.constructs.queue_parts import DEAD_LETTER_RETENTION, depth_alarm, encrypted_queue

CONSUMER_TIMEOUT = cdk.Duration.seconds(60)
RULE_MAX_EVENT_AGE = cdk.Duration.hours(24)
RULE_RETRY_ATTEMPTS = 50
END_OF_FAILURE_PATH = cdk.Acknowledgment(
    id="Serverless-SQSRedrivePolicy",
    reason="A dead-letter queue is the end of its failure path: it alarms, and an operator inspects "
    "and redrives its messages to the workflow queue.",
)


class QueueConsumer(Construct):
    """Rule on the bus with `workflow.event_pattern` feeding a queue drained by a Lambda.

    Failure paths, all created here so that no consumer can exist without them:
    - the rule's target retries delivery, then parks the event in `delivery_dead_letter_queue`;
    - the queue redrives a message to `dead_letter_queue` after `workflow.max_receive_count`
      receives;
    - the consumer reports partial batch failures, so one bad message is retried alone
      (which is also what makes a large batch with a batching window safe: one invocation
      for many records, `workflow.max_batching_window_seconds`, where volume makes it pay);
    - alarms on both dead-letter queues and on the age of the oldest queued message.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        workflow: topology.Workflow,
        bus: events.IEventBus,
        functions: FunctionDefaults,
        age_alarm_threshold: cdk.Duration,
    ) -> None:
        super().__init__(scope, construct_id)
        self.workflow = workflow
        self.dead_letter_queue = encrypted_queue(self, "DeadLetterQueue", retention_period=DEAD_LETTER_RETENTION)
        cdk.Validations.of(self.dead_letter_queue).acknowledge(END_OF_FAILURE_PATH)
        self.queue = encrypted_queue(
            self,
            "Queue",
            # Lambda's guidance: six times the function timeout, plus the batching window.
            visibility_timeout=cdk.Duration.seconds(
                CONSUMER_TIMEOUT.to_seconds() * 6 + workflow.max_batching_window_seconds
            ),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=workflow.max_receive_count
            ),
        )
        self.delivery_dead_letter_queue = encrypted_queue(
            self, "DeliveryDeadLetterQueue", retention_period=DEAD_LETTER_RETENTION
        )
        cdk.Validations.of(self.delivery_dead_letter_queue).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-SQS3",
                reason="This queue is the dead-letter queue of the EventBridge rule target "
                "(DeadLetterConfig), which cdk-nag does not recognise as a DLQ.",
            ),
            END_OF_FAILURE_PATH,
        )

        self.rule = events.Rule(
            self,
            "Rule",
            event_bus=bus,
            description=f"Canonical events of the {workflow.name} workflow",
            event_pattern=events.EventPattern(
                source=workflow.event_pattern["source"],
                detail_type=workflow.event_pattern["detail-type"],
            ),
            targets=[
                targets.SqsQueue(
                    self.queue,
                    dead_letter_queue=self.delivery_dead_letter_queue,
                    max_event_age=RULE_MAX_EVENT_AGE,
                    retry_attempts=RULE_RETRY_ATTEMPTS,
                )
            ],
        )

        self.consumer: BillbridgeFunction = functions.new_function(
            self,
            "Consumer",
            handler=workflow.handler,
            description=f"Consumes the {workflow.name} queue",
            timeout=CONSUMER_TIMEOUT,
            synchronous_reason="Invoked by an SQS event source mapping: failed messages return to the "
            "queue and go to its redrive dead-letter queue.",
        )
        self.consumer.function.add_event_source(
            event_sources.SqsEventSource(
                self.queue,
                batch_size=workflow.batch_size,
                max_batching_window=(
                    cdk.Duration.seconds(workflow.max_batching_window_seconds)
                    if workflow.max_batching_window_seconds
                    else None
                ),
                report_batch_item_failures=True,
            )
        )
        cdk.Validations.of(self.consumer.function).acknowledge(
            cdk.Acknowledgment(
                id="Serverless-LambdaEventSourceMappingDestination",
                reason="SQS event source mappings do not support an on-failure destination; the "
                "queue's redrive policy sends failed messages to its dead-letter queue.",
            )
        )

        self.dead_letter_alarm = depth_alarm(
            self,
            "DeadLetterQueueAlarm",
            self.dead_letter_queue,
            f"{workflow.name} consumer failed: messages are waiting in DeadLetterQueue",
        )
        self.delivery_dead_letter_alarm = depth_alarm(
            self,
            "DeliveryDeadLetterQueueAlarm",
            self.delivery_dead_letter_queue,
            f"{workflow.name} events could not be delivered to the queue: "
            "messages are waiting in DeliveryDeadLetterQueue",
        )
        self.age_alarm = cloudwatch.Alarm(
            self,
            "OldestMessageAgeAlarm",
            alarm_description=f"The {workflow.name} queue is not drained fast enough",
            metric=self.queue.metric_approximate_age_of_oldest_message(
                period=cdk.Duration.minutes(5), statistic=cloudwatch.Stats.MAXIMUM
            ),
            threshold=age_alarm_threshold.to_seconds(),
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    @property
    def alarms(self) -> list[cloudwatch.IAlarm]:
        return [self.dead_letter_alarm, self.delivery_dead_letter_alarm, self.age_alarm]
