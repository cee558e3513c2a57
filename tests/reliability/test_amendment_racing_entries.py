"""An amendment racing a burst of entries on the same contract, on the DynamoDB
ledger (moto): entries of one contract are saved without contending with each
other, an entry rated under the old terms while the amendment was applied is
re-rated before the contract is billed, and every hour is billed once, at the
rate of the version that governs its day."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from billbridge.adapters.dynamo_ledger import DynamoLedger
from billbridge.app.event_translation import time_entry_from
from billbridge.app.ledger import BookScope, apply_to_book
from billbridge.domain.actuals import apply_time_entry
from billbridge.domain.book_draft import RuleContext
from moto import mock_aws

from tests.fakes.hub import CoreHub
from tests.fakes.ledger_table import SerializedClient, create_ledger_table
from tests.reliability.figures import record
from tests.reliability.measures import invoiced_lines

TABLE = "ledger"
CONTRACT = "SOW-RACE"
CONFIG = {
    "tax_rates": [{"jurisdiction": "US-NY", "rate": "0.08875", "effective_from": "2020-01-01"}],
    "legal_entities": [{"legal_entity": "US01", "erp_instance": "erp-us"}],
}
AMENDED_FROM = date(2026, 3, 16)
RATES = {1: Decimal("100.00"), 2: Decimal("150.00")}


def version(number: int) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"clm-v{number}",
        "source": "clm",
        "type": "contract.approved" if number == 1 else "contract.amended",
        "data": {
            "contract_id": CONTRACT,
            "version": number,
            "effective_date": "2026-01-01" if number == 1 else AMENDED_FROM.isoformat(),
            "customer_id": "CUST-RACE",
            "legal_entity": "US01",
            "currency": "USD",
            "tax_jurisdiction": "US-NY",
            "start_date": "2026-01-01",
            "end_date": "2026-12-31",
            "rate_card": [{"role": "consultant", "rate": str(RATES[number])}],
        },
    }


def entry(n: int) -> dict[str, Any]:
    day = date(2026, 3, 2) + timedelta(days=n % 28)
    return {
        "specversion": "1.0",
        "id": f"psa-{n:05d}",
        "source": "psa",
        "type": "time_entry.approved",
        "data": {
            "entry_id": f"TE-{n:05d}",
            "revision": 1,
            "contract_id": CONTRACT,
            "resource_id": f"EMP-{n % 7}",
            "role": "consultant",
            "billable": True,
            "work_date": day.isoformat(),
            "hours": "8",
        },
    }


@pytest.fixture
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def dynamo_hub(fake_aws_credentials: None) -> Iterator[tuple[CoreHub, SerializedClient]]:
    with mock_aws():
        raw = boto3.client("dynamodb")
        create_ledger_table(raw, TABLE)
        client = SerializedClient(raw)
        hub = CoreHub(CONFIG)
        ledger = DynamoLedger(TABLE, client=client)
        ledger.save_config(hub.ledger.load_config())
        hub.ledger = ledger  # type: ignore[assignment]
        yield hub, client


def expected_amount(events: list[dict[str, Any]]) -> Decimal:
    total = Decimal(0)
    for event in events:
        day = date.fromisoformat(event["data"]["work_date"])
        total += Decimal(event["data"]["hours"]) * RATES[2 if day >= AMENDED_FROM else 1]
    return total


def billed(hub: CoreHub) -> tuple[Decimal, Counter[str]]:
    book = hub.ledger.load(CONTRACT).book
    amount = sum((line.amount for invoice in book.invoices.values() for line in invoice.lines), Decimal(0))
    return amount, invoiced_lines([book])


def test_an_amendment_racing_a_burst_of_entries_rates_and_bills_every_hour_once(
    dynamo_hub: tuple[CoreHub, SerializedClient],
) -> None:
    hub, client = dynamo_hub
    hub.deliver(version(1))
    events = [entry(n) for n in range(240)]
    random.Random(5).shuffle(events)
    errors: list[BaseException] = []
    start = threading.Barrier(5)

    def run(work: Any) -> None:
        try:
            start.wait()
            work()
        except BaseException as error:  # surfaced below
            errors.append(error)

    def burst(share: list[dict[str, Any]]) -> None:
        for event in share:
            hub.consume(event)

    def amend() -> None:
        waited = threading.Event()
        for _ in range(30_000):  # amend in the middle of the burst
            if client.calls.get("put_item", 0) >= 120:
                break
            waited.wait(0.001)
        hub.consume(version(2))

    threads = [threading.Thread(target=run, args=(lambda s=events[i::4]: burst(s),)) for i in range(4)]
    threads.append(threading.Thread(target=run, args=(amend,)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    hub.bill("2026-03")
    amount, lines = billed(hub)
    assert amount == expected_amount(events)
    assert lines and max(lines.values()) == 1
    book = hub.ledger.load(CONTRACT).book
    assert set(book.entries) == {e["data"]["entry_id"] for e in events}
    assert all(line.invoice_id for line in book.lines.values() if line.kind == "time")
    record(
        "amendment_racing_entries",
        entries=len(events),
        concurrent_writers=len(threads),
        lines_in_two_invoices=sum(1 for n in lines.values() if n > 1),
        money_drift=amount - expected_amount(events),
    )


def test_an_entry_rated_before_the_amendment_and_saved_after_it_is_re_rated_before_billing(
    dynamo_hub: tuple[CoreHub, SerializedClient],
) -> None:
    hub, _ = dynamo_hub
    ledger: DynamoLedger = hub.ledger  # type: ignore[assignment]
    hub.deliver(version(1))
    late = entry(20)  # 2026-03-22: governed by version 2 once it is stored
    parsed = time_entry_from(late["data"], None)
    scope = BookScope.of_input("time", parsed.entry_id)
    stored = ledger.load_for_update(CONTRACT, scope)  # read under version 1...
    update = apply_time_entry(stored.book, parsed, RuleContext(correlation_id="corr-late"))
    hub.deliver(version(2))  # ...the amendment is applied meanwhile...
    ledger.save(stored, update)  # ...and the entry is saved after it, rated at version 1
    (line,) = ledger.load(CONTRACT).book.lines.values()
    assert line.rate == RATES[1]
    hub.bill("2026-03")
    amount, lines = billed(hub)
    assert amount == Decimal(8) * RATES[2]
    assert max(lines.values()) == 1


def test_entries_of_one_contract_are_saved_without_touching_the_contract_head(
    dynamo_hub: tuple[CoreHub, SerializedClient],
) -> None:
    hub, client = dynamo_hub
    hub.deliver(version(1))
    before = dict(client.calls)
    for n in range(10):
        hub.consume(entry(n))
    calls = {name: count - before.get(name, 0) for name, count in client.calls.items()}
    calls = {name: count for name, count in calls.items() if count}
    # Per entry: one read of the head and the entry's item, the entry -> contract lookup (whose
    # conditional write also finds a rejection kept before it: no query), the entry's item; no
    # transaction, no fence.
    assert calls == {"batch_get_item": 10, "put_item": 20}, calls


def test_a_rule_that_reaches_beyond_its_input_is_applied_again_on_the_whole_book(
    dynamo_hub: tuple[CoreHub, SerializedClient],
) -> None:
    hub, _ = dynamo_hub
    hub.deliver(version(1))
    ledger: DynamoLedger = hub.ledger  # type: ignore[assignment]
    parsed = time_entry_from(entry(1)["data"], None)
    seen: list[int] = []

    def beyond(book: Any) -> Any:
        from dataclasses import replace

        seen.append(len(book.entries))
        update = apply_time_entry(book, parsed, RuleContext(correlation_id="corr-x"))
        return replace(update, book=replace(update.book, written_off_refs=frozenset({"SOMETHING-ELSE"})))

    apply_to_book(ledger, CONTRACT, beyond, scope=BookScope.of_input("time", parsed.entry_id))
    assert ledger.load(CONTRACT).book.written_off_refs == frozenset({"SOMETHING-ELSE"})
    assert len(seen) == 2  # the input's view, then the whole book
