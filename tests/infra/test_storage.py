"""Tables from the topology key schemas, the raw payload bucket, the webhook secret."""

from __future__ import annotations

import json

from billbridge import topology

from infra.config import BillbridgeConfig
from tests.infra.conftest import Synthesized


def _key_schema(schema: topology.KeySchema) -> list[dict[str, str]]:
    keys = [{"AttributeName": schema.partition_key, "KeyType": "HASH"}]
    if schema.sort_key:
        keys.append({"AttributeName": schema.sort_key, "KeyType": "RANGE"})
    return keys


def _table(synthesized: Synthesized, table: object) -> dict:
    resource = synthesized.resources("AWS::DynamoDB::Table")[synthesized.logical_id(table)]
    return resource


def test_ledger_table_schema_index_ttl_and_protection(synthesized: Synthesized) -> None:
    resource = _table(synthesized, synthesized.stack.tables.ledger)
    props = resource["Properties"]
    assert props["KeySchema"] == _key_schema(topology.LEDGER_TABLE)
    assert props["TimeToLiveSpecification"] == {
        "AttributeName": topology.LEDGER_TABLE.ttl_attribute,
        "Enabled": True,
    }
    (index,) = props["GlobalSecondaryIndexes"]
    assert index["IndexName"] == topology.LEDGER_LOOKUP_INDEX
    assert index["KeySchema"] == _key_schema(topology.LEDGER_LOOKUP_KEYS)
    assert props["DeletionProtectionEnabled"] is True
    assert resource["DeletionPolicy"] == "Retain"


def test_the_ledger_is_the_only_table_no_idempotency_table_is_left(synthesized: Synthesized) -> None:
    """One deduplication per event (decision 4): the delivery claims live in the ledger."""
    tables = synthesized.properties("AWS::DynamoDB::Table")
    assert [props["KeySchema"] for props in tables] == [_key_schema(topology.LEDGER_TABLE)]


def test_tables_are_on_demand_encrypted_with_point_in_time_recovery(synthesized: Synthesized) -> None:
    tables = synthesized.properties("AWS::DynamoDB::Table")
    assert tables
    for props in tables:
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert props["SSESpecification"]["SSEEnabled"] is True


def test_buckets_block_public_access_and_are_encrypted(synthesized: Synthesized) -> None:
    for props in synthesized.properties("AWS::S3::Bucket"):
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]


def test_raw_payload_bucket_versioning_lifecycle_and_access_logs(synthesized: Synthesized) -> None:
    raw = synthesized.stack.raw_payloads
    props = synthesized.resources("AWS::S3::Bucket")[synthesized.logical_id(raw.bucket)]["Properties"]
    config = BillbridgeConfig()
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    (rule,) = props["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["ExpirationInDays"] == config.raw_payload_retention_days
    assert rule["Transitions"] == [
        {"StorageClass": "STANDARD_IA", "TransitionInDays": config.raw_payload_ia_transition_days}
    ]
    assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": synthesized.logical_id(raw.access_logs)}


def test_bucket_policies_refuse_plain_http(synthesized: Synthesized) -> None:
    policies = synthesized.properties("AWS::S3::BucketPolicy")
    assert len(policies) == len(synthesized.resources("AWS::S3::Bucket"))
    for policy in policies:
        assert any(
            s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
            for s in policy["PolicyDocument"]["Statement"]
        )


def test_webhook_secret_has_a_list_per_source_and_no_value_in_the_template(synthesized: Synthesized) -> None:
    (secret,) = synthesized.properties("AWS::SecretsManager::Secret")
    assert "SecretString" not in secret
    template = json.loads(secret["GenerateSecretString"]["SecretStringTemplate"])
    assert template == {source: [] for source in topology.WEBHOOK_SOURCES}
