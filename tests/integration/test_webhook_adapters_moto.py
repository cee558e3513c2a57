"""The webhook edge's adapters against moto: S3, DynamoDB (ledger keys), EventBridge, Secrets Manager."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
from billbridge import topology
from billbridge.adapters.dynamo_delivery_registry import DynamoDeliveryRegistry, delivery_partition_key
from billbridge.adapters.eventbridge_publisher import PACKED_ENTRY_MAX_BYTES, EventBridgeEventPublisher
from billbridge.adapters.s3_raw_payload_store import S3RawPayloadStore
from billbridge.adapters.secrets_manager_webhook_secrets import (
    SecretsManagerWebhookSecrets,
    WebhookSecretsConfigurationError,
)
from billbridge.app.ingest_webhook import IngestWebhook, WebhookRequest
from billbridge.app.ports import ClaimOutcome, OutboundEvent, PublishError, inline_raw_key
from billbridge.app.webhook_signature import sign
from billbridge.entrypoints.api.webhook_http import http_answer
from moto import mock_aws

from benchmarks.aws_calls import item_size

RECEIVED_AT = datetime(2026, 3, 16, 12, 0, tzinfo=UTC)
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
LEDGER = "ledger"
BUCKET = "raw-payloads"
BUS = "billbridge-bus"


@pytest.fixture
def aws(fake_aws_credentials: None) -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def ledger_table(aws: None) -> str:
    """The ledger table, built from the key schema constants the infrastructure uses."""
    schema = topology.LEDGER_TABLE
    lookup = topology.LEDGER_LOOKUP_KEYS
    assert schema.sort_key and lookup.sort_key and schema.ttl_attribute
    client = boto3.client("dynamodb")
    client.create_table(
        TableName=LEDGER,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"}
            for name in (schema.partition_key, schema.sort_key, lookup.partition_key, lookup.sort_key)
        ],
        KeySchema=[
            {"AttributeName": schema.partition_key, "KeyType": "HASH"},
            {"AttributeName": schema.sort_key, "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": topology.LEDGER_LOOKUP_INDEX,
                "KeySchema": [
                    {"AttributeName": lookup.partition_key, "KeyType": "HASH"},
                    {"AttributeName": lookup.sort_key, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    client.update_time_to_live(
        TableName=LEDGER, TimeToLiveSpecification={"Enabled": True, "AttributeName": schema.ttl_attribute}
    )
    return LEDGER


@pytest.fixture
def bucket(aws: None) -> str:
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    return BUCKET


@pytest.fixture
def bus_queue(aws: None) -> str:
    """A bus whose rule for the ingest source delivers to a queue we can read."""
    events = boto3.client("events")
    sqs = boto3.client("sqs")
    events.create_event_bus(Name=BUS)
    queue_url = sqs.create_queue(QueueName="captured")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="capture", EventBusName=BUS, EventPattern=json.dumps({"source": [topology.INGEST_EVENT_SOURCE]})
    )
    events.put_targets(Rule="capture", EventBusName=BUS, Targets=[{"Id": "queue", "Arn": queue_arn}])
    return queue_url


def drain(queue_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        messages.extend(json.loads(m["Body"]) for m in batch)
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
        )
    return messages


def outbound(event_id: str, *, detail_type: str = "time_entry.rejected", **detail: Any) -> OutboundEvent:
    return OutboundEvent(
        source=topology.INGEST_EVENT_SOURCE,
        detail_type=detail_type,
        detail={"delivery": {"source": "psa", "id": event_id}} | detail,
        correlation_id=f"corr-{event_id}",
    )


def unpacked(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each canonical event the bus delivered, a packed entry's events one by one (as the queue
    consumer reads them), with the entry's detail-type."""
    events: list[dict[str, Any]] = []
    for message in messages:
        packed = message["detail"].get(topology.PACKED_DETAIL_KEY)
        details = packed if isinstance(packed, list) else [message["detail"]]
        events.extend({**message, "detail": detail} for detail in details)
    return events


def delivery_ids_in(detail: str) -> list[str]:
    document = json.loads(detail)
    return [d["delivery"]["id"] for d in document.get(topology.PACKED_DETAIL_KEY, [document])]


# --- S3 ------------------------------------------------------------------------------------------


def test_the_raw_body_is_stored_byte_for_byte_under_source_date_and_webhook_id(bucket: str) -> None:
    store = S3RawPayloadStore(bucket_name=bucket)
    body = b'{"id": "e-1", "odd": "\xc3\xa9"}'
    key = store.save(source="psa", delivery_id="msg/../1", received_at=RECEIVED_AT, body=body)
    assert key.startswith("webhooks/psa/2026/03/16/msg%2F..%2F1/")
    assert store.load(key) == body
    other = store.save(source="psa", delivery_id="msg/../1", received_at=RECEIVED_AT, body=body + b" ")
    assert other != key and store.load(key) == body


# --- DynamoDB ------------------------------------------------------------------------------------


def test_a_first_claim_is_new_and_written_with_the_ledger_keys(ledger_table: str) -> None:
    registry = DynamoDeliveryRegistry(table_name=ledger_table, now=lambda: RECEIVED_AT)
    claim = registry.claim(source="psa", event_id="e-1", body_digest="d1", correlation_id="c1", raw_key="k1")
    assert claim.outcome is ClaimOutcome.NEW
    item = boto3.client("dynamodb").get_item(
        TableName=ledger_table, Key={"pk": {"S": "DELIVERY#psa#e-1"}, "sk": {"S": "DELIVERY"}}
    )["Item"]
    assert item["body_digest"]["S"] == "d1"
    assert item["correlation_id"]["S"] == "c1"
    assert item["raw_key"]["S"] == "k1"
    assert item["accepted_at"]["S"] == RECEIVED_AT.isoformat()
    assert int(item["expires_at"]["N"]) == int(RECEIVED_AT.timestamp()) + topology.IDEMPOTENCY_EXPIRY_SECONDS


def test_a_claim_with_the_raw_body_keeps_it_compressed_within_one_write_unit_for_the_raw_retention(
    ledger_table: str, bucket: str
) -> None:
    registry = DynamoDeliveryRegistry(
        table_name=ledger_table, now=lambda: RECEIVED_AT, raw_retention_seconds=400 * 24 * 3600
    )
    body = json.dumps({"id": "e-1", "data": {"hours": "8", "note": "x" * 300}}).encode()
    key = inline_raw_key("psa", "e-1")
    registry.claim(source="psa", event_id="e-1", body_digest="d1", correlation_id="c1", raw_key=key, raw_body=body)

    item = boto3.client("dynamodb").get_item(
        TableName=ledger_table, Key={"pk": {"S": "DELIVERY#psa#e-1"}, "sk": {"S": "DELIVERY"}}
    )["Item"]
    assert item["raw_encoding"]["S"] == "zlib" and len(item["raw_body"]["B"]) < len(body)
    assert item_size(item) <= 1024, "one write unit"
    assert int(item["expires_at"]["N"]) == int(RECEIVED_AT.timestamp()) + 400 * 24 * 3600
    assert registry.raw_body("psa", "e-1") == body
    assert S3RawPayloadStore(bucket_name=bucket, claims=registry).load(key) == body
    with pytest.raises(KeyError):
        S3RawPayloadStore(bucket_name=bucket, claims=registry).load(inline_raw_key("psa", "e-2"))


def test_the_same_digest_is_a_duplicate_with_the_original_correlation_id(ledger_table: str) -> None:
    registry = DynamoDeliveryRegistry(table_name=ledger_table, now=lambda: RECEIVED_AT)
    registry.claim(source="psa", event_id="e-1", body_digest="d1", correlation_id="c1", raw_key="k1")
    again = registry.claim(source="psa", event_id="e-1", body_digest="d1", correlation_id="c2", raw_key="k2")
    assert (again.outcome, again.correlation_id) == (ClaimOutcome.DUPLICATE, "c1")


def test_another_digest_is_a_conflict_and_is_recorded(ledger_table: str) -> None:
    registry = DynamoDeliveryRegistry(table_name=ledger_table, now=lambda: RECEIVED_AT)
    registry.claim(source="psa", event_id="e-1", body_digest="d1", correlation_id="c1", raw_key="k1")
    clash = registry.claim(source="psa", event_id="e-1", body_digest="d2", correlation_id="c2", raw_key="k2")
    assert clash.outcome is ClaimOutcome.CONFLICT
    for _ in range(2):
        registry.record_conflict(source="psa", event_id="e-1", body_digest="d2", correlation_id="c2", raw_key="k2")

    client = boto3.client("dynamodb")
    items = client.query(
        TableName=ledger_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": delivery_partition_key("psa", "e-1")}},
    )["Items"]
    assert sorted(i["sk"]["S"] for i in items) == ["CONFLICT#d2", "DELIVERY"]
    conflict = next(i for i in items if i["sk"]["S"] == "CONFLICT#d2")
    assert conflict["attempts"]["N"] == "2"
    assert conflict["raw_key"]["S"] == "k2"
    listed = client.query(
        TableName=ledger_table,
        IndexName=topology.LEDGER_LOOKUP_INDEX,
        KeyConditionExpression="gsi1pk = :p",
        ExpressionAttributeValues={":p": {"S": "DELIVERY_CONFLICT"}},
    )["Items"]
    assert [i["event_id"]["S"] for i in listed] == ["e-1"]


def test_a_released_claim_can_be_claimed_again_and_release_is_idempotent(ledger_table: str) -> None:
    registry = DynamoDeliveryRegistry(table_name=ledger_table, now=lambda: RECEIVED_AT)
    registry.claim(source="psa", event_id="e-1", body_digest="d1", correlation_id="c1", raw_key="k1")
    registry.release(source="psa", event_id="e-1")
    registry.release(source="psa", event_id="e-1")
    claim = registry.claim(source="psa", event_id="e-1", body_digest="d1", correlation_id="c3", raw_key="k1")
    assert (claim.outcome, claim.correlation_id) == (ClaimOutcome.NEW, "c3")


def test_an_expired_claim_no_longer_counts(ledger_table: str) -> None:
    moments = iter([RECEIVED_AT, datetime(2026, 4, 30, tzinfo=UTC)])
    registry = DynamoDeliveryRegistry(table_name=ledger_table, now=lambda: next(moments))
    registry.claim(source="psa", event_id="e-1", body_digest="d1", correlation_id="c1", raw_key="k1")
    later = registry.claim(source="psa", event_id="e-1", body_digest="d2", correlation_id="c2", raw_key="k2")
    assert later.outcome is ClaimOutcome.NEW


def test_sources_do_not_share_identities(ledger_table: str) -> None:
    registry = DynamoDeliveryRegistry(table_name=ledger_table)
    registry.claim(source="psa", event_id="e-1", body_digest="d1", correlation_id="c1", raw_key="k1")
    other = registry.claim(source="clm", event_id="e-1", body_digest="d9", correlation_id="c9", raw_key="k9")
    assert other.outcome is ClaimOutcome.NEW


# --- EventBridge ---------------------------------------------------------------------------------


def test_events_are_published_in_chunks_with_decimal_safe_detail(bus_queue: str) -> None:
    publisher = EventBridgeEventPublisher(event_bus_name=BUS)
    events = [outbound(f"e-{i}", amount=Decimal("10.50"), day=RECEIVED_AT.date()) for i in range(23)]
    publisher.publish(events)
    messages = drain(bus_queue)
    assert len(messages) == 1, "canonical events of one type published together travel as one packed entry"
    delivered = unpacked(messages)
    assert [m["detail"]["delivery"]["id"] for m in delivered] == [f"e-{i}" for i in range(23)]
    assert {m["detail"]["amount"] for m in delivered} == {"10.50"}
    assert {m["detail"]["day"] for m in delivered} == {"2026-03-16"}
    assert {m["detail-type"] for m in delivered} == {"time_entry.rejected"}


class FlakyEvents:
    """Wraps the moto client: the first call reports the listed entries as failed."""

    def __init__(self, client: Any, failing_first_time: set[int], failing_always: set[str]) -> None:
        self._client = client
        self._failing_first_time = failing_first_time
        self._failing_always = failing_always
        self.calls: list[int] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(len(Entries))
        results: list[dict[str, Any]] = []
        passing = []
        for index, entry in enumerate(Entries):
            event_ids = delivery_ids_in(entry["Detail"])
            first = len(self.calls) == 1 and index in self._failing_first_time
            if first or self._failing_always.intersection(event_ids):
                results.append({"ErrorCode": "InternalFailure", "ErrorMessage": "try again"})
            else:
                passing.append(entry)
                results.append({})
        if passing:
            sent = iter(self._client.put_events(Entries=passing)["Entries"])
            results = [r or next(sent) for r in results]
        return {"FailedEntryCount": sum(1 for r in results if "ErrorCode" in r), "Entries": results}


def test_failed_entries_are_retried_once(bus_queue: str) -> None:
    flaky = FlakyEvents(boto3.client("events"), failing_first_time={1}, failing_always=set())
    b = outbound("b", detail_type="time_entry.approved")  # another type: its own entry
    EventBridgeEventPublisher(event_bus_name=BUS, client=flaky).publish([outbound("a"), b])
    assert flaky.calls == [2, 1]
    assert sorted(m["detail"]["delivery"]["id"] for m in drain(bus_queue)) == ["a", "b"]


def test_entries_failing_twice_are_raised_by_name(bus_queue: str) -> None:
    flaky = FlakyEvents(boto3.client("events"), failing_first_time=set(), failing_always={"b"})
    b = outbound("b", detail_type="time_entry.approved")
    with pytest.raises(PublishError) as raised:
        EventBridgeEventPublisher(event_bus_name=BUS, client=flaky).publish([outbound("a"), b])
    assert [(e.detail["delivery"]["id"], reason) for e, reason in raised.value.failed] == [
        ("b", "InternalFailure: try again")
    ]
    assert [m["detail"]["delivery"]["id"] for m in drain(bus_queue)] == ["a"]


def test_a_packed_entry_that_fails_reports_every_event_in_it(bus_queue: str) -> None:
    flaky = FlakyEvents(boto3.client("events"), failing_first_time=set(), failing_always={"b"})
    with pytest.raises(PublishError) as raised:
        EventBridgeEventPublisher(event_bus_name=BUS, client=flaky).publish(
            [outbound("a"), outbound("b"), outbound("c")]
        )
    assert [e.detail["delivery"]["id"] for e, _ in raised.value.failed] == ["a", "b", "c"]
    assert drain(bus_queue) == []


def test_packed_entries_stay_within_one_64_kb_chunk_and_keep_the_order(bus_queue: str) -> None:
    events = [outbound(f"e-{i}", note="x" * 2_000) for i in range(100)]
    recorder = RecordingEvents(boto3.client("events"))
    EventBridgeEventPublisher(event_bus_name=BUS, client=recorder).publish(events)
    sizes = [14 + sum(len(entry[k].encode()) for k in ("Source", "DetailType", "Detail")) for entry in recorder.entries]
    assert len(sizes) == 4 and max(sizes) <= PACKED_ENTRY_MAX_BYTES
    assert [m["detail"]["delivery"]["id"] for m in unpacked(drain(bus_queue))] == [f"e-{i}" for i in range(100)]


def test_the_hubs_own_events_and_a_lone_event_are_not_packed(bus_queue: str) -> None:
    own = OutboundEvent(
        source="billbridge.ledger", detail_type="InvoiceProposed", detail={"proposal_id": "P-1"}, correlation_id="c"
    )
    recorder = RecordingEvents(boto3.client("events"))
    EventBridgeEventPublisher(event_bus_name=BUS, client=recorder).publish([own, own, outbound("a")])
    assert [json.loads(entry["Detail"]) for entry in recorder.entries] == [
        {"proposal_id": "P-1"},
        {"proposal_id": "P-1"},
        {"delivery": {"source": "psa", "id": "a"}},
    ]


class RecordingEvents:
    """Wraps the moto client: keeps every entry put."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.entries: list[dict[str, Any]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.entries.extend(Entries)
        return dict(self._client.put_events(Entries=Entries))


def test_a_missing_bus_fails_every_entry(aws: None) -> None:
    with pytest.raises(PublishError) as raised:
        EventBridgeEventPublisher(event_bus_name="no-such-bus").publish([outbound("a")])
    assert len(raised.value.failed) == 1


# --- Secrets Manager -----------------------------------------------------------------------------


def test_secrets_are_read_per_source_and_cached(aws: None) -> None:
    client = boto3.client("secretsmanager")
    arn = client.create_secret(
        Name="webhooks", SecretString=json.dumps({"psa": ["whsec_a", "whsec_b"], "clm": "whsec_c"})
    )["ARN"]
    secrets = SecretsManagerWebhookSecrets(secret_id=arn, client=client)
    assert secrets.active_secrets("psa") == ["whsec_a", "whsec_b"]
    assert secrets.active_secrets("clm") == ["whsec_c"]
    assert secrets.active_secrets("erp") == []
    client.put_secret_value(SecretId=arn, SecretString=json.dumps({"psa": ["whsec_z"]}))
    assert secrets.active_secrets("psa") == ["whsec_a", "whsec_b"], "cached for max_age"
    fresh = SecretsManagerWebhookSecrets(secret_id=arn, client=client, max_age_seconds=0)
    assert fresh.active_secrets("psa") == ["whsec_z"]


def test_a_malformed_secret_value_is_a_configuration_error(aws: None) -> None:
    client = boto3.client("secretsmanager")
    arn = client.create_secret(Name="webhooks", SecretString=json.dumps({"psa": [1, 2]}))["ARN"]
    with pytest.raises(WebhookSecretsConfigurationError):
        SecretsManagerWebhookSecrets(secret_id=arn, client=client).active_secrets("psa")


# --- the use case over the real adapters ---------------------------------------------------------


class Clock:
    def now(self) -> datetime:
        return RECEIVED_AT


class Ids:
    def new_id(self) -> str:
        return "corr-1"


def test_a_delivery_goes_through_every_adapter(ledger_table: str, bucket: str, bus_queue: str) -> None:
    secrets_client = boto3.client("secretsmanager")
    arn = secrets_client.create_secret(Name="webhooks", SecretString=json.dumps({"psa": [SECRET]}))["ARN"]
    use_case = IngestWebhook(
        secrets=SecretsManagerWebhookSecrets(secret_id=arn, client=secrets_client),
        raw_payloads=S3RawPayloadStore(bucket_name=bucket),
        deliveries=DynamoDeliveryRegistry(table_name=ledger_table, now=Clock().now),
        publisher=EventBridgeEventPublisher(event_bus_name=BUS),
        clock=Clock(),
        ids=Ids(),
    )
    event = {
        "specversion": "1.0",
        "id": "psa-1",
        "source": "psa",
        "type": "time_entry.rejected",
        "time": "2026-03-16T09:30:00Z",
        "data": {"entry_id": "TE-1", "revision": 2},
    }
    body = json.dumps(event).encode()
    headers = sign(SECRET, "msg_1", RECEIVED_AT, body) | {"Content-Type": "application/cloudevents+json"}

    first = http_answer(use_case.handle(WebhookRequest(source="psa", headers=headers, body=body)))
    again = http_answer(use_case.handle(WebhookRequest(source="psa", headers=headers, body=body)))

    assert (first.status, again.status) == (202, 200)
    [message] = drain(bus_queue)
    assert message["detail"]["event"] == event
    raw_key = message["detail"]["delivery"]["raw_key"]
    assert S3RawPayloadStore(bucket_name=bucket).load(raw_key) == body
