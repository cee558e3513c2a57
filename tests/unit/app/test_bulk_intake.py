"""Bulk intake: every row of a dropped file is accepted once, a duplicate, or refused with its reason."""

from __future__ import annotations

import json
from typing import Any

import pytest
from billbridge import topology
from billbridge.app.bulk_intake import (
    IngestIntakeChunk,
    IntakeDrop,
    SplitIntakeFile,
    event_for_row,
    read_rows,
    result_key,
)
from billbridge.app.ingest_webhook import IngestWebhook
from billbridge.app.ports import IdGenerator

from tests.fakes.edge import (
    FixedClock,
    InMemoryDeliveryRegistry,
    InMemoryEventPublisher,
    InMemoryWebhookSecrets,
)
from tests.fakes.intake import InMemoryChunkQueue, InMemoryIntakeFiles, InMemoryIntakeRuns, InMemoryRowArchive

HEADER = (
    "type,entry_id,revision,contract_id,resource_id,role,billable,work_date,hours,"
    "expense_id,date,category,amount,currency,milestone_id,completed_on\n"
)


def time_row(entry: str, hours: str = "8", revision: str = "1", day: str = "2026-03-16") -> str:
    return f"time_entry.approved,{entry},{revision},SOW-1,EMP-1,consultant,true,{day},{hours},,,,,,,\n"


def expense_row(expense: str, amount: str = "120.50") -> str:
    return f"expense.approved,,,SOW-1,,,true,,,{expense},2026-03-17,travel,{amount},USD,,\n"


def milestone_row(milestone: str) -> str:
    return f"milestone.completed,,,SOW-1,,,,,,,,,,,{milestone},2026-03-20\n"


class IntakeHub:
    """The two steps over in-memory ports, with the webhook's own canonical path."""

    def __init__(self, chunk_rows: int = 3) -> None:
        self.clock = FixedClock()
        self.files = InMemoryIntakeFiles()
        self.archive = InMemoryRowArchive()
        self.queue = InMemoryChunkQueue()
        self.runs = InMemoryIntakeRuns()
        self.deliveries = InMemoryDeliveryRegistry()
        self.bus = InMemoryEventPublisher()
        self.split = SplitIntakeFile(
            self.files, self.archive, self.queue, self.runs, self.bus, self.clock, chunk_rows=chunk_rows
        )
        self.chunk = IngestIntakeChunk(self.files, self.archive, self.runs, self._canonical, self.bus, self.clock)
        self.drops = 0

    def _canonical(self, ids: IdGenerator) -> IngestWebhook:
        return IngestWebhook(
            secrets=InMemoryWebhookSecrets(),
            raw_payloads=self.archive,
            deliveries=self.deliveries,
            publisher=self.bus,
            clock=self.clock,
            ids=ids,
        )

    def drop(self, name: str, body: str, source: str = "psa") -> dict[str, Any]:
        key = f"intake/{source}/{name}"
        self.files.objects[key] = body.encode("utf-8")
        self.drops += 1
        self.split.handle(IntakeDrop(bucket="intake", key=key, drop_id=f"seq-{self.drops:04d}"))
        for ticket in self.queue.take_all():
            self.chunk.handle(ticket)
        return self.files.read_json(result_key(key)) or {}

    def actuals_published(self) -> list[str]:
        return [e.detail["delivery"]["id"] for e in self.bus.published if e.source == topology.INGEST_EVENT_SOURCE]

    def completions(self) -> list[dict[str, Any]]:
        return [e.detail for e in self.bus.published if e.detail_type == topology.INTAKE_COMPLETED]


def test_a_file_with_duplicates_and_bad_rows_loses_nothing_and_doubles_nothing() -> None:
    hub = IntakeHub()
    body = (
        HEADER
        + time_row("TE-1")
        + time_row("TE-2", hours="7.5")
        + time_row("TE-1")  # the same row again: a duplicate
        + time_row("TE-3", hours="25")  # more than a day
        + expense_row("EX-1")
        + expense_row("EX-2", amount="-5")  # no credits
        + "time_entry.approved,,1,SOW-1,EMP-1,consultant,true,2026-03-16,8,,,,,,,\n"  # no entry id
        + "invoice.posted,,,,,,,,,,,,,,,\n"  # not an actuals row
        + "time_entry.approved,TE-4\n"  # too few values
        + milestone_row("M1")
        + time_row("TE-2", hours="6")  # TE-2 r1 with other hours: a conflict
    )
    result = hub.drop("march.csv", body)

    assert result["status"] == "completed"
    assert result["rows"] == 11
    assert result["accepted"] + result["duplicates"] + result["refused"] == 11
    assert (result["accepted"], result["duplicates"], result["refused"]) == (4, 1, 6)
    refused = {r["row"]: r for r in result["refused_rows"]}
    assert sorted(refused) == [4, 6, 7, 8, 9, 11]
    assert refused[4]["field"] == "hours" and "24" in refused[4]["reason"]
    assert refused[6]["field"] == "amount"
    assert refused[7]["field"] == "entry_id"
    assert refused[8]["field"] == "type"
    assert "header names 16 columns" in refused[9]["reason"]
    assert refused[11]["field"] == "id" and "other content" in refused[11]["reason"]
    assert refused[4]["line"] == 5  # the header is line 1
    published = hub.actuals_published()
    assert sorted(published) == sorted(set(published))
    assert len(published) == 4
    assert hub.completions()[-1]["accepted"] == 4


def test_a_re_dropped_file_is_accepted_as_all_duplicates() -> None:
    hub = IntakeHub()
    body = HEADER + time_row("TE-1") + time_row("TE-2") + expense_row("EX-1") + milestone_row("M1")
    first = hub.drop("march.csv", body)
    published = len(hub.actuals_published())
    again = hub.drop("march.csv", body)

    assert first["accepted"] == 4
    assert (again["accepted"], again["duplicates"], again["refused"]) == (0, 4, 0)
    assert again["run_id"] != first["run_id"]
    assert len(hub.actuals_published()) == published
    assert [c["run_id"] for c in hub.completions()] == [first["run_id"], again["run_id"]]


def test_an_overlapping_file_bills_only_its_new_rows_and_refuses_a_silent_correction() -> None:
    hub = IntakeHub()
    hub.drop("week-1.csv", HEADER + time_row("TE-1") + time_row("TE-2"))
    overlap = hub.drop(
        "weeks-1-2.jsonl",
        json.dumps(
            {
                "type": "time_entry.approved",
                "entry_id": "TE-2",
                "revision": 1,
                "contract_id": "SOW-1",
                "resource_id": "EMP-1",
                "role": "consultant",
                "billable": True,
                "work_date": "2026-03-16",
                "hours": "8",
            }
        )
        + "\n"
        + json.dumps(
            {
                "type": "time_entry.approved",
                "entry_id": "TE-1",
                "revision": 2,
                "contract_id": "SOW-1",
                "resource_id": "EMP-1",
                "role": "consultant",
                "billable": True,
                "work_date": "2026-03-16",
                "hours": "6",
            }
        )
        + "\n"
        + json.dumps(
            {
                "type": "time_entry.approved",
                "entry_id": "TE-2",
                "revision": 1,
                "contract_id": "SOW-1",
                "resource_id": "EMP-1",
                "role": "consultant",
                "billable": True,
                "work_date": "2026-03-16",
                "hours": "5",
            }
        )
        + "\n",
    )
    assert (overlap["accepted"], overlap["duplicates"], overlap["refused"]) == (1, 1, 1)
    assert overlap["refused_rows"][0]["row"] == 3
    assert overlap["refused_rows"][0]["field"] == "id"


def test_json_lines_are_read_with_the_webhooks_decimal_rules() -> None:
    hub = IntakeHub()
    result = hub.drop(
        "expenses.jsonl",
        '{"type": "expense.approved", "expense_id": "EX-1", "contract_id": "SOW-1", "date": "2026-03-17",'
        ' "category": "travel", "amount": 120.5, "currency": "USD", "billable": true}\n'
        "\n"
        "{not json}\n"
        '{"type": "expense.approved", "expense_id": "EX-2", "contract_id": "SOW-1", "date": "2026-03-17",'
        ' "category": "travel", "amount": "120.50", "currency": "USD", "billable": true}\n',
    )
    assert (result["accepted"], result["refused"]) == (1, 2)
    first, second = result["refused_rows"]
    assert first["field"] == "amount" and "decimal string" in first["reason"]
    assert second["row"] == 2 and second["line"] == 3 and "not valid JSON" in second["reason"]


def test_a_chunk_retried_after_a_crash_counts_its_rows_as_accepted_not_as_duplicates() -> None:
    hub = IntakeHub(chunk_rows=2)
    key = "intake/psa/march.csv"
    hub.files.objects[key] = (HEADER + time_row("TE-1") + time_row("TE-2") + time_row("TE-3")).encode()
    hub.split.handle(IntakeDrop(bucket="intake", key=key, drop_id="seq-1"))
    first, second = hub.queue.take_all()
    hub.chunk.handle(first)
    # The worker of the first chunk crashed before its result was kept: the queue delivers it again.
    del hub.files.objects[f"work/{first.run_id}/chunk-00001.result.json"]
    hub.chunk.handle(first)
    hub.chunk.handle(second)
    result = hub.files.read_json(result_key(key)) or {}
    assert (result["accepted"], result["duplicates"]) == (3, 0)
    assert len(hub.completions()) == 1


def test_a_file_that_cannot_be_read_gets_a_failed_result_and_its_event() -> None:
    hub = IntakeHub()
    result = hub.drop("march.csv", "entry_id,hours\nTE-1,8\n")
    assert result["status"] == "failed"
    assert "no `type` column" in result["error"]
    assert hub.completions()[0]["status"] == "failed"
    empty = hub.drop("april.csv", HEADER)
    assert empty["status"] == "failed" and "no rows" in empty["error"]


def test_a_row_is_the_same_event_whatever_file_carries_it() -> None:
    rows = list(read_rows((HEADER + time_row("TE-9")).encode(), "csv"))
    event = event_for_row("psa", rows[0].fields or {})
    assert event["id"] == "bulk:time_entry.approved:TE-9:r1"
    assert event["time"] == "2026-03-16T00:00:00Z"
    assert event["data"]["hours"] == "8" and event["data"]["billable"] is True


def test_a_withdrawal_row_needs_the_time_it_was_withdrawn() -> None:
    with pytest.raises(Exception, match="time"):
        event_for_row("psa", {"type": "time_entry.rejected", "entry_id": "TE-1", "revision": 2})
    event = event_for_row(
        "psa", {"type": "time_entry.rejected", "entry_id": "TE-1", "revision": 2, "time": "2026-03-18T10:00:00Z"}
    )
    assert event["id"] == "bulk:time_entry.rejected:TE-1:r2"
