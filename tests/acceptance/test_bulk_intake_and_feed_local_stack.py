"""Bulk intake and the data-platform feed through the local stack: a file with duplicates and
bad rows bills every good row once, its result lists every refused row, a re-dropped file is all
duplicates, and the feed's partitioned files hold the hub's business events with their schema."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from billbridge import topology
from billbridge.adapters.dynamo_ledger import DynamoLedger
from billbridge.app.feed_records import FEED_SCHEMAS
from billbridge.app.webhook_signature import sign
from billbridge.local import data_feed_stand_in
from billbridge.local.intake_pipeline import run_intake
from billbridge.local.scenario_replay import generate_webhook_secrets
from billbridge.local.stack import LocalStack

CONTRACT = {
    "specversion": "1.0",
    "id": "clm-2001-v1",
    "source": "clm",
    "type": "contract.approved",
    "time": "2026-01-01T09:00:00Z",
    "data": {
        "contract_id": "SOW-2001",
        "version": 1,
        "effective_date": "2026-01-01",
        "customer_id": "CUST-ACME",
        "legal_entity": "US01",
        "currency": "USD",
        "tax_jurisdiction": "US-NY",
        "start_date": "2026-01-01",
        "end_date": "2026-12-31",
        "rate_card": [{"role": "consultant", "rate": "150.00"}],
        "expense_policy": {"billable_categories": ["travel"], "markup_pct": "0"},
        "milestones": [{"milestone_id": "M1", "name": "Kick-off", "amount": "1000.00"}],
    },
}
HEADER = (
    "type,entry_id,revision,contract_id,resource_id,role,billable,work_date,hours,"
    "expense_id,date,category,amount,currency,milestone_id,completed_on\n"
)


def time_row(entry: str, hours: str = "8") -> str:
    return f"time_entry.approved,{entry},1,SOW-2001,EMP-1,consultant,true,2026-03-02,{hours},,,,,,,\n"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStack]:
    secrets = generate_webhook_secrets()
    # The feed's entry.rated records are wanted here (cdk.json billbridge:feed_entries_rated).
    entries_rated = {topology.ENV_FEED_ENTRIES_RATED: "true"}
    with LocalStack(secrets=secrets, state_file=tmp_path / "state.sqlite", extra_env=entries_rated) as running:
        body = json.dumps(CONTRACT).encode()
        headers = {"content-type": "application/cloudevents+json", **sign(secrets["clm"][0], "d-1", time.time(), body)}
        status, _, answer = running.invoke_webhook("clm", headers, body)
        assert status == 202, answer
        running.drain()
        yield running


def test_a_file_with_duplicates_and_bad_rows_bills_each_good_row_once(stack: LocalStack, tmp_path: Path) -> None:
    rows = (
        HEADER
        + time_row("TE-1")
        + time_row("TE-2", hours="4")
        + time_row("TE-1")  # repeated
        + time_row("TE-3", hours="eight")  # not a decimal
        + "expense.approved,,,SOW-2001,,,true,,,EX-1,2026-03-03,travel,99.90,USD,,\n"
        + "milestone.completed,,,SOW-2001,,,,,,,,,,,M1,2026-03-05\n"
        + "time_entry.approved,TE-4,1,SOW-2001\n"  # too few values
    )
    path = tmp_path / "march.csv"
    path.write_text(rows)

    result = run_intake(stack, path, source="psa")
    drained = stack.drain()

    assert result["status"] == "completed" and "local_errors" not in result
    assert (result["rows"], result["accepted"], result["duplicates"], result["refused"]) == (7, 4, 1, 2)
    assert [(r["row"], r.get("field")) for r in result["refused_rows"]] == [(4, "hours"), (7, None)]
    assert all(r["reason"] for r in result["refused_rows"])
    assert drained.errors == [] and drained.dead_lettered == 0
    book = DynamoLedger(stack.names.ledger_table).load("SOW-2001").book
    assert sorted(line.amount for line in book.lines.values() if line.kind == "time") == [600, 1200]
    assert len(book.expenses) == 1 and len(book.completions) == 1

    again = run_intake(stack, path, source="psa")
    stack.drain()
    assert (again["accepted"], again["duplicates"], again["refused"]) == (0, 5, 2)
    assert DynamoLedger(stack.names.ledger_table).load("SOW-2001").book.lines == book.lines
    completions = [e for e in stack.observed_events() if e["detail-type"] == topology.INTAKE_COMPLETED]
    assert [e["detail"]["accepted"] for e in completions] == [4, 0]


def test_a_file_that_cannot_be_read_is_reported_as_failed(stack: LocalStack, tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    path.write_bytes(b"\xff\xfe not utf-8")
    result = run_intake(stack, path, source="psa")
    assert result["status"] == "failed" and "UTF-8" in result["error"]


def test_the_feed_writes_partitioned_json_lines_of_the_hubs_business_events(stack: LocalStack, tmp_path: Path) -> None:
    path = tmp_path / "march.jsonl"
    path.write_text(
        json.dumps(
            {
                "type": "time_entry.approved",
                "entry_id": "TE-9",
                "revision": 1,
                "contract_id": "SOW-2001",
                "resource_id": "EMP-1",
                "role": "consultant",
                "billable": True,
                "work_date": "2026-03-09",
                "hours": "2",
            }
        )
        + "\n"
    )
    run_intake(stack, path, source="psa")
    stack.drain()
    written = data_feed_stand_in.write_feed(stack.client("s3"), stack.client("sqs"), stack.names)
    files = data_feed_stand_in.read_feed(stack.client("s3"), stack.names)

    assert sorted(written) == sorted(files)
    types = {key.split("/")[1] for key in files}
    assert {"type=contract.synced", "type=entry.rated", "type=intake.completed"} <= types
    for key, records in files.items():
        partition_type, partition_date = key.split("/")[1:3]
        for record in records:
            assert list(record) == list(topology.FEED_RECORD_FIELDS)
            assert partition_type == f"type={record['feed_type']}"
            assert partition_date == f"date={record['occurred_at'][:10]}"
            assert set(record["detail"]) <= set(FEED_SCHEMAS[record["feed_type"]]["detail"]), key
    rated = [r for records in files.values() for r in records if r["feed_type"] == "entry.rated"]
    assert [(r["detail"]["entry_id"], r["detail"]["amount"]) for r in rated] == [("TE-9", "300.00")]
