"""The data feed and bulk intake as deployed: partitioned delivery with its failure paths; the
intake bucket's events, the fan-out queues with their DLQs and partial batch responses."""

from __future__ import annotations

import json
import re
from typing import Any

from billbridge import topology
from billbridge.app.feed_records import PARTITION_QUERY

from tests.infra.conftest import Synthesized


def _stream(synthesized: Synthesized) -> dict[str, Any]:
    (stream,) = synthesized.properties("AWS::KinesisFirehose::DeliveryStream")
    return stream


def test_the_feed_is_delivered_partitioned_by_type_and_date_with_an_error_prefix(synthesized: Synthesized) -> None:
    stream = _stream(synthesized)
    destination = stream["ExtendedS3DestinationConfiguration"]
    assert stream["DeliveryStreamEncryptionConfigurationInput"]["KeyType"] == "AWS_OWNED_CMK"
    assert destination["DynamicPartitioningConfiguration"]["Enabled"] is True
    assert destination["Prefix"] == "feed/type=!{partitionKeyFromQuery:type}/date=!{partitionKeyFromQuery:date}/"
    assert destination["ErrorOutputPrefix"].startswith("feed-errors/!{firehose:error-output-type}/")
    assert destination["BufferingHints"]["SizeInMBs"] >= 64
    processors = destination["ProcessingConfiguration"]["Processors"]
    extraction = next(p for p in processors if p["Type"] == "MetadataExtraction")
    parameters = {p["ParameterName"]: p["ParameterValue"] for p in extraction["Parameters"]}
    assert parameters["MetadataExtractionQuery"] == PARTITION_QUERY
    assert any(p["Type"] == "AppendDelimiterToRecord" for p in processors)


def _firehose_rules(synthesized: Synthesized) -> list[dict[str, Any]]:
    return [
        rule
        for rule in synthesized.properties("AWS::Events::Rule")
        if any(
            "Firehose" in json.dumps(target.get("Arn")) or "Stream" in json.dumps(target.get("Arn"))
            for target in rule.get("Targets", [])
        )
        and "feed_type" in json.dumps(rule.get("Targets"))
    ]


def test_each_feed_type_has_a_rule_writing_its_record_with_retries_and_a_dead_letter_queue(
    synthesized: Synthesized,
) -> None:
    rules = _firehose_rules(synthesized)
    assert len(rules) == len(topology.FEED_EVENTS)
    seen = set()
    for rule in rules:
        (target,) = rule["Targets"]
        template = target["InputTransformer"]["InputTemplate"]
        for field in topology.FEED_RECORD_FIELDS:
            assert f'"{field}":' in template
        found = re.search(r'"feed_type":\s*"([^"]+)"', template)
        assert found, template
        feed_type = found.group(1)
        seen.add(feed_type)
        assert target["DeadLetterConfig"]["Arn"]
        assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert seen == {feed.feed_type for feed in topology.FEED_EVENTS}


def test_the_intake_bucket_announces_files_to_a_rule_on_the_default_bus(synthesized: Synthesized) -> None:
    buckets = [
        b
        for b in synthesized.properties("AWS::S3::Bucket")
        if b.get("NotificationConfiguration", {}).get("EventBridgeConfiguration", {}).get("EventBridgeEnabled")
    ]
    (bucket,) = buckets
    assert bucket["BucketEncryption"]
    prefixes = {r.get("Prefix") for r in bucket["LifecycleConfiguration"]["Rules"]}
    assert {topology.INTAKE_PREFIX, topology.INTAKE_WORK_PREFIX} <= prefixes
    (rule,) = [
        r for r in synthesized.properties("AWS::Events::Rule") if r.get("EventPattern", {}).get("source") == ["aws.s3"]
    ]
    assert "EventBusName" not in rule
    assert rule["EventPattern"]["detail"]["object"]["key"] == [{"prefix": topology.INTAKE_PREFIX}]
    (target,) = rule["Targets"]
    assert target["DeadLetterConfig"]["Arn"] and target["RetryPolicy"]["MaximumRetryAttempts"] > 0


def test_the_splitter_and_chunk_workers_read_one_message_at_a_time_and_report_failures(
    synthesized: Synthesized,
) -> None:
    intake = synthesized.stack.bulk_intake
    for function, queue in ((intake.splitter, intake.files_queue), (intake.chunk_worker, intake.chunk_queue)):
        function_id = synthesized.logical_id(function.function)
        queue_id = synthesized.logical_id(queue)
        mappings = [
            m
            for m in synthesized.properties("AWS::Lambda::EventSourceMapping")
            if m["FunctionName"] == {"Ref": function_id}
        ]
        (mapping,) = mappings
        assert mapping["BatchSize"] == 1
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["EventSourceArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
        redrive = synthesized.template["Resources"][queue_id]["Properties"]["RedrivePolicy"]
        assert redrive["maxReceiveCount"] >= 1
        timeout = synthesized.template["Resources"][function_id]["Properties"]["Timeout"]
        visibility = synthesized.template["Resources"][queue_id]["Properties"]["VisibilityTimeout"]
        assert visibility >= timeout * 6


def test_the_rules_input_template_writes_the_record_the_local_stack_writes() -> None:
    from billbridge.app.feed_records import FEED_RECORD_PATHS, feed_record

    from infra.constructs.data_feed import record_template

    envelope = {
        "id": "e-1",
        "time": "2026-04-01T06:00:12Z",
        "source": "billbridge.billing",
        "detail-type": "InvoiceProposed",
        "detail": {"contract_id": "SOW-1", "total": "10.00"},
    }
    template = record_template("invoice.proposed")
    for name, path in FEED_RECORD_PATHS.items():
        template = template.replace(f"<{name}>", json.dumps(envelope[path.removeprefix("$.")]))
    assert json.loads(template) == feed_record(envelope)
