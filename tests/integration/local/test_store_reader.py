"""Read-only commands read the store without starting the stand-ins: the ledger's
reads over the store reader answer what they answer over moto, on the same state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from billbridge.adapters.dynamo_delivery_registry import DynamoDeliveryRegistry
from billbridge.adapters.dynamo_ledger import DynamoLedger
from billbridge.adapters.s3_raw_payload_store import S3RawPayloadStore
from billbridge.local.scenario_replay import ScenarioReplayer, generate_webhook_secrets
from billbridge.local.stack import LocalStack
from billbridge.local.store import LocalStore
from billbridge.local.store_reader import StoreClients, UnsupportedReadError

from tests.scenarios.catalog import load_scenario


def reads(ledger: DynamoLedger) -> dict[str, Any]:
    contract_ids = ledger.contract_ids()
    exceptions = sorted(ledger.exceptions(), key=lambda e: e.exception_id)
    correlations = sorted({r["correlation_id"] for c in contract_ids for r in ledger.audit_of_contract(c)})
    return {
        "contract_ids": contract_ids,
        "books": sorted(ledger.books(), key=lambda b: b.contract_id),
        "stored": [ledger.load(c) for c in contract_ids],
        "mappings": [ledger.mapping(c) for c in contract_ids],
        "exceptions": exceptions,
        "audit": [ledger.audit_trail_of_contract(c) for c in contract_ids],
        "by_correlation": [ledger.audit_by_correlation(c) for c in correlations],
        "config": ledger.load_config(),
        "deliveries": sorted(ledger.deliveries(), key=lambda d: sorted(d.items())),
        "parked": ledger.parked(),
        "entry": ledger.contract_of_entry("TE-10"),
        "missing": ledger.load("SOW-NONE"),
    }


def test_the_ledger_reads_the_same_over_the_store_as_over_moto(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    scenario, _ = load_scenario("02-amendment-split")
    secrets = generate_webhook_secrets()
    with (
        LocalStack(secrets=secrets, state_file=state) as stack,
        ScenarioReplayer(stack, secrets) as replayer,
    ):
        replayer.run(scenario)
        with stack.unit_of_work():
            # The scenario's deliveries are single small events, kept in their claims (decision 5):
            # a batch's body is an S3 object.
            stack.client("s3").put_object(Bucket=stack.names.raw_bucket, Key="webhooks/psa/b", Body=b'[{"id":"x"}]')
            over_moto = reads(DynamoLedger(stack.names.ledger_table, client=stack.client("dynamodb")))
            inline_key = next(d["raw_key"] for d in over_moto["deliveries"] if d["raw_key"].startswith("delivery-"))
            moto_claims = DynamoDeliveryRegistry(table_name=stack.names.ledger_table, client=stack.client("dynamodb"))
            inline_over_moto = S3RawPayloadStore(
                bucket_name=stack.names.raw_bucket, client=stack.client("s3"), claims=moto_claims
            ).load(inline_key)
        with LocalStore(state, create=False) as store:
            clients = StoreClients(store, stack.names)
            over_store = reads(DynamoLedger(stack.names.ledger_table, client=clients("dynamodb")))
            key = next(iter(store.object_keys()))
            body = clients("s3").get_object(Bucket=stack.names.raw_bucket, Key=key)["Body"].read()
            assert body == stack.client("s3").get_object(Bucket=stack.names.raw_bucket, Key=key)["Body"].read()
            store_claims = DynamoDeliveryRegistry(table_name=stack.names.ledger_table, client=clients("dynamodb"))
            inline_over_store = S3RawPayloadStore(
                bucket_name=stack.names.raw_bucket, client=clients("s3"), claims=store_claims
            ).load(inline_key)
    assert inline_over_store == inline_over_moto and inline_over_moto.startswith(b"{")

    assert over_moto["contract_ids"] == ["SOW-200"]
    assert over_moto["exceptions"] and over_moto["audit"][0] and over_moto["deliveries"]
    assert over_store == over_moto


def test_an_expression_the_reader_does_not_know_is_refused(tmp_path: Path) -> None:
    with LocalStore(tmp_path / "s.sqlite") as store:
        dynamodb = StoreClients(store, LocalStack().names)("dynamodb")
        with pytest.raises(UnsupportedReadError, match="not supported"):
            dynamodb.scan(
                TableName="billbridge-local-ledger",
                FilterExpression="attribute_exists(pk)",
                ExpressionAttributeValues={},
            )
