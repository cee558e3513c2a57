"""The data-platform feed: the hub's business events to S3 as partitioned JSON lines.

One bus rule per `topology.FEED_EVENTS` entry; its input transformer writes the feed
record (`billbridge.app.feed_records`) into a Kinesis Data Firehose stream, whose dynamic
partitioning (JQ metadata extraction of `feed_type` and the date of `occurred_at`) writes
`feed/type={feed_type}/date={YYYY-MM-DD}/...` in the feed bucket. Dynamic partitioning
needs a buffer of at least 64 MiB and writes records it cannot partition or deliver under
the error output prefix, which must name `!{firehose:error-output-type}`
(https://docs.aws.amazon.com/firehose/latest/dev/dynamic-partitioning.html,
https://docs.aws.amazon.com/firehose/latest/dev/s3-prefixes.html).

Failure paths: each rule's target retries and parks what it cannot deliver in the feed's
dead-letter queue (alarmed); Firehose retries partitioning and delivery, then writes the
records under `feed-errors/`; an alarm watches the age of the oldest undelivered record.
"""

from __future__ import annotations

import json

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from billbridge import topology
from billbridge.app.feed_records import FEED_RECORD_PATHS, PARTITION_QUERY
from constructs import Construct

from infra.constructs.private_bucket import private_bucket
from infra.constructs.queue_parts import DEAD_LETTER_RETENTION, depth_alarm, encrypted_queue

BUFFER_INTERVAL = cdk.Duration.seconds(60)
BUFFER_SIZE = cdk.Size.mebibytes(64)
"""The smallest buffer dynamic partitioning accepts."""
FRESHNESS_ALARM_SECONDS = 900
RULE_MAX_EVENT_AGE = cdk.Duration.hours(24)
RULE_RETRY_ATTEMPTS = 50
ERROR_RETENTION_DAYS = 90


def record_template(feed_type: str) -> str:
    """The input transformer's template: the feed record of one event (`feed_record` locally)."""
    fields = [f'"feed_type":{json.dumps(feed_type)}'] + [f'"{name}":<{name}>' for name in FEED_RECORD_PATHS]
    return "{" + ",".join(fields) + "}"


class DataFeed(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bus: events.IEventBus,
        access_logs: s3.IBucket,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = private_bucket(
            self,
            "Bucket",
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="feed/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="AgeOutFeed",
                    prefix=topology.FEED_PREFIX,
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS, transition_after=cdk.Duration.days(90)
                        )
                    ],
                    expiration=cdk.Duration.days(topology.FEED_RETENTION_DAYS),
                ),
                s3.LifecycleRule(
                    id="AgeOutFeedErrors",
                    prefix=topology.FEED_ERROR_PREFIX,
                    expiration=cdk.Duration.days(ERROR_RETENTION_DAYS),
                ),
                s3.LifecycleRule(id="AbortUploads", abort_incomplete_multipart_upload_after=cdk.Duration.days(1)),
            ],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.log_group = logs.LogGroup(self, "DeliveryLogs", retention=log_retention)
        self.stream = firehose.DeliveryStream(
            self,
            "Stream",
            encryption=firehose.StreamEncryption.aws_owned_key(),
            destination=firehose.S3Bucket(
                self.bucket,
                data_output_prefix=(
                    f"{topology.FEED_PREFIX}type=!{{partitionKeyFromQuery:type}}/date=!{{partitionKeyFromQuery:date}}/"
                ),
                error_output_prefix=(
                    f"{topology.FEED_ERROR_PREFIX}!{{firehose:error-output-type}}/date=!{{timestamp:yyyy-MM-dd}}/"
                ),
                buffering_interval=BUFFER_INTERVAL,
                buffering_size=BUFFER_SIZE,
                compression=firehose.Compression.UNCOMPRESSED,
                file_extension=".jsonl",
                dynamic_partitioning=firehose.DynamicPartitioningProps(
                    enabled=True, retry_duration=cdk.Duration.minutes(5)
                ),
                processors=[
                    firehose.MetadataExtractionProcessor(
                        firehose.MetadataExtractionProcessorOptions(
                            json_parsing_engine=firehose.JsonParsingEngine.JQ_1_6,
                            metadata_extraction_query=PARTITION_QUERY,
                        ),
                        ["type", "date"],
                    ),
                    firehose.AppendDelimiterToRecordProcessor(),
                ],
                logging_config=firehose.EnableLogging(self.log_group),
            ),
        )
        # The L2 stream adds a mapping of Firehose's CIDR blocks that only Redshift or Splunk
        # destinations read: unused here, it would only be a template warning (cfn-lint W7001).
        cdk.Stack.of(self).node.try_remove_child("@aws-cdk--aws-kinesisfirehose.CidrBlocks")
        bucket_id = cdk.Stack.of(self).get_logical_id(self.bucket.node.default_child)  # type: ignore[arg-type]
        cdk.Validations.of(self.stream).acknowledge(
            *(
                cdk.Acknowledgment(
                    id=f"AwsSolutions-IAM5[{finding}]",
                    reason="Firehose's S3 destination role as CDK grants it: the feed bucket's objects "
                    "only (multipart writes, listing for retries), nothing else.",
                )
                for finding in (
                    "Action::s3:Abort*",
                    "Action::s3:DeleteObject*",
                    "Action::s3:GetBucket*",
                    "Action::s3:GetObject*",
                    "Action::s3:List*",
                    f"Resource::<{bucket_id}.Arn>/*",
                )
            )
        )
        self.dead_letter_queue = encrypted_queue(self, "DeadLetterQueue", retention_period=DEAD_LETTER_RETENTION)
        cdk.Validations.of(self.dead_letter_queue).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-SQS3",
                reason="This queue is the dead-letter queue of the feed rules' Firehose targets.",
            ),
            cdk.Acknowledgment(
                id="Serverless-SQSRedrivePolicy",
                reason="A dead-letter queue is the end of its failure path: it alarms, and an operator "
                "inspects its events (they are also in the bus archive, to replay into the feed).",
            ),
        )
        self.delivery_role = iam.Role(self, "RuleDeliveryRole", assumed_by=iam.ServicePrincipal("events.amazonaws.com"))
        self.stream.grant_put_records(self.delivery_role)
        self.rules = [self._rule(feed, bus) for feed in topology.FEED_EVENTS]
        self.dead_letter_alarm = depth_alarm(
            self,
            "DeadLetterQueueAlarm",
            self.dead_letter_queue,
            "Feed events could not be handed to Firehose: messages wait in the feed's DLQ",
        )
        self.delivery_alarm = cloudwatch.Alarm(
            self,
            "FeedDeliveryFailed",
            alarm_description="The feed is not reaching S3: the oldest record in Firehose is older than "
            f"{FRESHNESS_ALARM_SECONDS} s (records it gives up on go to {topology.FEED_ERROR_PREFIX})",
            metric=self.stream.metric(
                "DeliveryToS3.DataFreshness", period=cdk.Duration.minutes(5), statistic=cloudwatch.Stats.MAXIMUM
            ),
            threshold=FRESHNESS_ALARM_SECONDS,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _rule(self, feed: topology.FeedEvent, bus: events.IEventBus) -> events.CfnRule:
        """A rule writing the feed record of its events to the stream, with retries and the DLQ
        (an L1 rule: CDK's Firehose target has no retry policy or dead-letter queue)."""
        rule = events.CfnRule(
            self,
            f"{feed.construct_id}Rule",
            event_bus_name=bus.event_bus_name,
            description=f"Feed records of type {feed.feed_type}",
            event_pattern=feed.event_pattern,
            state="ENABLED",
            targets=[
                events.CfnRule.TargetProperty(
                    id="Feed",
                    arn=self.stream.delivery_stream_arn,
                    role_arn=self.delivery_role.role_arn,
                    input_transformer=events.CfnRule.InputTransformerProperty(
                        input_paths_map=dict(FEED_RECORD_PATHS), input_template=record_template(feed.feed_type)
                    ),
                    dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=self.dead_letter_queue.queue_arn),
                    retry_policy=events.CfnRule.RetryPolicyProperty(
                        maximum_event_age_in_seconds=int(RULE_MAX_EVENT_AGE.to_seconds()),
                        maximum_retry_attempts=RULE_RETRY_ATTEMPTS,
                    ),
                )
            ],
        )
        self.dead_letter_queue.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[self.dead_letter_queue.queue_arn],
                conditions={"ArnEquals": {"aws:SourceArn": rule.attr_arn}},
            )
        )
        return rule

    @property
    def alarms(self) -> list[cloudwatch.IAlarm]:
        return [self.dead_letter_alarm, self.delivery_alarm]
