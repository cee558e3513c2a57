"""Duplicate storm and archive replay.

A seeded book (contracts, time entries with revisions, expenses, milestones),
every event delivered 1 to 10 times in shuffled order, as single and batch
deliveries, actuals often before their contract (pending). Each event must have
exactly one ledger effect, the invoices must equal those of a clean delivery,
money drift must be 0.00, and replaying the whole archive must leave the ledger
(hashed) as it was.
"""

from __future__ import annotations

import base64
import json
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from billbridge import topology
from billbridge.adapters.dynamo_ledger import DynamoLedger
from billbridge.app.ports import claim_of_inline_raw_key

from tests.fakes.hub import CoreHub
from tests.reliability.core_driver import clean_hub, consume
from tests.reliability.figures import record
from tests.reliability.generated_book import GeneratedBook, generate_book, storm
from tests.reliability.local_hub import LocalHub, local_hub
from tests.reliability.measures import (
    comparable_report,
    doubled_effects,
    invoiced_lines,
    invoiced_subtotal,
    ledger_effects,
    ledger_hash,
    money_drift,
)

CORE_EVENTS = 10_000
LOCAL_EVENTS = 180
LARGE_LOCAL_EVENTS = int(os.environ.get("BILLBRIDGE_LARGE_EVENTS", "10000"))
"""10,000 by default; a smaller figure only to try the large path quickly."""
LARGE_SHARD_EVENTS = 500
"""The large run is sharded by contract over fresh local stacks: moto's DynamoDB
queries scan the whole table, so one table of 10,000 events' items would make
every write slower than the last. Contracts are the unit of consistency, so a
shard per group of contracts changes nothing the storm checks."""


def expected_effects(book: GeneratedBook) -> set[str]:
    return (
        {f"entry:{entry_id}" for entry_id in book.entries}
        | {f"expense:{event['data']['expense_id']}" for event in book.events if event["type"] == "expense.approved"}
        | {f"milestone:{key}" for key in book.milestones}
    )


def assert_one_effect_per_event(book: GeneratedBook, books: list[Any]) -> None:
    effects = ledger_effects(books)
    assert set(effects) == expected_effects(book)
    assert max(effects.values()) == 1
    for stored in books:
        for entry_id, entry in stored.entries.items():
            assert entry.revision == book.entries[entry_id], entry_id
    lines = invoiced_lines(books)
    assert lines and max(lines.values()) == 1, [k for k, v in lines.items() if v > 1][:5]


def test_duplicate_storm_of_ten_thousand_events_through_the_use_cases() -> None:
    started = time.perf_counter()
    book = generate_book(seed=20260301, min_events=CORE_EVENTS)
    deliveries, copies = storm(book, seed=7)
    clean = clean_hub(book.events, book.config, book.period)

    hub = CoreHub(book.config)
    rng = random.Random(11)
    past_dedup = 0
    for payload in deliveries:
        for event in payload if isinstance(payload, list) else [payload]:
            if hub.deliver(event) == "duplicate" and rng.random() < 0.25:
                consume(hub, event)  # the queue delivered it again: the use case must absorb it
                past_dedup += 1
    hub.bill(book.period)
    books = hub.ledger.books()

    assert book.size >= CORE_EVENTS
    assert_one_effect_per_event(book, books)
    assert comparable_report(hub.report()) == comparable_report(clean.report())
    drift = money_drift(book.expected_subtotal, invoiced_subtotal(books))
    assert drift == Decimal("0.00")
    assert ledger_hash(books) == ledger_hash(clean.ledger.books())
    record(
        "duplicate_storm_core",
        events=book.size,
        contracts=len(book.contracts),
        deliveries=copies,
        redelivered_past_dedup=past_dedup,
        invoices=len(hub.report()["invoices"]),
        invoiced=sum(invoiced_subtotal(books).values(), Decimal("0")),
        money_drift=drift,
        doubled_effects=doubled_effects(books),
        seconds=round(time.perf_counter() - started, 1),
    )


@dataclass
class StormRun:
    book: GeneratedBook
    hub: LocalHub
    deliveries: int
    copies: int
    queue_duplicates: int
    report: dict[str, Any]
    ledger_hash: str
    seconds: float


def inject_queue_duplicates(hub: LocalHub, share: float, rng: random.Random) -> int:
    """Standard queues deliver at least once: copy waiting messages, past the webhook de-duplication."""
    sqs = hub.stack.client("sqs")
    copied = 0
    for workflow in topology.WORKFLOWS:
        url = hub.stack.queue_url(hub.stack.names.queue(workflow))
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
        for message in messages:
            if rng.random() < share:
                sqs.send_message(QueueUrl=url, MessageBody=message["Body"])
                copied += 1
    return copied


def run_storm(book: GeneratedBook, seed: int, hub: LocalHub) -> tuple[int, int, int]:
    deliveries, copies = storm(book, seed=seed)
    rng = random.Random(seed)
    queue_duplicates = 0
    for index, payload in enumerate(deliveries, start=1):
        hub.post(payload)
        if index % 20 == 0:
            queue_duplicates += inject_queue_duplicates(hub, 0.5, rng)
            hub.drain()
    hub.drain()
    result = hub.bill(book.period, f"storm-{book.seed}")
    assert result["status"] == "SUCCEEDED", result
    return len(deliveries), copies, queue_duplicates


def check_storm(book: GeneratedBook, hub: LocalHub) -> dict[str, Any]:
    books = hub.books()
    clean = clean_hub(book.events, book.config, book.period)
    assert_one_effect_per_event(book, books)
    report = hub.report()
    assert comparable_report(report) == comparable_report(clean.report())
    assert money_drift(book.expected_subtotal, invoiced_subtotal(books)) == Decimal("0.00")
    assert hub.dead_letters() == {workflow.name: [] for workflow in topology.WORKFLOWS}
    event_saves = {k: v for k, v in hub.saves_per_correlation().items() if k.startswith("corr-")}
    assert max(event_saves.values()) == 1, [k for k, v in event_saves.items() if v > 1][:5]
    assert set(hub.tally.accepted) == {(e["source"], e["id"]) for e in book.events}
    assert len(hub.tally.accepted) == book.size
    return report


@pytest.fixture(scope="module")
def local_storm() -> Iterator[StormRun]:
    started = time.perf_counter()
    book = generate_book(seed=20260302, min_events=LOCAL_EVENTS)
    with local_hub(book.config, prefix="storm") as hub:
        deliveries, copies, queue_duplicates = run_storm(book, 5, hub)
        report = check_storm(book, hub)
        yield StormRun(
            book,
            hub,
            deliveries,
            copies,
            queue_duplicates,
            report,
            ledger_hash(hub.books()),
            time.perf_counter() - started,
        )


def test_duplicate_storm_through_the_local_stack(local_storm: StormRun) -> None:
    run = local_storm
    books = run.hub.books()
    record(
        "duplicate_storm_local",
        events=run.book.size,
        contracts=len(run.book.contracts),
        deliveries=run.deliveries,
        event_copies=run.copies,
        queue_duplicates=run.queue_duplicates,
        accepted=len(run.hub.tally.accepted),
        duplicates_acknowledged=run.hub.tally.outcomes["duplicate"],
        invoices=len(run.report["invoices"]),
        invoiced=sum(invoiced_subtotal(books).values(), Decimal("0")),
        money_drift=money_drift(run.book.expected_subtotal, invoiced_subtotal(books)),
        doubled_effects=doubled_effects(books),
        dead_letters=sum(len(messages) for messages in run.hub.dead_letters().values()),
        seconds=round(run.seconds, 1),
    )


def _raw_archive(hub: LocalHub) -> list[tuple[str, bytes]]:
    """Every raw body the webhook stored (the claim-check archive), oldest key first."""
    s3 = hub.stack.client("s3")
    bucket = hub.stack.names.raw_bucket
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    archive = []
    for key in sorted(keys):
        source = key.split("/")[1] if key.count("/") > 1 else "psa"
        archive.append((source, s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
    # Small single-event deliveries keep their raw body in their delivery claim (decision 0005).
    ledger = DynamoLedger(hub.stack.names.ledger_table, client=hub.stack.client("dynamodb"))
    for claim in sorted(ledger.deliveries(), key=lambda c: (c.get("accepted_at", ""), c.get("raw_key", ""))):
        kept = claim_of_inline_raw_key(claim.get("raw_key", ""))
        if kept is not None:
            archive.append((kept[0], ledger.delivery_raw_body(*kept) or b""))
    return archive


def _republish(hub: LocalHub, bodies: list[tuple[str, bytes]]) -> int:
    """What an EventBridge archive replay does: the canonical events again on the bus, past the webhook."""
    events = hub.stack.client("events")
    count = 0
    for source, body in bodies:
        document = json.loads(body)
        for event in document if isinstance(document, list) else [document]:
            detail = {
                "schema_version": 1,
                "correlationid": event.get("correlationid"),
                "delivery": {"source": source, "id": event["id"], "replayed": True},
                "event": event,
            }
            events.put_events(
                Entries=[
                    {
                        "EventBusName": hub.stack.names.event_bus,
                        "Source": topology.INGEST_EVENT_SOURCE,
                        "DetailType": event["type"],
                        "Detail": json.dumps(detail),
                    }
                ]
            )
            count += 1
    return count


def test_replaying_the_whole_archive_twice_leaves_the_ledger_unchanged(local_storm: StormRun) -> None:
    hub = local_storm.hub
    archive = _raw_archive(hub)
    accepted_bodies = {body for _, body in hub.tally.accepted_bodies}
    assert accepted_bodies <= {body for _, body in archive}
    before = local_storm.ledger_hash
    hashes = []
    redelivered = republished = 0
    for _ in range(2):
        for source, body in hub.tally.accepted_bodies:
            is_batch = body.lstrip().startswith(b"[")
            status, _ = hub.post_raw(source, hub.signed(source, body, batch=is_batch), body)
            assert status == 200, status
            redelivered += 1
        hub.drain()
        republished += _republish(hub, hub.tally.accepted_bodies)
        hub.drain()
        hashes.append(ledger_hash(hub.books()))
    assert hashes == [before, before]
    assert hub.dead_letters() == {workflow.name: [] for workflow in topology.WORKFLOWS}
    record(
        "archive_replay",
        archived_bodies=len(archive),
        redelivered=redelivered,
        republished_events=republished,
        ledger_hash_before=before[:16],
        ledger_hash_after=hashes[-1][:16],
        identical=hashes == [before, before],
    )


@pytest.mark.large
def test_duplicate_storm_of_ten_thousand_events_through_the_local_stack() -> None:
    started = time.perf_counter()
    total_events = total_copies = total_deliveries = total_queue_duplicates = doubled = 0
    drift = Decimal("0.00")
    shard = 0
    while total_events < LARGE_LOCAL_EVENTS:
        shard += 1
        book = generate_book(seed=20260400 + shard, min_events=LARGE_SHARD_EVENTS)
        with local_hub(book.config, prefix=f"large{shard}") as hub:
            deliveries, copies, queue_duplicates = run_storm(book, shard, hub)
            check_storm(book, hub)
            drift += money_drift(book.expected_subtotal, invoiced_subtotal(hub.books()))
            doubled += doubled_effects(hub.books())
        total_events += book.size
        total_copies += copies
        total_deliveries += deliveries
        total_queue_duplicates += queue_duplicates
    assert drift == Decimal("0.00")
    record(
        "duplicate_storm_local_large",
        events=total_events,
        shards=shard,
        deliveries=total_deliveries,
        event_copies=total_copies,
        queue_duplicates=total_queue_duplicates,
        money_drift=drift,
        doubled_effects=doubled,
        seconds=round(time.perf_counter() - started, 1),
    )


def test_raw_archive_keys_name_their_source(local_storm: StormRun) -> None:
    """The replay above reads the source from the archive key; make sure that holds."""
    for source, body in _raw_archive(local_storm.hub)[:20]:
        assert source in topology.WEBHOOK_SOURCES
        assert base64.b64encode(body)
