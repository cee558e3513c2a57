"""The contract book as small items (moto): sizes that do not grow with a
contract's history, a whole-book change that stops halfway billing nothing,
and the fence that serializes whole-book changes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from billbridge.adapters.dynamo_book_items import INVOICE_LINES_PREFIX, unpack
from billbridge.adapters.dynamo_ledger import DynamoLedger
from billbridge.app.ledger import WHOLE_BOOK, LedgerContentionError, apply_to_book
from billbridge.domain.model import BookUpdate
from moto import mock_aws

from benchmarks.aws_calls import item_size
from tests.fakes.edge import FixedClock
from tests.fakes.hub import CoreHub
from tests.fakes.ledger_table import create_ledger_table

TABLE = "ledger"
CONTRACT = "SOW-ITEMS"
CONFIG = {
    "tax_rates": [{"jurisdiction": "US-NY", "rate": "0.08875", "effective_from": "2020-01-01"}],
    "legal_entities": [{"legal_entity": "US01", "erp_instance": "erp-us"}],
}
CONTRACT_EVENT = {
    "specversion": "1.0",
    "id": "clm-1",
    "source": "clm",
    "type": "contract.approved",
    "data": {
        "contract_id": CONTRACT,
        "version": 1,
        "effective_date": "2026-01-01",
        "customer_id": "CUST-1",
        "legal_entity": "US01",
        "currency": "USD",
        "tax_jurisdiction": "US-NY",
        "start_date": "2026-01-01",
        "end_date": "2026-12-31",
        "rate_card": [{"role": "consultant", "rate": "120.00"}],
    },
}


def entry(n: int, month: int = 3) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"psa-{month}-{n}",
        "source": "psa",
        "type": "time_entry.approved",
        "data": {
            "entry_id": f"TE-{month}-{n:05d}",
            "revision": 1,
            "contract_id": CONTRACT,
            "resource_id": f"EMP-{n % 9}",
            "role": "consultant",
            "billable": True,
            "work_date": (date(2026, month, 2) + timedelta(days=n % 26)).isoformat(),
            "hours": "7.5",
        },
    }


@pytest.fixture
def hub(fake_aws_credentials: None) -> Iterator[CoreHub]:
    with mock_aws():
        client = boto3.client("dynamodb")
        create_ledger_table(client, TABLE)
        core = CoreHub(CONFIG)
        ledger = DynamoLedger(TABLE, client=client, clock=FixedClock())
        ledger.save_config(core.ledger.load_config())
        core.ledger = ledger  # type: ignore[assignment]
        core.deliver(CONTRACT_EVENT)
        yield core


def partition_sizes(ledger: DynamoLedger) -> dict[str, int]:
    return {item["sk"]["S"]: item_size(item) for item in ledger.table.query_pk(f"CONTRACT#{CONTRACT}")}


def test_no_item_grows_with_the_contracts_history(hub: CoreHub) -> None:
    ledger: DynamoLedger = hub.ledger  # type: ignore[assignment]
    for n in range(150):
        hub.consume(entry(n, month=3))
    hub.bill("2026-03")
    early = partition_sizes(ledger)
    for n in range(450):
        hub.consume(entry(n, month=4))
    hub.bill("2026-04")
    late = partition_sizes(ledger)
    inputs = [size for sk, size in late.items() if sk.startswith("IN#")]
    assert len(inputs) == 600 and max(inputs) < 1024  # one write unit each, whatever came before
    assert late["HEAD"] == early["HEAD"]
    lines = [size for sk, size in late.items() if sk.startswith(INVOICE_LINES_PREFIX)]
    assert len(lines) == 2 + 5 and max(lines) < 40_000  # 100 proposed lines to an item
    book = ledger.load(CONTRACT).book
    assert sum(len(i.lines) for i in book.invoices.values()) == 600
    assert sum((i.subtotal for i in book.invoices.values()), Decimal(0)) == Decimal("7.5") * 120 * 600


def test_a_billing_run_stopped_before_its_invoice_was_stored_billed_nothing(
    hub: CoreHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger: DynamoLedger = hub.ledger  # type: ignore[assignment]
    for n in range(30):
        hub.consume(entry(n))
    client = ledger.client
    original = client.transact_write_items

    def crash_on_the_invoice(**kwargs: Any) -> Any:
        if any(
            item.get("Put", {}).get("Item", {}).get("sk", {}).get("S", "").startswith("INV#")
            for item in kwargs["TransactItems"]
        ):
            raise RuntimeError("the function stopped")
        return original(**kwargs)

    monkeypatch.setattr(client, "transact_write_items", crash_on_the_invoice)
    with pytest.raises(RuntimeError):
        hub.bill("2026-03")
    monkeypatch.setattr(client, "transact_write_items", original)
    marked = [line for line in ledger.load(CONTRACT).book.lines.values() if line.invoice_id]
    assert marked == []  # the lines marked before the stop name no stored invoice: unbilled
    stored = ledger.table.query_pk(f"CONTRACT#{CONTRACT}", sk_prefix="IN#")
    orphans = [item for item in stored if f'"invoice_id":"{CONTRACT}-2026-03-1"'.encode() in unpack(item["body"])]
    assert len(orphans) == 30  # ...though the stop came after they were marked

    hub.bill("2026-03")
    book = ledger.load(CONTRACT).book
    (invoice,) = book.invoices.values()
    assert len(invoice.lines) == 30
    assert all(line.invoice_id == invoice.proposal_id for line in book.lines.values())
    hub.bill("2026-03")
    assert len(ledger.load(CONTRACT).book.invoices) == 1


def test_whole_book_changes_wait_for_a_live_fence_and_take_an_expired_one(hub: CoreHub) -> None:
    ledger: DynamoLedger = hub.ledger  # type: ignore[assignment]
    clock: FixedClock = ledger.table._clock
    held = ledger.load_for_update(CONTRACT, WHOLE_BOOK)  # another writer holds the contract

    def touch(book: Any) -> BookUpdate:
        from dataclasses import replace

        return BookUpdate(book=replace(book, written_off_refs=frozenset({"X"})))

    with pytest.raises(LedgerContentionError):
        apply_to_book(ledger, CONTRACT, touch, sleep=lambda _: None)
    hub.consume(entry(1))  # inputs do not wait for the fence
    assert "TE-3-00001" in ledger.load(CONTRACT).book.entries

    clock.advance(121)  # the holder died: its fence expires
    apply_to_book(ledger, CONTRACT, touch, sleep=lambda _: None)
    assert ledger.load(CONTRACT).book.written_off_refs == frozenset({"X"})
    from billbridge.app.ledger import ConcurrentUpdateError

    with pytest.raises(ConcurrentUpdateError):  # the late holder cannot finish
        ledger.save(held, touch(held.book))


def test_a_new_entry_s_audit_is_found_by_correlation_through_its_lookup_and_billing_leaves_the_index_alone(
    hub: CoreHub,
) -> None:
    ledger: DynamoLedger = hub.ledger  # type: ignore[assignment]
    hub.consume(entry(1))
    correlation = "corr-psa-psa-3-1"
    (lookup,) = ledger.table.query_index(f"INPUT_AUDIT#{correlation}")
    assert lookup["pk"]["S"] == "ENTRY#TE-3-00001" and lookup["contract_id"]["S"] == CONTRACT
    (own,) = ledger.table.query_pk(f"CONTRACT#{CONTRACT}", sk_prefix="IN#")
    assert own["ac"]["S"] == correlation and "gsi1pk" not in own  # the item is off the index

    hub.bill("2026-03")
    (billed,) = ledger.table.query_pk(f"CONTRACT#{CONTRACT}", sk_prefix="IN#")
    assert int(billed["ir"]["N"]) > int(own["ir"]["N"]) and "gsi1pk" not in billed
    trail = ledger.book_store.input_audit_by_correlation(correlation)
    assert trail and {record["correlation_id"] for record in trail} == {correlation}
    assert all(record["contract_id"] == CONTRACT for record in trail)


def test_an_entry_whose_lookup_another_delivery_wrote_first_keeps_its_index_on_its_item(hub: CoreHub) -> None:
    ledger: DynamoLedger = hub.ledger  # type: ignore[assignment]
    ledger.client.put_item(
        TableName=TABLE,
        Item={
            "pk": {"S": "ENTRY#TE-3-00002"},
            "sk": {"S": "CONTRACT"},
            "contract_id": {"S": CONTRACT},
            "gsi1pk": {"S": "INPUT_AUDIT#another-delivery"},
            "gsi1sk": {"S": "2026-03-16T12:00:00+00:00"},
        },
    )
    hub.consume(entry(2))
    correlation = "corr-psa-psa-3-2"
    (own,) = ledger.table.query_pk(f"CONTRACT#{CONTRACT}", sk_prefix="IN#")
    assert own["gsi1pk"]["S"] == f"INPUT_AUDIT#{correlation}"
    trail = ledger.book_store.input_audit_by_correlation(correlation)
    assert trail and {record["correlation_id"] for record in trail} == {correlation}
    assert ledger.book_store.input_audit_by_correlation("another-delivery") == []
