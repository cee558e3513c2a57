"""Dashboard and alarms, routed to one encrypted SNS topic."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs.failure_alarms import kpi_threshold_alarms, sync_held_alarms
from infra.constructs.function_defaults import METRICS_NAMESPACE
from infra.constructs.queue_consumer import QueueConsumer

BUSINESS_METRICS: tuple[str, ...] = (
    "WebhooksAccepted",
    "EntriesRated",
    "InvoicesProposed",
    "ExceptionsRaised",
)
"""Custom metrics the functions emit (Powertools, namespace Billbridge, dimension `service`)."""


@dataclass(frozen=True, slots=True)
class KpiMetric:
    """A metric `billbridge.entrypoints.schedule.publish_kpis.emit_kpi_metrics` writes (namespace Billbridge)."""

    name: str
    dimensions: tuple[str, ...] = ()
    """Its dimensions besides `service` (which Powertools adds); several series when not empty."""


KPI_METRICS: tuple[KpiMetric, ...] = (
    KpiMetric("UnbilledAmount", ("LegalEntity", "Currency", "AgeBucket")),
    KpiMetric("UnbilledHours", ("LegalEntity", "Currency", "AgeBucket")),
    KpiMetric("HeldWorkAmount", ("LegalEntity", "Currency", "AgeBucket")),
    KpiMetric("HeldWorkHours", ("LegalEntity", "Currency", "AgeBucket")),
    KpiMetric("ApprovalToInvoiceMedianDays"),
    KpiMetric("ApprovalToInvoiceP90Days"),
    KpiMetric("InvoicesRequiringCorrection"),
    KpiMetric("ExceptionsOpen", ("ExceptionType",)),
    KpiMetric("MoneyAtRisk", ("ExceptionType", "Currency")),
    KpiMetric("CapBurnPercent", ("ContractId",)),
    KpiMetric("DeadLetteredMessages", ("Workflow",)),
    KpiMetric("BillingFailuresOpen"),
    KpiMetric("BillingFailureMedianResolutionHours"),
    KpiMetric("ContractVersionsPropagated", ("System", "State")),
    KpiMetric("StaleContractVersions"),
    KpiMetric("DaysSalesOutstanding"),
    KpiMetric("DisputeRatePercent"),
    KpiMetric("FailureResolutionMedianHours"),
    KpiMetric("OldestOpenFailureHours"),
    KpiMetric("RevenueLeakageAmount", ("Currency",)),
)
"""The operating KPIs, as `emit_kpi_metrics` names and dimensions them."""
KPI_BY_NAME = {metric.name: metric for metric in KPI_METRICS}

PERIOD = cdk.Duration.minutes(5)
KPI_PERIOD = cdk.Duration.hours(1)
"""KPIs are gauges published once per schedule tick (hourly by default): the hour's maximum."""
API_4XX_RATE_THRESHOLD = 0.2
"""A fifth of webhooks refused over 15 minutes means a sender's secret or payload changed."""
API_5XX_RATE_THRESHOLD = 0.01
"""More than 1 % of webhooks failing in 5 minutes: senders retry, but something is broken."""


def api_error_rate(
    api: apigateway.RestApi, errors_id: str, errors: cloudwatch.IMetric, label: str
) -> cloudwatch.MathExpression:
    """`errors` / requests of `api` per period (0 without requests), as a fraction.

    `errors_id` names the errors in the expression; the rates drawn on one graph need distinct ids.
    """
    return cloudwatch.MathExpression(
        expression=f"IF(requests > 0, {errors_id} / requests, 0)",
        using_metrics={
            errors_id: errors,
            "requests": api.metric_count(period=PERIOD, statistic=cloudwatch.Stats.SUM),
        },
        period=PERIOD,
        label=label,
    )


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
        extra_dead_letter_queues: Mapping[str, sqs.IQueue] | None = None,
        extra_alarms: Sequence[cloudwatch.IAlarm] = (),
        alarm_email: str = "",
        rollout_markdown: str = "",
        propagation_alarm_hours: int = 24,
        kpi_thresholds: Mapping[str, Any] | None = None,
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

        self.api_5xx_rate = api_error_rate(
            api, "server_errors", api.metric_server_error(period=PERIOD, statistic=cloudwatch.Stats.SUM), "5xx rate"
        )
        self.api_4xx_rate = api_error_rate(
            api, "client_errors", api.metric_client_error(period=PERIOD, statistic=cloudwatch.Stats.SUM), "4xx rate"
        )
        self.api_5xx_rate_alarm = cloudwatch.Alarm(
            self,
            "Api5xxRateAlarm",
            alarm_description="More than 1 % of webhooks answered 5xx in 5 minutes: senders will retry, "
            "but something is broken",
            metric=self.api_5xx_rate,
            threshold=API_5XX_RATE_THRESHOLD,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.api_4xx_rate_alarm = cloudwatch.Alarm(
            self,
            "Api4xxRateAlarm",
            alarm_description="More than 20 % of webhooks refused for 15 minutes (bad signature, "
            "unknown source, too large)",
            metric=self.api_4xx_rate,
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

        self.stale_propagation_alarm = cloudwatch.Alarm(
            self,
            "StalePropagationAlarm",
            alarm_description=f"A contract version has stayed unacknowledged by the PSA or an ERP for more "
            f"than {propagation_alarm_hours} h (`billbridge contracts propagation --stale "
            f"{propagation_alarm_hours}` lists them)",
            metric=cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name="StaleContractVersions",
                dimensions_map={"service": service_name},
                statistic=cloudwatch.Stats.MAXIMUM,
                period=KPI_PERIOD,
            ),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

        self.sync_held_alarms = sync_held_alarms(self, service_name=service_name)
        self.kpi_alarms = kpi_threshold_alarms(self, service_name=service_name, thresholds=kpi_thresholds or {})

        self.alarms: list[cloudwatch.IAlarm] = [
            *self.sync_held_alarms,
            *self.kpi_alarms,
            self.api_5xx_rate_alarm,
            self.stale_propagation_alarm,
            self.api_4xx_rate_alarm,
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
                right=[self.api_4xx_rate, self.api_5xx_rate],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Webhook latency p99 (ms)",
                left=[api.metric_latency(period=PERIOD, statistic=cloudwatch.Stats.p(99))],
                width=4,
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
                left=[function.metric_errors(period=PERIOD, label=name) for name, function in functions.items()],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Lambda throttles",
                left=[function.metric_throttles(period=PERIOD, label=name) for name, function in functions.items()],
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
                    consumer.queue.metric_approximate_age_of_oldest_message(period=PERIOD, label=consumer.workflow.name)
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
                ]
                + [
                    queue.metric_approximate_number_of_messages_visible(period=PERIOD, label=name)
                    for name, queue in (extra_dead_letter_queues or {}).items()
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
        self._add_kpi_widgets(service_name)
        if rollout_markdown:
            # The deployed phase of each workflow and source, next to the figures it explains.
            self.dashboard.add_widgets(cloudwatch.TextWidget(markdown=rollout_markdown, width=12, height=6))

    def _add_kpi_widgets(self, service_name: str) -> None:
        """The operating KPIs (`KPI_METRICS`), one series per dimension value where they have some."""

        def kpi(name: str, label: str | None = None) -> cloudwatch.IMetric:
            metric = KPI_BY_NAME[name]
            if not metric.dimensions:
                return cloudwatch.Metric(
                    namespace=METRICS_NAMESPACE,
                    metric_name=name,
                    dimensions_map={"service": service_name},
                    statistic=cloudwatch.Stats.MAXIMUM,
                    period=KPI_PERIOD,
                    label=label or name,
                )
            # Dimension values (entities, contracts, ...) are only known at run time: a search
            # over the exact dimension set that emit_kpi_metrics writes, one series per value.
            schema = ",".join((METRICS_NAMESPACE, *metric.dimensions, "service"))
            return cloudwatch.MathExpression(
                expression=(
                    f'SEARCH(\'{{{schema}}} MetricName="{name}" service="{service_name}"\', '
                    f"'Maximum', {int(KPI_PERIOD.to_seconds())})"
                ),
                using_metrics={},
                period=KPI_PERIOD,
                label="",
            )

        self.dashboard.add_widgets(
            cloudwatch.TextWidget(
                markdown="## Operating KPIs\nPublished from the ledger by the KPI publisher on its "
                "schedule; amounts are in each series' currency.",
                width=24,
                height=2,
            )
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Unbilled amount (entity, currency, age)", left=[kpi("UnbilledAmount")], width=8
            ),
            cloudwatch.GraphWidget(
                title="Unbilled hours (entity, currency, age)", left=[kpi("UnbilledHours")], width=8
            ),
            cloudwatch.GraphWidget(
                title="Approval to invoice (days)",
                left=[
                    kpi("ApprovalToInvoiceMedianDays", "median"),
                    kpi("ApprovalToInvoiceP90Days", "p90"),
                ],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Open exceptions by type", left=[kpi("ExceptionsOpen")], width=6),
            cloudwatch.GraphWidget(title="Money at risk (type, currency)", left=[kpi("MoneyAtRisk")], width=6),
            cloudwatch.GraphWidget(
                title="Held work, no line yet (entity, currency, age)",
                left=[kpi("HeldWorkAmount")],
                right=[kpi("HeldWorkHours")],
                width=6,
            ),
            cloudwatch.GraphWidget(
                title="Cap burn % by contract",
                left=[kpi("CapBurnPercent")],
                left_y_axis=cloudwatch.YAxisProps(min=0),
                width=6,
            ),
            cloudwatch.GraphWidget(
                title="Corrections and integration failures",
                left=[
                    kpi("InvoicesRequiringCorrection", "invoices requiring correction"),
                    kpi("BillingFailuresOpen", "billing failures open"),
                    kpi("DeadLetteredMessages"),
                ],
                right=[kpi("BillingFailureMedianResolutionHours", "median resolution (h)")],
                width=6,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="DSO (days) and dispute rate (%)",
                left=[kpi("DaysSalesOutstanding", "DSO (days, worst currency)")],
                right=[kpi("DisputeRatePercent", "dispute rate %")],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Integration failure resolution (h)",
                left=[
                    kpi("FailureResolutionMedianHours", "median open to closed"),
                    kpi("OldestOpenFailureHours", "oldest still open"),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Revenue leakage (written off, withdrawn; per currency)",
                left=[kpi("RevenueLeakageAmount")],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Contract versions by propagation state (system, state)",
                left=[kpi("ContractVersionsPropagated")],
                right=[kpi("StaleContractVersions", "stale (unacknowledged past the alarm's age)")],
                width=12,
            ),
        )
