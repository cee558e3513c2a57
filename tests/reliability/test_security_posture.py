"""Security posture: least-privilege IAM, encryption at rest, no secrets in Lambda
environments (from the synthesized template), and no personal data in logs or
dead-letter attributes (through the local stack)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from billbridge import topology

from benchmarks.reliability_table import template_figures
from tests.reliability.figures import record
from tests.reliability.generated_book import cloud_event, generate_book
from tests.reliability.local_hub import LocalHub, local_hub

WILDCARD_ACTIONS = {
    "xray:PutTraceSegments": "X-Ray has no resource-level permissions",
    "xray:PutTelemetryRecords": "X-Ray has no resource-level permissions",
    "xray:GetSamplingRules": "X-Ray has no resource-level permissions",
    "xray:GetSamplingTargets": "X-Ray has no resource-level permissions",
    "cloudwatch:PutMetricData": "scoped by the cloudwatch:namespace condition, not by resource",
    "logs:CreateLogDelivery": "log delivery APIs have no resource-level permissions",
    "logs:GetLogDelivery": "log delivery APIs have no resource-level permissions",
    "logs:UpdateLogDelivery": "log delivery APIs have no resource-level permissions",
    "logs:DeleteLogDelivery": "log delivery APIs have no resource-level permissions",
    "logs:ListLogDeliveries": "log delivery APIs have no resource-level permissions",
    "logs:PutResourcePolicy": "log delivery APIs have no resource-level permissions",
    "logs:DescribeResourcePolicies": "log delivery APIs have no resource-level permissions",
    "logs:DescribeLogGroups": "log delivery APIs have no resource-level permissions",
}
"""Actions AWS does not scope by resource; any other action on `*` fails the test."""
SECRET_NAME = re.compile(r"(SECRET|PASSWORD|TOKEN|PRIVATE|API_?KEY)", re.IGNORECASE)
SECRET_VALUE = re.compile(r"(whsec_|AKIA[0-9A-Z]{16}|-----BEGIN)")
CONTACT_EMAIL = "jane.doe.ap@customer-reliability.example"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    from infra.synth import synthesize_template

    return synthesize_template()


def resources(template: dict[str, Any], kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == kind:
            yield logical_id, resource.get("Properties", {})


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_every_policy_statement_is_scoped_to_named_resources(template: dict[str, Any]) -> None:
    statements = wildcard = 0
    problems = []
    for logical_id, properties in resources(template, "AWS::IAM::Policy"):
        for statement in properties["PolicyDocument"]["Statement"]:
            statements += 1
            if "*" not in as_list(statement.get("Resource", [])):
                continue
            wildcard += 1
            unlisted = [a for a in as_list(statement["Action"]) if a not in WILDCARD_ACTIONS]
            if unlisted:
                problems.append((logical_id, unlisted))
    for logical_id, properties in resources(template, "AWS::IAM::Role"):
        for policy in properties.get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                statements += 1
                if "*" in as_list(statement.get("Resource", [])):
                    problems.append((logical_id, as_list(statement["Action"])))
    assert statements > 0
    assert problems == []
    counted = template_figures(template)["security_iam"]
    assert counted == {"policy_statements": statements, "wildcard_statements_allowed": wildcard}
    record("security_iam", **counted, violations=len(problems))


def test_tables_queues_and_buckets_are_encrypted_at_rest(template: dict[str, Any]) -> None:
    tables = list(resources(template, "AWS::DynamoDB::Table")) + list(resources(template, "AWS::DynamoDB::GlobalTable"))
    queues = list(resources(template, "AWS::SQS::Queue"))
    buckets = list(resources(template, "AWS::S3::Bucket"))
    assert tables and queues and buckets
    for logical_id, properties in tables:
        sse = properties.get("SSESpecification", {})
        assert sse.get("SSEEnabled") is True or sse.get("KMSMasterKeyId"), logical_id
    for logical_id, properties in queues:
        assert properties.get("KmsMasterKeyId") or properties.get("SqsManagedSseEnabled"), logical_id
    for logical_id, properties in buckets:
        rules = properties.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
        assert rules, logical_id
    counted = template_figures(template)["security_encryption"]
    assert counted == {"tables": len(tables), "queues": len(queues), "buckets": len(buckets)}
    record("security_encryption", **counted, unencrypted=0)  # each resource was asserted encrypted above


def test_no_secret_values_in_lambda_environments(template: dict[str, Any]) -> None:
    functions = list(resources(template, "AWS::Lambda::Function"))
    assert functions
    variables = 0
    for logical_id, properties in functions:
        for name, value in properties.get("Environment", {}).get("Variables", {}).items():
            variables += 1
            assert not (isinstance(value, str) and SECRET_VALUE.search(value)), (logical_id, name)
            if SECRET_NAME.search(name):
                # a name that sounds secret may only carry a reference (an ARN or a Ref), never a value
                assert not isinstance(value, str) or value.startswith("arn:"), (logical_id, name)
    counted = template_figures(template)["security_lambda_env"]
    assert counted == {"functions": len(functions), "variables": variables}
    record("security_lambda_env", **counted, secret_values=0)  # each value was asserted above


def _replay_past_the_webhook(hub: LocalHub, event: dict[str, Any]) -> None:
    """What an EventBridge archive replay does: the canonical event on the bus again, past the webhook
    (an event the edge of an earlier release accepted reaches the consumers this way)."""
    detail = {
        "schema_version": 1,
        "correlationid": event["correlationid"],
        "delivery": {"source": event["source"], "id": event["id"], "replayed": True},
        "event": event,
    }
    hub.stack.client("events").put_events(
        Entries=[
            {
                "EventBusName": hub.stack.names.event_bus,
                "Source": topology.INGEST_EVENT_SOURCE,
                "DetailType": event["type"],
                "Detail": json.dumps(detail),
            }
        ]
    )


def test_the_billing_contact_never_reaches_logs_or_dead_letters(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # the AWS SDK's DEBUG wire logs are never on in production
    caplog.set_level(logging.DEBUG, logger="billbridge")
    book = generate_book(seed=61, min_events=40, contact_email=CONTACT_EMAIL)
    contract = book.events[0]
    broken = cloud_event(  # a contract the consumer cannot use: dead-lettered with its error
        "clm",
        "clm-broken-v1",
        "contract.approved",
        {**contract["data"], "contract_id": "SOW-BROKEN", "currency": "USD", "rate_card": "not a list"},
        "SOW-BROKEN",
    )
    rejected = {**broken, "id": "clm-rejected", "data": {**broken["data"], "version": "one"}}
    with local_hub(book.config, prefix="pii") as hub:
        for event in book.events:
            hub.post(event)
        refused = [hub.post(broken)[0], hub.post(rejected)[0]]  # the edge refuses both, logging why
        _replay_past_the_webhook(hub, broken)  # the consumer meets it, and dead-letters it
        hub.drain()
        result = hub.bill(book.period, "pii-2026-03")
        dead_letters = hub.dead_letters()
        stored = [b for b in hub.books() if b.contract_id == contract["data"]["contract_id"]]
    captured = capfd.readouterr()
    logged = captured.out + captured.err + "\n".join(r.getMessage() for r in caplog.records)
    dead = [m for messages in dead_letters.values() for m in messages]
    assert refused == [400, 400]
    assert result["status"] == "SUCCEEDED"
    assert stored and stored[0].versions[1].billing_contact is not None  # the contact was kept, not dropped
    assert len(logged) > 1000  # the handlers did log
    # The precondition of the dead-letter check: the broken contract is there, with its error.
    assert [json.loads(m["body"])["detail"]["event"]["id"] for m in dead] == ["clm-broken-v1"]
    assert CONTACT_EMAIL in dead[0]["body"], "the dead letter carries the event the check is about"
    attributes = str([m["messageAttributes"] for m in dead])  # the error the consumer attached
    assert "rate_card" in attributes, "the error attribute names the field"
    assert CONTACT_EMAIL not in logged
    assert "jane.doe" not in logged
    assert CONTACT_EMAIL not in attributes
    record(
        "security_pii_in_logs",
        deliveries=len(book.events) + 2,
        refused_at_the_edge=refused.count(400),
        log_bytes=len(logged),
        dead_letters=len(dead),
        email_occurrences=logged.count(CONTACT_EMAIL) + attributes.count(CONTACT_EMAIL),
    )
