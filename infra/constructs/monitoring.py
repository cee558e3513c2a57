"""Dashboard and alarms, routed to one encrypted SNS topic."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs.function_defaults import METRICS_NAMESPACE
from infra.constructs.queue_consumer import QueueConsumer

BUSINESS_METRICS: tuple[str, ...] = (
    "WebhooksAccepted",
    "EntriesRated",
    "InvoicesProposed",
    "ExceptionsRaised",
)
"""Custom metrics the functions emit (Powertools, namespace Billbridge, dimension `service`)."""

PERIOD = cdk.Duration.minutes(5)
API_4XX_RATE_THRESHOLD = 0.2
"""A fifth of webhooks refused over 15 minutes means a sender's secret or payload changed."""


class Monitoring(Construct):
    """CloudWatch dashboard over the whole hub, and the alarms that page an operator."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        service_name: str,
        api: apigateway.RestApi,
        functions: Mapping[str, lambda_.IFunction],
        consumers: Sequence[QueueConsumer],
        state_machine: sfn.StateMachine,
        extra_alarms: Sequence[cloudwatch.IAlarm] = (),
        alarm_email: str = "",
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(self, "AlarmTopicKey", enable_key_rotation=True, description="Alarm topic")
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                resources=["*"],
            )
        )
        self.alarm_topic = sns.Topic(self, "AlarmTopic", master_key=self.key, enforce_ssl=True)
        if alarm_email:
            self.alarm_topic.add_subscription(subscriptions.EmailSubscription(alarm_email))

        self.api_5xx_alarm = cloudwatch.Alarm(
            self,
            "Api5xxAlarm",
            alarm_description="The webhook API answered 5xx: senders will retry, but something is broken",
            metric=api.metric_server_error(period=PERIOD, statistic=cloudwatch.Stats.SUM),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.api_4xx_alarm = cloudwatch.Alarm(
            self,
            "Api4xxRateAlarm",
            alarm_description="Many webhooks are refused (bad signature, unknown source, too large)",
            metric=api.metric_client_error(period=PERIOD, statistic=cloudwatch.Stats.AVERAGE),
            threshold=API_4XX_RATE_THRESHOLD,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=3,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.workflow_failed_alarm = cloudwatch.Alarm(
            self,
            "BillingRunFailedAlarm",
            alarm_description="A billing run failed, timed out or was aborted",
            metric=cloudwatch.MathExpression(
                expression="failed + timedout + aborted",
                using_metrics={
                    "failed": state_machine.metric_failed(period=PERIOD),
                    "timedout": state_machine.metric_timed_out(period=PERIOD),
                    "aborted": state_machine.metric_aborted(period=PERIOD),
                },
                period=PERIOD,
            ),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

        self.alarms: list[cloudwatch.IAlarm] = [
            self.api_5xx_alarm,
            self.api_4xx_alarm,
            self.workflow_failed_alarm,
            *(alarm for consumer in consumers for alarm in consumer.alarms),
            *extra_alarms,
        ]
        action = cloudwatch_actions.SnsAction(self.alarm_topic)
        for alarm in self.alarms:
            alarm.add_alarm_action(action)  # type: ignore[attr-defined]

        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=cdk.Duration.days(1))
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Webhooks",
                left=[
                    api.metric_count(period=PERIOD),
                    api.metric_client_error(period=PERIOD),
                    api.metric_server_error(period=PERIOD),
                ],
                right=[api.metric_latency(period=PERIOD, statistic=cloudwatch.Stats.p(99))],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Business events",
                left=[
                    cloudwatch.Metric(
                        namespace=METRICS_NAMESPACE,
                        metric_name=name,
                        dimensions_map={"service": service_name},
                        statistic=cloudwatch.Stats.SUM,
                        period=PERIOD,
                        label=name,
                    )
                    for name in BUSINESS_METRICS
                ],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Lambda errors",
                left=[
                    function.metric_errors(period=PERIOD, label=name) for name, function in functions.items()
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Lambda throttles",
                left=[
                    function.metric_throttles(period=PERIOD, label=name)
                    for name, function in functions.items()
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Lambda duration p99",
                left=[
                    function.metric_duration(period=PERIOD, statistic=cloudwatch.Stats.p(99), label=name)
                    for name, function in functions.items()
                ],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Queue depth",
                left=[
                    consumer.queue.metric_approximate_number_of_messages_visible(
                        period=PERIOD, label=consumer.workflow.name
                    )
                    for consumer in consumers
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Oldest message age (s)",
                left=[
                    consumer.queue.metric_approximate_age_of_oldest_message(
                        period=PERIOD, label=consumer.workflow.name
                    )
                    for consumer in consumers
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Dead-letter queue depth",
                left=[
                    queue.metric_approximate_number_of_messages_visible(
                        period=PERIOD, label=f"{consumer.workflow.name} {kind}"
                    )
                    for consumer in consumers
                    for kind, queue in (
                        ("consumer", consumer.dead_letter_queue),
                        ("delivery", consumer.delivery_dead_letter_queue),
                    )
                ],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Billing runs",
                left=[
                    state_machine.metric_started(period=PERIOD),
                    state_machine.metric_succeeded(period=PERIOD),
                    state_machine.metric_failed(period=PERIOD),
                ],
                width=12,
            ),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=12),
        )
