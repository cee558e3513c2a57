"""The Billbridge stack: composes one construct per concern and grants between them."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from billbridge import topology
from billbridge.topology import (
    DELIVERY_PARTITION_PREFIX,
    ENV_AUDIT_RETENTION_DAYS,
    ENV_FIELD_DECRYPTION,
    ENV_FIELD_ENCRYPTION_KEY_ARN,
)
from constructs import Construct

from infra.config import BillbridgeConfig
from infra.constructs.billing_schedule import BillingSchedule
from infra.constructs.billing_workflow import BillingWorkflow
from infra.constructs.bulk_intake import BulkIntake
from infra.constructs.data_feed import DataFeed
from infra.constructs.downstream_connectors import DownstreamConnectors
from infra.constructs.edge_firewall import EdgeFirewall
from infra.constructs.event_bus import EventBus
from infra.constructs.failure_alarms import billing_run_missed_alarm, stopped_alarm
from infra.constructs.function_defaults import BillbridgeFunction, FunctionDefaults, log_retention
from infra.constructs.kpi_publisher import KpiPublisher
from infra.constructs.log_encryption import LogEncryption
from infra.constructs.monitoring import Monitoring
from infra.constructs.queue_consumer import QueueConsumer
from infra.constructs.raw_payloads import RawPayloads
from infra.constructs.read_api import ReadApi
from infra.constructs.runbook_links import link_runbooks
from infra.constructs.security_controls import SecurityControls
from infra.constructs.tables import Tables
from infra.constructs.vendor_pollers import VendorPoller
from infra.constructs.webhook_api import WebhookApi
from infra.constructs.webhook_secrets import WebhookSecrets

WEBHOOK_TIMEOUT = cdk.Duration.seconds(15)
DELIVERY_CLAIM_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
"""What DynamoDeliveryRegistry calls; no Query or Scan, whose leading keys a condition cannot bound."""


class BillbridgeStack(cdk.Stack):
    """Webhook edge, event bus, workflow queues and consumers, ledger, billing run, KPIs, monitoring."""

    def __init__(self, scope: Construct, construct_id: str, *, config: BillbridgeConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        retention = log_retention(config)

        self.tables = Tables(self, "Tables")
        self.raw_payloads = RawPayloads(
            self,
            "RawPayloads",
            infrequent_access_after_days=config.raw_payload_ia_transition_days,
            retention_days=config.raw_payload_retention_days,
        )
        self.event_bus = EventBus(self, "EventBus", archive_retention_days=config.event_archive_retention_days)
        self.webhook_secrets = WebhookSecrets(self, "WebhookSecrets")
        bus = self.event_bus.bus

        self.functions = FunctionDefaults(
            self,
            "FunctionDefaults",
            config=config,
            environment={
                topology.ENV_LEDGER_TABLE: self.tables.ledger.table_name,
                topology.ENV_RAW_BUCKET: self.raw_payloads.bucket.bucket_name,
                topology.ENV_RAW_RETENTION_DAYS: str(config.raw_payload_retention_days),
                topology.ENV_EVENT_BUS: bus.event_bus_name,
                topology.ENV_CONNECTOR_MODE: "event",
                ENV_AUDIT_RETENTION_DAYS: str(config.audit_retention_days),
                # Set only when configured, so a default deployment's functions are unchanged.
                **({topology.ENV_SYSTEMS_OF_RECORD: config.systems_of_record} if config.systems_of_record else {}),
                **({topology.ENV_ROLLOUT: config.rollout} if config.rollout else {}),
                **({topology.ENV_FEED_ENTRIES_RATED: "true"} if config.feed_entries_rated else {}),
            },
        )

        self.webhook = self.functions.new_function(
            self,
            "WebhookReceiver",
            handler=topology.WEBHOOK_HANDLER,
            description="Verifies, stores and publishes vendor webhooks",
            environment={topology.ENV_WEBHOOK_SECRETS_ARN: self.webhook_secrets.secret.secret_arn},
            timeout=WEBHOOK_TIMEOUT,
            synchronous_reason="Invoked synchronously by API Gateway: failures are answered to the "
            "sender as 5xx, and the sender retries.",
        )
        self.webhook.function.add_environment(topology.ENV_VENDOR_ADAPTERS, config.vendor_adapters)
        self.webhook_secrets.secret.grant_read(self.webhook.function)
        self._grant_put_raw_payloads(self.webhook)
        self._grant_delivery_claims(self.webhook)
        bus.grant_put_events_to(self.webhook.function)
        self.webhook_api = WebhookApi(
            self,
            "WebhookApi",
            receiver=self.webhook,
            throttle_rate_limit=config.api_throttle_rate_limit,
            throttle_burst_limit=config.api_throttle_burst_limit,
            log_retention=retention,
        )

        self.read_api = self._read_api(config, retention)

        self.connectors = DownstreamConnectors(self, "DownstreamConnectors", connectors=config.connectors)

        self.consumers = [
            QueueConsumer(
                self,
                workflow.construct_id,
                workflow=workflow,
                bus=bus,
                functions=self.functions,
                age_alarm_threshold=cdk.Duration.seconds(config.queue_age_alarm_seconds),
            )
            for workflow in topology.WORKFLOWS
        ]
        for consumer in self.consumers:
            self._grant_ledger(consumer.consumer)
            bus.grant_put_events_to(consumer.consumer.function)
            if consumer.workflow.name in ("contracts", "feedback"):  # project, schedule, status commands
                self.connectors.connect(consumer.consumer)

        self.billing = BillingWorkflow(self, "BillingWorkflow", functions=self.functions, log_retention=retention)
        for task in self.billing.task_functions.values():
            self._grant_ledger(task)
            bus.grant_put_events_to(task.function)
        self.connectors.connect(self.billing.task_functions["post_invoice"])

        self.schedule = BillingSchedule(
            self,
            "BillingSchedule",
            functions=self.functions,
            state_machine=self.billing.state_machine,
            day_of_month=config.billing_day_of_month,
            hour=config.billing_hour,
            time_zone=config.billing_time_zone,
        )
        self.kpi_publisher = KpiPublisher(
            self,
            "KpiPublisher",
            functions=self.functions,
            ledger=self.tables.ledger,
            schedule_expression=config.kpi_schedule,
            time_zone=config.billing_time_zone,
        )
        self.kpi_publisher.publisher.function.add_environment(
            topology.ENV_PROPAGATION_STALE_AFTER_HOURS, str(config.propagation_alarm_hours)
        )

        self.vendor_pollers = [
            VendorPoller(
                self,
                poller.construct_id,
                poller=poller,
                functions=self.functions,
                vendor_adapters=config.vendor_adapters,
            )
            for poller in topology.VENDOR_POLLERS
        ]
        for vendor_poller in self.vendor_pollers:
            self._grant_ledger(vendor_poller.function)
            self._grant_put_raw_payloads(vendor_poller.function)
            bus.grant_put_events_to(vendor_poller.function.function)
            self.webhook_secrets.secret.grant_read(vendor_poller.function.function)
            vendor_poller.function.function.add_environment(
                topology.ENV_WEBHOOK_SECRETS_ARN, self.webhook_secrets.secret.secret_arn
            )

        self.stopped_alarms = self._stopped_alarms(config)
        self.data_feed = DataFeed(
            self, "DataFeed", bus=bus, access_logs=self.raw_payloads.access_logs, log_retention=retention
        )
        self.bulk_intake = BulkIntake(
            self,
            "BulkIntake",
            functions=self.functions,
            access_logs=self.raw_payloads.access_logs,
            age_alarm_threshold=cdk.Duration.seconds(config.queue_age_alarm_seconds),
        )
        for intake_function in (self.bulk_intake.splitter, self.bulk_intake.chunk_worker):
            self._grant_ledger(intake_function)
            self._grant_put_raw_payloads(intake_function)
            bus.grant_put_events_to(intake_function.function)
        self.bulk_intake.chunk_worker.role.add_to_principal_policy(  # the chunk's rows, kept by the splitter
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[self.raw_payloads.bucket.arn_for_objects("*")])
        )

        self.security = self._security_controls(config)
        for human_role in (self.security.operator_role, self.security.approver_role):
            self.read_api.allow(human_role)
        self.edge_firewall = self._edge_firewall(config)
        self.log_encryption = LogEncryption(self, "LogEncryption")

        self.monitoring = Monitoring(
            self,
            "Monitoring",
            service_name=config.service_name,
            api=self.webhook_api.api,
            functions={
                "webhook": self.webhook.function,
                **{c.workflow.name: c.consumer.function for c in self.consumers},
                **{name: task.function for name, task in self.billing.task_functions.items()},
                "start_billing_run": self.schedule.starter.function,
                "publish_kpis": self.kpi_publisher.publisher.function,
                **{f"poll {p.poller.name}": p.function.function for p in self.vendor_pollers},
                "intake splitter": self.bulk_intake.splitter.function,
                "intake chunks": self.bulk_intake.chunk_worker.function,
            },
            consumers=self.consumers,
            state_machine=self.billing.state_machine,
            extra_dead_letter_queues={
                "billing start": self.schedule.dead_letter_queue,
                "KPI publisher": self.kpi_publisher.dead_letter_queue,
                **{f"{p.poller.name} poller": p.dead_letter_queue for p in self.vendor_pollers},
                "intake files": self.bulk_intake.files_dead_letter_queue,
                "intake chunks": self.bulk_intake.chunk_dead_letter_queue,
                "data feed": self.data_feed.dead_letter_queue,
            },
            extra_alarms=[
                self.schedule.dead_letter_alarm,
                self.kpi_publisher.dead_letter_alarm,
                *(p.dead_letter_alarm for p in self.vendor_pollers),
                *self.stopped_alarms,
                *self.bulk_intake.alarms,
                *self.data_feed.alarms,
            ],
            kpi_thresholds=config.kpi_thresholds,
            alarm_email=config.alarm_email,
            rollout_markdown=rollout_markdown(config.rollout, config.systems_of_record),
            propagation_alarm_hours=config.propagation_alarm_hours,
        )
        link_runbooks(self, config.runbook_url)
        self._correlation_query()
        self._add_outputs()

    def _stopped_alarms(self, config: BillbridgeConfig) -> list[cloudwatch.Alarm]:
        """A schedule that stops pages: the billing run not started on its day, the KPI publisher
        or a configured vendor poller not invoked for three of its ticks."""
        alarms = [
            billing_run_missed_alarm(
                self.schedule,
                state_machine=self.billing.state_machine,
                day_of_month=config.billing_day_of_month,
                hour=config.billing_hour,
                time_zone=config.billing_time_zone,
            )
        ]
        kpis_stopped = stopped_alarm(
            self.kpi_publisher,
            function=self.kpi_publisher.publisher.function,
            schedule_expression=config.kpi_schedule,
            what="The KPI publisher",
        )
        pollers_stopped = [
            stopped_alarm(
                poller,
                function=poller.function.function,
                schedule_expression=poller.poller.schedule_expression,
                what=f"The {poller.poller.name} poller",
            )
            for poller in self.vendor_pollers
            if poller.enabled  # a poller without its vendor's configuration is deployed disabled
        ]
        return alarms + [alarm for alarm in (kpis_stopped, *pollers_stopped) if alarm is not None]

    def _correlation_query(self) -> None:
        """A saved Logs Insights query: every function's lines of one delivery or run, in order
        (paste its correlation id, from a webhook answer, an exception or `billbridge trace`)."""
        functions = [c for c in self.node.find_all() if isinstance(c, BillbridgeFunction)]
        logs.QueryDefinition(
            self,
            "ByCorrelationId",
            query_definition_name=f"{self.stack_name}/by-correlation-id",
            query_string=logs.QueryString(
                fields=["@timestamp", "@log", "level", "message", "error", "event_type"],
                filter_statements=['correlation_id = "PASTE-THE-CORRELATION-ID"'],
                sort="@timestamp asc",
            ),
            log_groups=[function.log_group for function in functions],
        )

    def _read_api(self, config: BillbridgeConfig, retention: logs.RetentionDays) -> ReadApi:
        """The read API and its function, which may read the ledger and nothing else."""
        reader = self.functions.new_function(
            self,
            "ReadApiHandler",
            handler=topology.READ_API_HANDLER,
            description="Serves the read API: contracts, invoices, exceptions, lineage, KPIs from the ledger",
            timeout=cdk.Duration.seconds(29),
            synchronous_reason="Invoked synchronously by API Gateway: a failure is answered to the caller "
            "as 5xx, and a read can simply be repeated.",
        )
        self.tables.ledger.grant_read_data(reader.function)
        cdk.Validations.of(reader.role).acknowledge(
            cdk.Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::<{self._logical_id(self.tables.ledger)}.Arn>/index/*]",
                reason="Reads on the ledger's lookup index (proposals, entries, audit by correlation id); "
                "the wildcard covers only this table's indexes.",
            )
        )
        self.read_api_function = reader
        read_api = ReadApi(
            self,
            "ReadApi",
            reader=reader,
            throttle_rate_limit=config.read_api_throttle_rate_limit,
            throttle_burst_limit=config.read_api_throttle_burst_limit,
            log_retention=retention,
        )
        account = self.webhook_api.api.node.try_find_child("Account")
        if account is not None:  # stage logging needs the account's CloudWatch role first
            read_api.api.deployment_stage.node.add_dependency(account)
        return read_api

    def _security_controls(self, config: BillbridgeConfig) -> SecurityControls:
        """Personal-data key, human roles, optional WAF; the contracts consumer seals billing contacts."""
        security = SecurityControls(
            self,
            "Security",
            ledger=self.tables.ledger,
            bus=self.event_bus.bus,
            dead_letter_queues=[
                *(c.dead_letter_queue for c in self.consumers),
                *(c.delivery_dead_letter_queue for c in self.consumers),
                self.schedule.dead_letter_queue,
                self.kpi_publisher.dead_letter_queue,
                *(p.dead_letter_queue for p in self.vendor_pollers),
                *self.bulk_intake.dead_letter_queues,
                self.data_feed.dead_letter_queue,
            ],
            redrive_queues=[
                *(c.queue for c in self.consumers),
                self.bulk_intake.files_queue,
                self.bulk_intake.chunk_queue,
            ],
            redrive_functions=[
                self.schedule.starter.function,
                self.kpi_publisher.publisher.function,
                *(p.function.function for p in self.vendor_pollers),
            ],
            state_machine=self.billing.state_machine,
            archive=self.event_bus.archive,
            waf_web_acl_arn=config.waf_web_acl_arn,
            api_stage_arn=self.webhook_api.api.deployment_stage.stage_arn,
        )
        contracts = next(c for c in self.consumers if c.workflow.name == "contracts")
        security.allow_encrypt(contracts.consumer.role)
        security.allow_decrypt(contracts.consumer.role)
        contracts.consumer.function.add_environment(ENV_FIELD_ENCRYPTION_KEY_ARN, security.personal_data_key.key_arn)
        contracts.consumer.function.add_environment(ENV_FIELD_DECRYPTION, "enabled")
        # The webhook seals billing contacts before they reach the bus (encrypt only).
        security.allow_encrypt(self.webhook.role)
        self.webhook.function.add_environment(ENV_FIELD_ENCRYPTION_KEY_ARN, security.personal_data_key.key_arn)
        security.seal_key_policy()
        return security

    def _edge_firewall(self, config: BillbridgeConfig) -> EdgeFirewall | None:
        """The stack's own web ACL, unless the organisation's is attached or it is switched off."""
        if config.waf_web_acl_arn or config.edge_firewall == "off":
            return None
        return EdgeFirewall(
            self,
            "EdgeFirewall",
            api_stage_arn=self.webhook_api.api.deployment_stage.stage_arn,
            rate_limit_per_source=config.waf_rate_limit_per_source,
            rate_limit_per_address=config.waf_rate_limit_per_address,
        )

    def _grant_delivery_claims(self, function: BillbridgeFunction) -> None:
        """The public webhook touches its delivery claims only: items whose partition key is
        `DELIVERY#...` (claim, duplicate check, release, conflict record), nothing else of the ledger."""
        function.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(DELIVERY_CLAIM_ACTIONS),
                resources=[self.tables.ledger.table_arn],
                conditions={
                    "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{DELIVERY_PARTITION_PREFIX}*"]},
                },
            )
        )

    def _grant_ledger(self, function: BillbridgeFunction) -> None:
        self.tables.ledger.grant_read_write_data(function.function)
        cdk.Validations.of(function.role).acknowledge(
            cdk.Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::<{self._logical_id(self.tables.ledger)}.Arn>/index/*]",
                reason="Queries on the ledger's lookup index; the wildcard covers only this table's indexes.",
            )
        )

    def _grant_put_raw_payloads(self, function: BillbridgeFunction) -> None:
        bucket = self.raw_payloads.bucket
        function.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["s3:PutObject"], resources=[bucket.arn_for_objects("*")])
        )
        cdk.Validations.of(function.role).acknowledge(
            cdk.Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::<{self._logical_id(bucket)}.Arn>/*]",
                reason="s3:PutObject only, on the objects of the raw payload bucket: every delivery "
                "is a new object key.",
            )
        )

    def _logical_id(self, construct: Construct) -> str:
        return self.get_logical_id(construct.node.default_child)  # type: ignore[arg-type]

    def _add_outputs(self) -> None:
        """Names the operator CLI reads (`aws cloudformation describe-stacks`)."""
        outputs: dict[str, str] = {
            "ApiUrl": self.webhook_api.url,
            "EventBusName": self.event_bus.bus.event_bus_name,
            "EventBusArn": self.event_bus.bus.event_bus_arn,
            "EventArchiveArn": self.event_bus.archive.archive_arn,
            "LedgerTableName": self.tables.ledger.table_name,
            "RawPayloadBucketName": self.raw_payloads.bucket.bucket_name,
            "WebhookSecretsArn": self.webhook_secrets.secret.secret_arn,
            "BillingStateMachineArn": self.billing.state_machine.state_machine_arn,
            "AlarmTopicArn": self.monitoring.alarm_topic.topic_arn,
            "DashboardUrl": (
                f"https://{self.region}.console.aws.amazon.com/cloudwatch/home?region={self.region}"
                f"#dashboards:name={self.monitoring.dashboard.dashboard_name}"
            ),
            "BillingStartDeadLetterQueueUrl": self.schedule.dead_letter_queue.queue_url,
            "BillingStartFunctionName": self.schedule.starter.function.function_name,
            "KpiPublisherDeadLetterQueueUrl": self.kpi_publisher.dead_letter_queue.queue_url,
            "KpiPublisherFunctionName": self.kpi_publisher.publisher.function.function_name,
            "PersonalDataKeyArn": self.security.personal_data_key.key_arn,
            "OperatorRoleArn": self.security.operator_role.role_arn,
            "ApproverRoleArn": self.security.approver_role.role_arn,
            "PersonalDataReaderRoleArn": self.security.personal_data_reader_role.role_arn,
            "ReadApiUrl": self.read_api.url,
            "ReadOnlyRoleArn": self.read_api.read_only_role.role_arn,
        }
        for vendor_poller in self.vendor_pollers:
            outputs[f"{vendor_poller.poller.construct_id}PollerDeadLetterQueueUrl"] = (
                vendor_poller.dead_letter_queue.queue_url
            )
            outputs[f"{vendor_poller.poller.construct_id}PollerFunctionName"] = (
                vendor_poller.function.function.function_name
            )
        outputs["IntakeBucketName"] = self.bulk_intake.bucket.bucket_name
        outputs["FeedBucketName"] = self.data_feed.bucket.bucket_name
        outputs["IntakeChunksDeadLetterQueueUrl"] = self.bulk_intake.chunk_dead_letter_queue.queue_url
        outputs["IntakeChunksQueueUrl"] = self.bulk_intake.chunk_queue.queue_url
        outputs["IntakeFilesQueueUrl"] = self.bulk_intake.files_queue.queue_url
        outputs["IntakeFilesDeadLetterQueueUrl"] = self.bulk_intake.files_dead_letter_queue.queue_url
        outputs["IntakeDeliveryDeadLetterQueueUrl"] = self.bulk_intake.delivery_dead_letter_queue.queue_url
        outputs["FeedDeadLetterQueueUrl"] = self.data_feed.dead_letter_queue.queue_url
        if self.connectors.secret is not None:
            outputs["ConnectorSecretsArn"] = self.connectors.secret.secret_arn
        for consumer in self.consumers:
            prefix = consumer.workflow.construct_id
            outputs[f"{prefix}QueueUrl"] = consumer.queue.queue_url
            outputs[f"{prefix}DeadLetterQueueUrl"] = consumer.dead_letter_queue.queue_url
            outputs[f"{prefix}DeliveryDeadLetterQueueUrl"] = consumer.delivery_dead_letter_queue.queue_url
        for output_id, value in outputs.items():
            cdk.CfnOutput(self, output_id, value=value)


def rollout_markdown(rollout: str, systems_of_record: str) -> str:
    """The dashboard's text of the phased-rollout switches and the systems of record
    (validated here, so a malformed configuration fails the synth, not a function)."""
    from billbridge.app.rollout import Rollout
    from billbridge.app.system_of_record import SystemsOfRecord

    document = Rollout.parse(rollout).document()
    owners = SystemsOfRecord.parse(systems_of_record).document()
    lines = ["## Phased rollout", "", "| switch | mode |", "|---|---|"]
    lines += [f"| workflow `{name}` | **{mode}** |" for name, mode in document["workflows"].items()]
    lines += [f"| source `{name}` | **{mode}** |" for name, mode in document["sources"].items()]
    lines += ["", "Systems of record: " + ", ".join(f"{domain} = `{source}`" for domain, source in owners.items())]
    return "\n".join(lines)
