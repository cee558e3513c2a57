"""The scheduled KPI publisher, the KPI dashboard and the alarms every failure path needs."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from billbridge import topology
from billbridge.entrypoints.schedule.publish_kpis import emit_kpi_metrics
from billbridge.settings import HubSettings

from infra.config import BillbridgeConfig
from infra.synth import build_app
from tests.infra.conftest import Synthesized

READ_VERBS = ("Get", "BatchGet", "Query", "Scan", "Describe")
SEARCH = re.compile(r"SEARCH\('\{([^}]*)\} MetricName=\"(\w+)\" service=\"([^\"]+)\"'")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _referenced_ids(value: Any) -> set[str]:
    if isinstance(value, dict):
        if "Ref" in value:
            return {value["Ref"]}
        if "Fn::GetAtt" in value:
            return {value["Fn::GetAtt"][0]}
        return set().union(*(_referenced_ids(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_referenced_ids(v) for v in value))
    return set()


def _role_statements(synthesized: Synthesized, role: Any) -> list[dict[str, Any]]:
    role_ref = {"Ref": synthesized.logical_id(role)}
    return [
        statement
        for policy in synthesized.properties("AWS::IAM::Policy")
        if role_ref in policy["Roles"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def _publisher_function(synthesized: Synthesized) -> dict[str, Any]:
    function = synthesized.stack.kpi_publisher.publisher.function
    return synthesized.resources("AWS::Lambda::Function")[synthesized.logical_id(function)]["Properties"]


def _kpi_schedule(synthesized: Synthesized) -> dict[str, Any]:
    publisher_arn = {"Fn::GetAtt": [synthesized.logical_id(synthesized.stack.kpi_publisher.publisher.function), "Arn"]}
    (schedule,) = (
        props for props in synthesized.properties("AWS::Scheduler::Schedule") if props["Target"]["Arn"] == publisher_arn
    )
    return schedule


def _alarms(synthesized: Synthesized) -> list[dict[str, Any]]:
    topic_ref = {"Ref": synthesized.logical_id(synthesized.stack.monitoring.alarm_topic)}
    alarms = synthesized.properties("AWS::CloudWatch::Alarm")
    assert all(topic_ref in alarm.get("AlarmActions", []) for alarm in alarms), "every alarm notifies the topic"
    return alarms


def _single_metric_alarms(synthesized: Synthesized, namespace: str, metric_name: str) -> list[dict[str, Any]]:
    return [
        alarm
        for alarm in _alarms(synthesized)
        if alarm.get("Namespace") == namespace and alarm.get("MetricName") == metric_name
    ]


# --- the function and its rights ----------------------------------------------------------------


def test_the_publisher_runs_the_publish_kpis_handler(synthesized: Synthesized) -> None:
    assert _publisher_function(synthesized)["Handler"] == topology.PUBLISH_KPIS_HANDLER
    handlers = [props["Handler"] for props in synthesized.properties("AWS::Lambda::Function")]
    assert handlers.count(topology.PUBLISH_KPIS_HANDLER) == 1


def test_the_publisher_may_only_read_the_ledger(synthesized: Synthesized) -> None:
    stack = synthesized.stack
    publisher = stack.kpi_publisher
    ledger_id = synthesized.logical_id(stack.tables.ledger)
    dlq_id = synthesized.logical_id(publisher.dead_letter_queue)
    dynamodb: dict[str, set[str]] = {}
    for statement in _role_statements(synthesized, publisher.publisher.role):
        assert statement["Effect"] == "Allow"
        for action in _as_list(statement["Action"]):
            service, _, verb = action.partition(":")
            resources = _referenced_ids(statement["Resource"])
            if service == "dynamodb":
                dynamodb.setdefault(verb, set()).update(resources)
            elif service == "sqs":
                assert resources == {dlq_id}, (action, "only its own dead-letter queue")
            elif service == "logs":
                assert resources == {synthesized.logical_id(publisher.publisher.log_group)}, action
            else:
                assert service == "xray", action
    assert {"Query", "Scan"} <= set(dynamodb), "the KPIs scan the books and query the audit trails"
    assert all(verb.startswith(READ_VERBS) for verb in dynamodb), sorted(dynamodb)
    assert set().union(*dynamodb.values()) == {ledger_id}


def test_the_publisher_gets_the_hub_environment_but_no_secret_or_state_machine(synthesized: Synthesized) -> None:
    env = _publisher_function(synthesized)["Environment"]["Variables"]
    assert topology.ENV_LEDGER_TABLE in env
    assert topology.ENV_WEBHOOK_SECRETS_ARN not in env and topology.ENV_STATE_MACHINE_ARN not in env


# --- the schedule and its failure path ----------------------------------------------------------


def test_a_schedule_invokes_the_publisher_with_retries_and_a_dead_letter_queue(synthesized: Synthesized) -> None:
    publisher = synthesized.stack.kpi_publisher
    dlq_arn = {"Fn::GetAtt": [synthesized.logical_id(publisher.dead_letter_queue), "Arn"]}
    schedule = _kpi_schedule(synthesized)
    assert schedule["ScheduleExpression"] == BillbridgeConfig().kpi_schedule == "rate(1 hour)"
    assert schedule["State"] == "ENABLED"
    target = schedule["Target"]
    assert target["DeadLetterConfig"] == {"Arn": dlq_arn}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert 0 < target["RetryPolicy"]["MaximumEventAgeInSeconds"] <= 3600
    assert json.loads(target["Input"])["detail-type"] == "Scheduled Event"
    assert "<aws.scheduler.scheduled-time>" in target["Input"], "`time` is the day the KPIs are computed as of"

    scheduler_role = {"Fn::GetAtt": [synthesized.logical_id(publisher.scheduler_role), "Arn"]}
    assert target["RoleArn"] == scheduler_role
    invoke = [
        s for s in _role_statements(synthesized, publisher.scheduler_role) if s["Action"] == "lambda:InvokeFunction"
    ]
    assert _referenced_ids([s["Resource"] for s in invoke]) == {synthesized.logical_id(publisher.publisher.function)}


def test_failed_asynchronous_invocations_go_to_the_same_queue_which_alarms(synthesized: Synthesized) -> None:
    publisher = synthesized.stack.kpi_publisher
    dlq_id = synthesized.logical_id(publisher.dead_letter_queue)
    (config,) = (
        props
        for props in synthesized.properties("AWS::Lambda::EventInvokeConfig")
        if props["FunctionName"] == {"Ref": synthesized.logical_id(publisher.publisher.function)}
    )
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": [dlq_id, "Arn"]}
    assert config["MaximumRetryAttempts"] >= 1
    depth_alarms = _single_metric_alarms(synthesized, "AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert any(
        alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}]
        and alarm["Threshold"] == 0
        and alarm["ComparisonOperator"] == "GreaterThanThreshold"
        for alarm in depth_alarms
    )
    assert "KpiPublisherDeadLetterQueueUrl" in synthesized.template["Outputs"]


def test_the_schedule_follows_the_configured_expression_and_time_zone(tmp_path: Path) -> None:
    app, stack = build_app(
        outdir=str(tmp_path),
        context={"billbridge:kpi_schedule": "cron(30 6 * * ? *)", "billbridge:billing_time_zone": "Europe/Berlin"},
    )
    template = app.synth().get_stack_artifact(stack.artifact_id).template
    publisher_id = stack.resolve(stack.kpi_publisher.publisher.function.node.default_child.logical_id)
    (schedule,) = (
        resource["Properties"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Scheduler::Schedule"
        and resource["Properties"]["Target"]["Arn"] == {"Fn::GetAtt": [publisher_id, "Arn"]}
    )
    assert schedule["ScheduleExpression"] == "cron(30 6 * * ? *)"
    assert schedule["ScheduleExpressionTimezone"] == "Europe/Berlin"


@pytest.mark.parametrize("expression", ["hourly", "rate(1 hour", "at(2026-01-01T00:00:00)"])
def test_a_kpi_schedule_that_is_not_a_rate_or_cron_is_refused(expression: str) -> None:
    with pytest.raises(ValueError, match="kpi_schedule"):
        BillbridgeConfig(kpi_schedule=expression)


# --- dashboard --------------------------------------------------------------------------------------


def _every_kpi() -> dict[str, Any]:
    """KPIs with every figure present, so that emit_kpi_metrics writes each metric it knows."""
    return {
        "unbilled": {
            "rows": [
                {
                    "legal_entity": "ACME-DE",
                    "currency": "EUR",
                    "age_bucket": "31-60",
                    "amount": Decimal("1200.00"),
                    "hours": Decimal("8"),
                }
            ]
        },
        "held_work": {
            "rows": [
                {
                    "legal_entity": "ACME-DE",
                    "currency": "EUR",
                    "age_bucket": "0-30",
                    "amount": Decimal("640.00"),
                    "hours": Decimal("4"),
                }
            ]
        },
        "approval_to_invoice": {"median_days": Decimal("4"), "p90_days": Decimal("11")},
        "corrections": {"requiring_correction": 2},
        "exceptions": {
            "rows": [{"type": "cap_exceeded", "currency": "EUR", "open": 1, "money_at_risk": Decimal("300.00")}]
        },
        "cap_burn": [{"contract_id": "SOW-1", "burn_percent": Decimal("87.5")}],
        "integration_failures": {
            "dead_letters": [{"workflow": "actuals", "messages": 3}],
            "billing_failed_open": 1,
            "median_resolution_hours": Decimal("5.5"),
        },
    }


def _emitted_metrics(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> set[tuple[str, str, frozenset[str]]]:
    """(namespace, name, dimension names) of what emit_kpi_metrics writes in the publisher's environment."""
    capsys.readouterr()
    count = emit_kpi_metrics(_every_kpi(), namespace=HubSettings.from_environment().metrics_namespace)
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert count == len(documents) > 0
    emitted = set()
    for document in documents:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                for dimensions in directive["Dimensions"]:
                    emitted.add((directive["Namespace"], metric["Name"], frozenset(dimensions)))
                    assert document["service"] == env["POWERTOOLS_SERVICE_NAME"]
    return emitted


def _dashboard(synthesized: Synthesized) -> dict[str, Any]:
    (dashboard,) = synthesized.properties("AWS::CloudWatch::Dashboard")
    parts = dashboard["DashboardBody"]["Fn::Join"][1]
    body: dict[str, Any] = json.loads("".join(part if isinstance(part, str) else "TOKEN" for part in parts))
    return body


def _graphed_metrics(body: dict[str, Any], service: str) -> set[tuple[str, str, frozenset[str]]]:
    """(namespace, name, dimension names) of the metrics and searches the dashboard draws for `service`."""
    graphed = set()
    for widget in body["widgets"]:
        for entry in widget.get("properties", {}).get("metrics", []):
            if isinstance(entry[0], str):
                namespace, name, *rest = entry
                pairs = [item for item in rest if not isinstance(item, dict)]
                dimensions = dict(zip(pairs[::2], pairs[1::2], strict=True))
                if dimensions.get("service") == service:
                    graphed.add((namespace, name, frozenset(dimensions)))
            elif (match := SEARCH.match(entry[0].get("expression", ""))) and match.group(3) == service:
                namespace, *dimensions = match.group(1).split(",")
                graphed.add((namespace, match.group(2), frozenset(dimensions)))
    return graphed


def test_the_dashboard_graphs_every_metric_emit_kpi_metrics_writes(
    synthesized: Synthesized, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _publisher_function(synthesized)["Environment"]["Variables"]
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    for name in ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"):
        monkeypatch.setenv(name, env[name])
    emitted = _emitted_metrics(env, capsys)
    assert len({name for _, name, _ in emitted}) == 13
    graphed = _graphed_metrics(_dashboard(synthesized), env["POWERTOOLS_SERVICE_NAME"])
    assert emitted - graphed == set()


# --- alarms -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("error_metric", "max_threshold"), [("4XXError", 0.5), ("5XXError", 0.05)])
def test_webhook_error_rates_alarm(synthesized: Synthesized, error_metric: str, max_threshold: float) -> None:
    api_name = synthesized.stack.webhook_api.api.rest_api_name
    rate_alarms = []
    for alarm in _alarms(synthesized):
        stats = {
            query["MetricStat"]["Metric"]["MetricName"]: query
            for query in alarm.get("Metrics", [])
            if "MetricStat" in query and query["MetricStat"]["Metric"]["Namespace"] == "AWS/ApiGateway"
        }
        if set(stats) != {error_metric, "Count"}:
            continue
        (expression,) = (q for q in alarm["Metrics"] if q.get("ReturnData", True) and "Expression" in q)
        errors, requests = stats[error_metric], stats["Count"]
        assert f"{errors['Id']} / {requests['Id']}" in expression["Expression"], "errors per request"
        assert errors["MetricStat"]["Stat"] == requests["MetricStat"]["Stat"] == "Sum"
        for query in (errors, requests):
            assert query["MetricStat"]["Metric"]["Dimensions"] == [{"Name": "ApiName", "Value": api_name}]
        rate_alarms.append(alarm)
    (alarm,) = rate_alarms
    assert 0 < alarm["Threshold"] <= max_threshold, "a fraction of the requests, not a count"
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"


def _dead_letter_queue_ids(synthesized: Synthesized) -> set[str]:
    """Every queue that ends a failure path: redrive targets, rule and schedule DLQs, on-failure destinations."""
    ids: set[str] = set()
    for queue in synthesized.properties("AWS::SQS::Queue"):
        if "RedrivePolicy" in queue:
            ids |= _referenced_ids(queue["RedrivePolicy"]["deadLetterTargetArn"])
    for rule in synthesized.properties("AWS::Events::Rule"):
        for target in rule.get("Targets", []):
            ids |= _referenced_ids(target.get("DeadLetterConfig", {}))
    for schedule in synthesized.properties("AWS::Scheduler::Schedule"):
        ids |= _referenced_ids(schedule["Target"].get("DeadLetterConfig", {}))
    for config in synthesized.properties("AWS::Lambda::EventInvokeConfig"):
        ids |= _referenced_ids(config["DestinationConfig"]["OnFailure"])
    return ids


def _alarmed_queue_ids(synthesized: Synthesized, metric_name: str) -> set[str]:
    return {
        dimension["Value"]["Fn::GetAtt"][0]
        for alarm in _single_metric_alarms(synthesized, "AWS/SQS", metric_name)
        for dimension in alarm["Dimensions"]
        if dimension["Name"] == "QueueName"
    }


def test_every_dead_letter_queue_alarms_on_its_depth(synthesized: Synthesized) -> None:
    dead_letter_queues = _dead_letter_queue_ids(synthesized)
    assert synthesized.logical_id(synthesized.stack.kpi_publisher.dead_letter_queue) in dead_letter_queues
    bulk_intake_and_feed = 3 + 1  # intake files, chunks, rule delivery; the feed's rules
    assert len(dead_letter_queues) == (
        2 * len(topology.WORKFLOWS) + 2 + len(topology.VENDOR_POLLERS) + bulk_intake_and_feed
    )
    assert dead_letter_queues <= _alarmed_queue_ids(synthesized, "ApproximateNumberOfMessagesVisible")


def test_every_work_queue_alarms_on_the_age_of_its_oldest_message(synthesized: Synthesized) -> None:
    work_queues = {
        logical_id
        for logical_id, queue in synthesized.resources("AWS::SQS::Queue").items()
        if "RedrivePolicy" in queue["Properties"]
    }
    assert len(work_queues) == len(topology.WORKFLOWS) + 2  # and bulk intake's files and chunks queues
    assert work_queues <= _alarmed_queue_ids(synthesized, "ApproximateAgeOfOldestMessage")


def test_failed_timed_out_or_aborted_billing_runs_alarm(synthesized: Synthesized) -> None:
    machine_ref = {"Ref": synthesized.logical_id(synthesized.stack.billing.state_machine)}
    watched = set()
    for alarm in _alarms(synthesized):
        for query in alarm.get("Metrics", []):
            metric = query.get("MetricStat", {}).get("Metric", {})
            if metric.get("Namespace") == "AWS/States" and metric["Dimensions"] == [
                {"Name": "StateMachineArn", "Value": machine_ref}
            ]:
                watched.add(metric["MetricName"])
    assert {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"} <= watched
