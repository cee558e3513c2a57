"""Bulk intake: the intake bucket, its S3 events, the splitter and the chunk workers.

    intake bucket (EventBridge notifications on) --Object Created, key intake/...--> default bus rule
      -> files queue (+ DLQ) -> splitter: rows in chunks to the raw payload bucket, tickets ->
      chunk queue (+ DLQ) -> chunk workers (in parallel): each row through the webhook's
      canonical path; the last one writes `NAME.result.json` beside the file, `intake.completed`

S3 sends `Object Created` events to the account's default bus once the bucket's
`NotificationConfiguration.EventBridgeConfiguration` is on (set on the CloudFormation bucket
directly, without CDK's notification custom resource)
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventBridge.html,
https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html).

No function's work grows with the file: the splitter reads and writes each row once (about
20 s for 100,000 rows), a chunk worker handles `topology.INTAKE_CHUNK_ROWS` rows.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from billbridge import topology
from constructs import Construct

from infra.constructs.function_defaults import BillbridgeFunction, FunctionDefaults
from infra.constructs.private_bucket import private_bucket
from infra.constructs.queue_parts import DEAD_LETTER_RETENTION, depth_alarm, encrypted_queue

SPLITTER_TIMEOUT = cdk.Duration.minutes(10)
CHUNK_WORKER_TIMEOUT = cdk.Duration.minutes(3)
"""A chunk of 500 rows: 500 conditional writes and 50 PutEvents calls, well under a minute."""
MAX_RECEIVE_COUNT = 5
CHUNK_WORKERS_AT_ONCE = 10
"""Chunk workers running at once (the event source's maximum concurrency): bounds the write
rate a large file puts on the ledger and the bus."""
END_OF_FAILURE_PATH = cdk.Acknowledgment(
    id="Serverless-SQSRedrivePolicy",
    reason="A dead-letter queue is the end of its failure path: it alarms, and an operator inspects "
    "and redrives its messages (the steps are idempotent).",
)


class BulkIntake(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: FunctionDefaults,
        access_logs: s3.IBucket,
        age_alarm_threshold: cdk.Duration,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = private_bucket(
            self,
            "Bucket",
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="intake/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="AgeOutFiles",
                    prefix=topology.INTAKE_PREFIX,
                    expiration=cdk.Duration.days(topology.INTAKE_RETENTION_DAYS),
                ),
                s3.LifecycleRule(
                    id="AgeOutWork",
                    prefix=topology.INTAKE_WORK_PREFIX,
                    expiration=cdk.Duration.days(topology.INTAKE_WORK_RETENTION_DAYS),
                ),
                s3.LifecycleRule(id="AbortUploads", abort_incomplete_multipart_upload_after=cdk.Duration.days(1)),
            ],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        cfn_bucket = self.bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.add_property_override("NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True)

        self.files_dead_letter_queue = encrypted_queue(
            self, "FilesDeadLetterQueue", retention_period=DEAD_LETTER_RETENTION
        )
        self.files_queue = encrypted_queue(
            self,
            "FilesQueue",
            visibility_timeout=cdk.Duration.seconds(SPLITTER_TIMEOUT.to_seconds() * 6),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.files_dead_letter_queue, max_receive_count=MAX_RECEIVE_COUNT
            ),
        )
        self.delivery_dead_letter_queue = encrypted_queue(
            self, "DeliveryDeadLetterQueue", retention_period=DEAD_LETTER_RETENTION
        )
        self.chunk_dead_letter_queue = encrypted_queue(
            self, "ChunksDeadLetterQueue", retention_period=DEAD_LETTER_RETENTION
        )
        self.chunk_queue = encrypted_queue(
            self,
            "ChunksQueue",
            visibility_timeout=cdk.Duration.seconds(CHUNK_WORKER_TIMEOUT.to_seconds() * 6),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.chunk_dead_letter_queue, max_receive_count=MAX_RECEIVE_COUNT
            ),
        )
        for queue in (self.files_dead_letter_queue, self.chunk_dead_letter_queue):
            cdk.Validations.of(queue).acknowledge(END_OF_FAILURE_PATH)
        cdk.Validations.of(self.delivery_dead_letter_queue).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-SQS3",
                reason="This queue is the dead-letter queue of the intake rule's target (DeadLetterConfig), "
                "which cdk-nag does not recognise as a DLQ.",
            ),
            END_OF_FAILURE_PATH,
        )

        self.rule = events.Rule(
            self,
            "FileDroppedRule",
            description="Files dropped for bulk intake (S3 Object Created under intake/)",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [self.bucket.bucket_name]},
                    "object": {"key": [{"prefix": topology.INTAKE_PREFIX}]},
                },
            ),
            targets=[
                targets.SqsQueue(
                    self.files_queue,
                    dead_letter_queue=self.delivery_dead_letter_queue,
                    max_event_age=cdk.Duration.hours(24),
                    retry_attempts=50,
                )
            ],
        )

        environment = {
            topology.ENV_INTAKE_BUCKET: self.bucket.bucket_name,
            topology.ENV_INTAKE_CHUNK_QUEUE_URL: self.chunk_queue.queue_url,
        }
        self.splitter: BillbridgeFunction = functions.new_function(
            self,
            "Splitter",
            handler=topology.SPLIT_INTAKE_FILE_HANDLER,
            description="Splits a file dropped for bulk intake into chunks",
            environment=environment,
            timeout=SPLITTER_TIMEOUT,
            memory_size=1024,
            synchronous_reason="Invoked by an SQS event source mapping: failed messages return to the "
            "queue and go to its redrive dead-letter queue.",
        )
        self.chunk_worker: BillbridgeFunction = functions.new_function(
            self,
            "ChunkWorker",
            handler=topology.INGEST_INTAKE_CHUNK_HANDLER,
            description="Ingests one chunk of a file dropped for bulk intake",
            environment=environment,
            timeout=CHUNK_WORKER_TIMEOUT,
            memory_size=1024,
            synchronous_reason="Invoked by an SQS event source mapping: failed messages return to the "
            "queue and go to its redrive dead-letter queue.",
        )
        self.splitter.function.add_event_source(
            event_sources.SqsEventSource(self.files_queue, batch_size=1, report_batch_item_failures=True)
        )
        self.chunk_worker.function.add_event_source(
            event_sources.SqsEventSource(
                self.chunk_queue,
                batch_size=1,
                report_batch_item_failures=True,
                max_concurrency=CHUNK_WORKERS_AT_ONCE,
            )
        )
        for function in (self.splitter, self.chunk_worker):
            cdk.Validations.of(function.function).acknowledge(
                cdk.Acknowledgment(
                    id="Serverless-LambdaEventSourceMappingDestination",
                    reason="SQS event source mappings do not support an on-failure destination; the "
                    "queue's redrive policy sends failed messages to its dead-letter queue.",
                )
            )
        # Least privilege: objects are read and written by key (ListBucket only so that a missing
        # chunk result reads as "none yet" rather than as access denied).
        objects = self.bucket.arn_for_objects("*")
        for function in (self.splitter, self.chunk_worker):
            function.role.add_to_principal_policy(
                iam.PolicyStatement(actions=["s3:GetObject", "s3:PutObject"], resources=[objects])
            )
            function.role.add_to_principal_policy(
                iam.PolicyStatement(actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn])
            )
            cdk.Validations.of(function.role).acknowledge(
                cdk.Acknowledgment(
                    id=f"AwsSolutions-IAM5[Resource::<{cdk.Stack.of(self).get_logical_id(cfn_bucket)}.Arn>/*]",
                    reason="Get and Put of the intake bucket's objects only: dropped files, their results "
                    "and chunk results, each under a key made from the file's name or run.",
                )
            )
        self.chunk_queue.grant_send_messages(self.splitter.function)

        self.alarms: list[cloudwatch.IAlarm] = [
            depth_alarm(
                self, "FilesDeadLetterQueueAlarm", self.files_dead_letter_queue, "intake files could not be split"
            ),
            depth_alarm(self, "ChunksDeadLetterQueueAlarm", self.chunk_dead_letter_queue, "intake chunks failed"),
            depth_alarm(
                self, "DeliveryDeadLetterQueueAlarm", self.delivery_dead_letter_queue, "intake files were not announced"
            ),
            *(
                cloudwatch.Alarm(
                    self,
                    f"{name}AgeAlarm",
                    alarm_description=f"Intake {name.lower()} are not drained fast enough",
                    metric=queue.metric_approximate_age_of_oldest_message(
                        period=cdk.Duration.minutes(5), statistic=cloudwatch.Stats.MAXIMUM
                    ),
                    threshold=age_alarm_threshold.to_seconds(),
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    evaluation_periods=1,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                )
                for name, queue in (("Files", self.files_queue), ("Chunks", self.chunk_queue))
            ),
        ]

    @property
    def dead_letter_queues(self) -> list[sqs.IQueue]:
        return [self.files_dead_letter_queue, self.chunk_dead_letter_queue, self.delivery_dead_letter_queue]
