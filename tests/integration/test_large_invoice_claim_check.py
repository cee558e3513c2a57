"""A contract with thousands of unbilled lines: composed and reserved on the DynamoDB ledger
(moto) within DynamoDB's limits, and its ERP command posted by claim check because it is larger
than an EventBridge entry. The 20,000-line variant (the real 240 KB threshold) is marked
`large`; the one `make test` runs takes the same path with 300 lines and a 16 KB threshold."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from billbridge.adapters.connectors.event_connector import (
    CONNECTOR_EVENT_SOURCE,
    MAX_COMMAND_DETAIL_BYTES,
    CommandTooLargeError,
    EventBusConnector,
    claim_check_key,
)
from billbridge.adapters.dynamo_ledger import DynamoLedger
from billbridge.adapters.s3_run_workspace import S3RunWorkspace
from billbridge.app.billing_config_document import billing_config_from
from billbridge.app.event_translation import IngestedEvent, time_entry_from
from billbridge.app.ledger import BookScope, apply_to_book
from billbridge.app.ports import ConnectorCommand
from billbridge.app.run_billing import ComposeInvoice, PostInvoice
from billbridge.app.sync_contract import SyncContract
from billbridge.domain.actuals import apply_time_entry
from billbridge.domain.book_draft import RuleContext
from billbridge.local.stand_in_boundary import faster_stand_ins
from moto import mock_aws

from benchmarks.ingest_throughput import CONFIG, contract_event, contract_id_of, time_entry_event
from benchmarks.ledger_scale import _table
from tests.fakes.hub import RecordingPublisher

EVENTBRIDGE_ENTRY_BYTES = 256 * 1024
TRANSACTION_ITEMS = 100


@pytest.fixture
def aws() -> Iterator[None]:
    for name, value in (
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ):
        os.environ.setdefault(name, value)
    with mock_aws(), faster_stand_ins():
        yield


def _ingested(payload: dict[str, Any]) -> IngestedEvent:
    return IngestedEvent.from_detail(str(payload["type"]), {"event": payload, "correlationid": f"c-{payload['id']}"})


def bill_one_large_contract(lines: int, max_detail_bytes: int) -> dict[str, Any]:
    """One contract with `lines` one-day entries in March, composed and posted through the use
    cases over DynamoDB (moto), every TransactWriteItems' size recorded."""
    client = boto3.client("dynamodb")
    _table(client, "ledger")
    transaction_sizes: list[int] = []
    client.meta.events.register(
        "provide-client-params.dynamodb.TransactWriteItems",
        lambda params, **_: transaction_sizes.append(len(params["TransactItems"])),
    )
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="workspace")
    ledger = DynamoLedger("ledger", client=client)
    ledger.save_config(billing_config_from(CONFIG))
    publisher = RecordingPublisher()
    SyncContract(ledger, publisher).handle(_ingested(contract_event(0)))
    for entry in range(lines):
        parsed = time_entry_from(time_entry_event(0, entry)["data"], None)
        apply_to_book(
            ledger,
            parsed.contract_id,
            lambda book, e=parsed: apply_time_entry(book, e, RuleContext(correlation_id=f"c-{e.entry_id}")),
            scope=BookScope.of_input("time", parsed.entry_id),
        )
    contract_id = contract_id_of(0)
    composed = ComposeInvoice(ledger, publisher).handle(
        contract_id=contract_id, period="2026-03", run_id="run-1", correlation_id="c-run"
    )
    connector = EventBusConnector(
        publisher, claim_checks=S3RunWorkspace(bucket_name="workspace", client=s3), max_detail_bytes=max_detail_bytes
    )
    PostInvoice(ledger, publisher, connector).handle(contract_id=contract_id, correlation_id="c-run")
    (command_event,) = [e for e in publisher.events if e.source == CONNECTOR_EVENT_SOURCE]
    (invoice,) = ledger.load(contract_id).book.invoices.values()
    return {
        "proposal_id": composed["proposal_id"],
        "invoice_lines": len(invoice.lines),
        "transaction_sizes": transaction_sizes,
        "event": command_event,
        "s3": s3,
    }


def _assert_billed_within_limits(lines: int, max_detail_bytes: int = MAX_COMMAND_DETAIL_BYTES) -> None:
    result = bill_one_large_contract(lines, max_detail_bytes)

    assert result["proposal_id"] and result["invoice_lines"] == lines
    assert result["transaction_sizes"] and max(result["transaction_sizes"]) <= TRANSACTION_ITEMS
    detail = result["event"].detail
    assert "payload" not in detail
    assert len(json.dumps(detail).encode()) < EVENTBRIDGE_ENTRY_BYTES
    location = detail["payload_location"]
    assert location["bucket"] == "workspace" and location["key"].startswith("commands/")
    stored = result["s3"].get_object(Bucket=location["bucket"], Key=location["key"])["Body"].read()
    assert len(stored) == detail["payload_bytes"] > max_detail_bytes
    payload = json.loads(stored)
    assert len(payload["lines"]) == lines


@pytest.mark.usefixtures("aws")
def test_a_contract_with_300_unbilled_lines_is_billed_within_limits_and_posted_by_claim_check() -> None:
    _assert_billed_within_limits(300, max_detail_bytes=16 * 1024)


@pytest.mark.large
@pytest.mark.usefixtures("aws")
def test_a_contract_with_20000_unbilled_lines_is_billed_within_limits_and_posted_by_claim_check() -> None:
    _assert_billed_within_limits(20_000)


def _command(payload: dict[str, Any]) -> ConnectorCommand:
    return ConnectorCommand(
        target="erp-us", name="CreateInvoice", idempotency_key="SOW-1/2026-03", payload=payload, correlation_id="c"
    )


class _MemoryWorkspace:
    location = "workspace"

    def __init__(self) -> None:
        self.documents: dict[str, Any] = {}

    def write(self, key: str, document: Any) -> None:
        self.documents[key] = document


def test_a_command_that_fits_in_an_event_is_sent_inline() -> None:
    publisher = RecordingPublisher()
    store = _MemoryWorkspace()
    EventBusConnector(publisher, claim_checks=store).send(_command({"lines": [1, 2]}))
    (event,) = publisher.events
    assert event.detail["payload"] == {"lines": [1, 2]} and "payload_location" not in event.detail
    assert store.documents == {}


def test_a_command_larger_than_an_event_goes_by_claim_check_under_its_identity() -> None:
    publisher = RecordingPublisher()
    store = _MemoryWorkspace()
    command = _command({"lines": ["x" * 100] * 3000})
    EventBusConnector(publisher, claim_checks=store).send(command)
    (event,) = publisher.events
    assert event.detail["payload_location"] == {"bucket": "workspace", "key": claim_check_key(command)}
    assert claim_check_key(command) == "commands/erp-us/CreateInvoice/SOW-1%2F2026-03.json"
    assert store.documents[claim_check_key(command)] == command.payload


def test_a_command_larger_than_an_event_without_a_store_is_refused_before_anything_is_sent() -> None:
    publisher = RecordingPublisher()
    with pytest.raises(CommandTooLargeError, match="no claim-check store"):
        EventBusConnector(publisher).send(_command({"lines": ["x" * 100] * 3000}))
    assert publisher.events == []
