"""Billing contacts sealed in the ledger with the personal-data key (moto KMS + DynamoDB):
nothing readable in the stored item, opened only where decryption is enabled, kept intact by
roles that cannot decrypt, bound to its contract and field; audit records expire after 7 years."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from billbridge import topology
from billbridge.adapters.dynamo_book_items import BOOK_ADAPTER, unpack
from billbridge.adapters.dynamo_ledger import AUDIT_RETENTION_SECONDS, DynamoLedger
from billbridge.adapters.field_encryption import (
    FieldEncryptionError,
    KmsFieldEncryption,
    field_encryption_for,
    is_token,
)
from billbridge.app.event_translation import IngestedEvent
from billbridge.app.sync_contract import SyncContract
from billbridge.domain.model import BookUpdate, ExceptionType
from billbridge.settings import HubSettings
from billbridge.topology import ENV_FIELD_DECRYPTION, ENV_FIELD_ENCRYPTION_KEY_ARN
from moto import mock_aws

from tests.fakes.edge import FixedClock, InMemoryEventPublisher

TABLE = "ledger"
EMAIL = "ap@acme.example"
NAME = "Accounts Payable Team"


def contract(version: int = 1, email: str = EMAIL) -> dict[str, Any]:
    return {
        "contract_id": "SOW-1001",
        "version": version,
        "effective_date": "2026-01-01",
        "customer_id": "CUST-ACME",
        "legal_entity": "US01",
        "currency": "USD",
        "tax_jurisdiction": "US-NY",
        "start_date": "2026-01-01",
        "end_date": "2026-12-31",
        "rate_card": [{"role": "consultant", "rate": "150.00"}],
        "billing_contact": {"name": NAME, "email": email},
    }


def approved(data: dict[str, Any], event_id: str) -> IngestedEvent:
    return IngestedEvent(
        event_type="contract.approved",
        data=data,
        correlation_id=f"corr-{event_id}",
        source="clm",
        event_id=event_id,
    )


@pytest.fixture
def aws(fake_aws_credentials: None) -> Iterator[str]:
    with mock_aws():
        schema, lookup = topology.LEDGER_TABLE, topology.LEDGER_LOOKUP_KEYS
        assert schema.sort_key and lookup.sort_key
        boto3.client("dynamodb").create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": n, "AttributeType": "S"}
                for n in (schema.partition_key, schema.sort_key, lookup.partition_key, lookup.sort_key)
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
        yield boto3.client("kms").create_key(Description="personal data")["KeyMetadata"]["Arn"]


def stored_body(contract_id: str = "SOW-1001") -> bytes:
    """The contract's terms as stored (the `HEAD` item's body)."""
    item = boto3.client("dynamodb").get_item(
        TableName=TABLE, Key={"pk": {"S": f"CONTRACT#{contract_id}"}, "sk": {"S": "HEAD"}}
    )["Item"]
    return unpack(item["body"])


def stored_contact(version: int) -> dict[str, str]:
    contact: dict[str, str] = json.loads(stored_body())["versions"][str(version)]["billing_contact"]
    return contact


def sync(ledger: DynamoLedger, data: dict[str, Any], event_id: str) -> None:
    SyncContract(ledger, InMemoryEventPublisher()).handle(approved(data, event_id))


def test_the_stored_book_holds_tokens_and_the_contracts_consumer_reads_clear_values(aws: str) -> None:
    ledger = DynamoLedger(TABLE, field_encryption=KmsFieldEncryption(key_id=aws, decrypt=True))
    sync(ledger, contract(), "e1")

    raw = stored_body()
    assert EMAIL.encode() not in raw and NAME.encode() not in raw
    contact = ledger.load("SOW-1001").book.versions[1].billing_contact
    assert contact is not None and (contact.name, contact.email) == (NAME, EMAIL)


def test_a_redelivered_version_is_a_duplicate_not_a_conflict(aws: str) -> None:
    ledger = DynamoLedger(TABLE, field_encryption=KmsFieldEncryption(key_id=aws, decrypt=True))
    sync(ledger, contract(), "e1")
    sync(ledger, contract(), "e1-again")
    sync(ledger, contract(email="billing@acme.example"), "e1-changed")
    exceptions = ledger.load("SOW-1001").book.exceptions.values()
    assert [e.type for e in exceptions] == [ExceptionType.VERSION_CONFLICT]  # only the changed body


def test_roles_without_decryption_keep_the_tokens_through_their_own_saves(aws: str) -> None:
    writer = DynamoLedger(TABLE, field_encryption=KmsFieldEncryption(key_id=aws, decrypt=True))
    sync(writer, contract(), "e1")
    sealed = stored_body()

    no_key = DynamoLedger(TABLE)  # e.g. the actuals consumer: no key configured at all
    stored = no_key.load("SOW-1001")
    contact = stored.book.versions[1].billing_contact
    assert contact is not None and is_token(contact.email) and is_token(contact.name)
    no_key.save(stored, BookUpdate(book=replace(stored.book, written_off_refs=frozenset({"X"}))))
    assert stored_body() != sealed  # the book changed...
    reread = writer.load("SOW-1001").book.versions[1].billing_contact
    assert reread is not None and reread.email == EMAIL  # ...and the contact survived it


def test_an_unchanged_contact_is_not_sealed_again(aws: str) -> None:
    encryption = KmsFieldEncryption(key_id=aws, decrypt=True)
    ledger = DynamoLedger(TABLE, field_encryption=encryption)
    sync(ledger, contract(), "e1")
    before = stored_contact(1)
    sync(ledger, contract(version=2), "e2")
    assert stored_contact(1) == before  # the same token after the book was saved again
    assert is_token(before["email"]) and stored_contact(2)["email"] != before["email"]


def test_a_token_moved_to_another_contract_cannot_be_read(aws: str) -> None:
    encryption = KmsFieldEncryption(key_id=aws, decrypt=True)
    sealed = encryption.protect(BOOK_ADAPTER.validate_json(_encoded_book()))
    token = sealed.versions[1].billing_contact.email  # type: ignore[union-attr]
    moved = replace(sealed, contract_id="SOW-2002")
    with pytest.raises(FieldEncryptionError):
        encryption.reveal(moved)
    swapped_version = replace(
        sealed.versions[1],
        billing_contact=replace(sealed.versions[1].billing_contact, name=token),  # type: ignore[type-var]
    )
    with pytest.raises(FieldEncryptionError, match=r"billing_contact\.name"):
        KmsFieldEncryption(key_id=aws).reveal(replace(sealed, versions={1: swapped_version}))


def _encoded_book() -> bytes:
    ledger = DynamoLedger(TABLE)
    sync(ledger, contract(), "e1")
    return stored_body()


def test_encryption_is_configured_from_the_environment_only_where_the_stack_sets_a_key() -> None:
    def encryption(environ: dict[str, str]) -> KmsFieldEncryption | None:
        settings = HubSettings.from_environment(environ)
        return field_encryption_for(settings.field_encryption_key_arn, decrypt=settings.field_decryption)

    assert encryption({}) is None
    encrypt_only = encryption({ENV_FIELD_ENCRYPTION_KEY_ARN: "arn:aws:kms:k"})
    assert isinstance(encrypt_only, KmsFieldEncryption) and not encrypt_only._decrypt
    both = encryption({ENV_FIELD_ENCRYPTION_KEY_ARN: "arn:aws:kms:k", ENV_FIELD_DECRYPTION: "enabled"})
    assert isinstance(both, KmsFieldEncryption) and both._decrypt


def test_audit_records_expire_after_seven_years(aws: str) -> None:
    now = datetime(2026, 3, 16, 12, 0, tzinfo=UTC)
    ledger = DynamoLedger(TABLE, clock=FixedClock(now))
    sync(ledger, contract(), "e1")
    items = boto3.client("dynamodb").query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "AUDIT#SOW-1001"}},
    )["Items"]
    ttl = topology.LEDGER_TABLE.ttl_attribute
    assert items and ttl
    assert {int(item[ttl]["N"]) for item in items} == {int(now.timestamp()) + AUDIT_RETENTION_SECONDS}
    assert AUDIT_RETENTION_SECONDS >= 7 * 365 * 24 * 3600
