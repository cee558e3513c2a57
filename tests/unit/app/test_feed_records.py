"""The feed's record and partition of a bus event, and docs/feed.md generated from the schemas."""

from __future__ import annotations

from pathlib import Path

from billbridge import topology
from billbridge.app.feed_records import FEED_SCHEMAS, feed_document, feed_record, partition_prefix

DOC = Path(__file__).resolve().parents[3] / "docs" / "feed.md"

INVOICE_PROPOSED = {
    "version": "0",
    "id": "5f6d1a0e-1c7b-4bbf-9d35-0a4c2f1d7e11",
    "detail-type": "InvoiceProposed",
    "source": "billbridge.billing",
    "account": "123456789012",
    "time": "2026-04-01T06:00:12Z",
    "region": "eu-west-1",
    "resources": [],
    "detail": {"schema_version": 1, "correlationid": "run-2026-03", "contract_id": "SOW-1", "total": "1250.00"},
}


def test_a_bus_event_becomes_one_record_in_its_type_and_date_partition() -> None:
    record = feed_record(INVOICE_PROPOSED)
    assert record is not None
    assert list(record) == list(topology.FEED_RECORD_FIELDS)
    assert record["feed_type"] == "invoice.proposed"
    assert record["event_id"] == INVOICE_PROPOSED["id"]
    assert record["detail"] == INVOICE_PROPOSED["detail"]
    assert partition_prefix(record) == "feed/type=invoice.proposed/date=2026-04-01/"


def test_events_no_feed_type_takes_are_not_records() -> None:
    assert (
        feed_record({**INVOICE_PROPOSED, "source": "billbridge.ingest", "detail-type": "time_entry.approved"}) is None
    )


def test_every_command_requested_detail_type_is_a_command_record() -> None:
    record = feed_record(
        {**INVOICE_PROPOSED, "source": "billbridge.connectors", "detail-type": "UpsertProjectRequested"}
    )
    assert record is not None and record["feed_type"] == "command.requested"


def test_every_feed_type_has_a_documented_schema_and_the_document_is_current() -> None:
    assert set(FEED_SCHEMAS) == {feed.feed_type for feed in topology.FEED_EVENTS}
    assert DOC.read_text(encoding="utf-8") == feed_document() + "\n", (
        "docs/feed.md is stale: python -m billbridge.app.feed_records > docs/feed.md"
    )
