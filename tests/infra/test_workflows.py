"""Each workflow: rule -> queue -> consumer, and the failure path at every hop."""

from __future__ import annotations

import pytest
from billbridge import topology

from infra.config import BillbridgeConfig
from tests.infra.conftest import Synthesized


def _consumer(synthesized: Synthesized, workflow: topology.Workflow):  # type: ignore[no-untyped-def]
    return next(c for c in synthesized.stack.consumers if c.workflow == workflow)


@pytest.mark.parametrize("workflow", topology.WORKFLOWS, ids=lambda w: w.name)
def test_consumer_reports_partial_batch_failures(synthesized: Synthesized, workflow: topology.Workflow) -> None:
    consumer = _consumer(synthesized, workflow)
    mappings = [
        props
        for props in synthesized.properties("AWS::Lambda::EventSourceMapping")
        if props["FunctionName"] == {"Ref": synthesized.logical_id(consumer.consumer.function)}
    ]
    assert len(mappings) == 1
    (mapping,) = mappings
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == workflow.batch_size
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [synthesized.logical_id(consumer.queue), "Arn"]}


def _mapping(synthesized: Synthesized, workflow: topology.Workflow) -> dict:  # type: ignore[type-arg]
    consumer = _consumer(synthesized, workflow)
    (mapping,) = [
        props
        for props in synthesized.properties("AWS::Lambda::EventSourceMapping")
        if props["FunctionName"] == {"Ref": synthesized.logical_id(consumer.consumer.function)}
    ]
    return mapping


def test_the_actuals_consumer_gathers_up_to_100_records_for_at_most_5_seconds(synthesized: Synthesized) -> None:
    """Time entries arrive in bursts: one invocation per 100 records instead of one per few."""
    actuals = next(w for w in topology.WORKFLOWS if w.name == "actuals")
    mapping = _mapping(synthesized, actuals)
    assert (mapping["BatchSize"], mapping["MaximumBatchingWindowInSeconds"]) == (100, 5)


@pytest.mark.parametrize("workflow", [w for w in topology.WORKFLOWS if w.name != "actuals"], ids=lambda w: w.name)
def test_low_volume_consumers_are_invoked_at_once(synthesized: Synthesized, workflow: topology.Workflow) -> None:
    """Contracts and ERP feedback are a few events a day: a window would only add latency."""
    mapping = _mapping(synthesized, workflow)
    assert mapping["BatchSize"] == 10
    assert "MaximumBatchingWindowInSeconds" not in mapping


@pytest.mark.parametrize("workflow", topology.WORKFLOWS, ids=lambda w: w.name)
def test_a_batch_fits_in_the_queue_visibility_timeout(synthesized: Synthesized, workflow: topology.Workflow) -> None:
    consumer = _consumer(synthesized, workflow)
    queue = synthesized.template["Resources"][synthesized.logical_id(consumer.queue)]["Properties"]
    function = synthesized.template["Resources"][synthesized.logical_id(consumer.consumer.function)]["Properties"]
    window = _mapping(synthesized, workflow).get("MaximumBatchingWindowInSeconds", 0)
    assert queue["VisibilityTimeout"] >= 6 * function["Timeout"] + window


@pytest.mark.parametrize("workflow", topology.WORKFLOWS, ids=lambda w: w.name)
def test_queue_redrives_to_its_dead_letter_queue(synthesized: Synthesized, workflow: topology.Workflow) -> None:
    consumer = _consumer(synthesized, workflow)
    queue = synthesized.resources("AWS::SQS::Queue")[synthesized.logical_id(consumer.queue)]["Properties"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [synthesized.logical_id(consumer.dead_letter_queue), "Arn"]},
        "maxReceiveCount": workflow.max_receive_count,
    }
    timeout = next(
        p["Timeout"] for p in synthesized.properties("AWS::Lambda::Function") if p["Handler"] == workflow.handler
    )
    assert queue["VisibilityTimeout"] >= timeout


@pytest.mark.parametrize("workflow", topology.WORKFLOWS, ids=lambda w: w.name)
def test_rule_matches_the_workflow_pattern_and_its_target_has_dlq_and_retry(
    synthesized: Synthesized, workflow: topology.Workflow
) -> None:
    consumer = _consumer(synthesized, workflow)
    rule = synthesized.resources("AWS::Events::Rule")[synthesized.logical_id(consumer.rule)]["Properties"]
    assert rule["EventPattern"] == workflow.event_pattern
    assert rule["EventBusName"] == {"Ref": synthesized.logical_id(synthesized.stack.event_bus.bus)}
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [synthesized.logical_id(consumer.queue), "Arn"]}
    assert target["DeadLetterConfig"] == {
        "Arn": {"Fn::GetAtt": [synthesized.logical_id(consumer.delivery_dead_letter_queue), "Arn"]}
    }
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] > 0


@pytest.mark.parametrize("workflow", topology.WORKFLOWS, ids=lambda w: w.name)
def test_both_dead_letter_queues_and_the_queue_age_alarm(synthesized: Synthesized, workflow: topology.Workflow) -> None:
    consumer = _consumer(synthesized, workflow)
    alarms = synthesized.properties("AWS::CloudWatch::Alarm")
    watched = {
        (alarm["MetricName"], alarm["Dimensions"][0]["Value"]["Fn::GetAtt"][0])
        for alarm in alarms
        if alarm.get("Namespace") == "AWS/SQS"
    }
    assert (
        "ApproximateNumberOfMessagesVisible",
        synthesized.logical_id(consumer.dead_letter_queue),
    ) in watched
    assert (
        "ApproximateNumberOfMessagesVisible",
        synthesized.logical_id(consumer.delivery_dead_letter_queue),
    ) in watched
    assert ("ApproximateAgeOfOldestMessage", synthesized.logical_id(consumer.queue)) in watched


def test_every_queue_is_encrypted_and_refuses_plain_http(synthesized: Synthesized) -> None:
    queues = synthesized.resources("AWS::SQS::Queue")
    for props in queues.values():
        assert props["Properties"]["SqsManagedSseEnabled"] is True
    protected = set()
    for policy in synthesized.properties("AWS::SQS::QueuePolicy"):
        for statement in policy["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement.get("Condition") == {
                "Bool": {"aws:SecureTransport": "false"}
            }:
                protected.update(queue["Ref"] for queue in policy["Queues"])
    assert protected == set(queues)


def test_every_alarm_notifies_the_encrypted_alarm_topic(synthesized: Synthesized) -> None:
    topic_id = synthesized.logical_id(synthesized.stack.monitoring.alarm_topic)
    for alarm in synthesized.properties("AWS::CloudWatch::Alarm"):
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]
    topic = synthesized.resources("AWS::SNS::Topic")[topic_id]["Properties"]
    assert "KmsMasterKeyId" in topic


def test_the_bus_is_archived_for_replay(synthesized: Synthesized) -> None:
    (archive,) = synthesized.properties("AWS::Events::Archive")
    assert archive["RetentionDays"] == BillbridgeConfig().event_archive_retention_days
    assert archive["SourceArn"] == {"Fn::GetAtt": [synthesized.logical_id(synthesized.stack.event_bus.bus), "Arn"]}
