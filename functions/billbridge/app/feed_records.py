"""The data-platform feed: what one record holds, where its file goes, and each type's schema.

The deployed feed is a bus rule per `topology.FEED_EVENTS` entry whose input
transformer writes the record below (`FEED_RECORD_TEMPLATE`) into Kinesis Data
Firehose, which partitions by the record's `feed_type` and the date of its
`occurred_at` (dynamic partitioning) and writes JSON lines to S3. The local stack
builds the same record from the same bus event with `feed_record` and writes the
same keys with `partition_prefix`. `docs/feed.md` is generated from `FEED_SCHEMAS`
(`python -m billbridge.app.feed_records > docs/feed.md`) and a test keeps it so.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from billbridge import topology

FEED_RECORD_PATHS: Mapping[str, str] = MappingProxyType(
    {
        "event_id": "$.id",
        "occurred_at": "$.time",
        "source": "$.source",
        "detail_type": "$.detail-type",
        "detail": "$.detail",
    }
)
"""The record's fields taken from the EventBridge event (input transformer paths); `feed_type` is
the rule's own constant."""
PARTITION_QUERY = "{type: .feed_type, date: .occurred_at[0:10]}"
"""Firehose's JQ metadata extraction: the partition keys of a record."""
PARTITION_PREFIX_TEMPLATE = (
    f"{topology.FEED_PREFIX}type=!{{partitionKeyFromQuery:type}}/date=!{{partitionKeyFromQuery:date}}/"
)

_COMMON = {
    "schema_version": "integer: the detail's schema version (1)",
    "correlationid": "string: the correlation id of the input that caused the event (`billbridge trace ID`)",
    "contract_id": "string: the contract",
}
_INGESTED = {
    "schema_version": "integer: 1",
    "correlationid": "string: the correlation id minted (or received) when the event was accepted",
    "delivery": "object: `source`, `id` (the delivery identity), `webhook_id`, `raw_key` (where the raw body "
    "is kept), `received_at`",
    "event": "object: the CloudEvent as accepted (`specversion`, `id`, `source`, `type`, `time`, `data`, ...); "
    "its `data` is documented per type in docs/spec/events.md",
}

FEED_SCHEMAS: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "entry.rated": {
            "about": "A time entry was rated into billing lines as it arrived or was revised.",
            "detail": {
                **_COMMON,
                "entry_id": "string",
                "revision": "integer: the entry's revision that was rated",
                "lines": "integer: billing lines the entry now has (split at amendments and month ends)",
                "hours": "decimal string: the hours of those lines",
                "amount": "decimal string: their amount before tax",
                "currency": "string: ISO 4217",
                "contract_versions": "array of integers: the contract versions whose rates applied",
            },
        },
        "invoice.proposed": {
            "about": "An invoice proposal of a billing run was sent to the ERP instance of its legal entity.",
            "detail": {
                **_COMMON,
                "proposal_id": "string",
                "period": "string: YYYY-MM",
                "erp_instance": "string",
                "legal_entity": "string",
                "currency": "string",
                "subtotal": "decimal string",
                "tax": "decimal string",
                "total": "decimal string",
                "lines": "integer",
            },
        },
        "invoice.status_changed": {
            "about": "An invoice moved forward (posted, paid, partly paid, rejected).",
            "detail": {
                **_COMMON,
                "proposal_id": "string",
                "invoice_number": "string or null: the ERP's number once posted",
                "from_status": "string",
                "status": "string",
                "total": "decimal string",
                "paid": "decimal string: paid so far",
            },
        },
        "invoice.posted": {"about": "The ERP posted an invoice (its feedback as accepted).", "detail": _INGESTED},
        "invoice.rejected": {"about": "The ERP rejected an invoice proposal.", "detail": _INGESTED},
        "payment.applied": {"about": "The ERP applied a payment to an invoice.", "detail": _INGESTED},
        "exception.raised": {
            "about": "An exception was opened (or updated while open) for an operator.",
            "detail": {
                **_COMMON,
                "exception_id": "string",
                "type": "string: the exception type (cap_exceeded, unknown_rate, ...)",
                "refs": "array of strings: the inputs it holds",
                "amount": "decimal string: the amount held",
                "currency": "string",
                "state": "string: open",
                "detail": "string: why",
            },
        },
        "exception.closed": {
            "about": "An exception was closed: resolved (billed), withdrawn, or decided by an operator "
            "(`detail_type` ExceptionResolved, ExceptionWithdrawn, ExceptionDecided).",
            "detail": {
                **_COMMON,
                "exception_id": "string",
                "type": "string (resolved and withdrawn)",
                "state": "string: resolved, withdrawn, approved or written_off",
                "detail": "string: why (resolved and withdrawn, when given)",
                "actor": "string: who decided (decided)",
                "reason": "string: the decision's reason (decided)",
            },
        },
        "contract.synced": {
            "about": "A contract version (ContractSynced) or termination (ContractTerminated) was taken into its book.",
            "detail": {
                **_COMMON,
                "version": "integer (ContractSynced)",
                "effective_date": "string: YYYY-MM-DD",
                "customer_id": "string (ContractSynced)",
                "legal_entity": "string (ContractSynced)",
            },
        },
        "command.requested": {
            "about": "A command to a downstream system was published for its connector "
            "(`detail_type` `{command}Requested`).",
            "detail": {
                "schema_version": "integer: 1",
                "correlationid": "string",
                "target": "string: psa, erp-us, ...",
                "command": "string: UpsertProject, CreateInvoice, ...",
                "command_id": "string: `{target}/{command}/{idempotency key}`",
                "idempotency_key": "string",
                "payload": "object: the command's payload (absent when too large)",
                "payload_location": "object: `bucket`, `key` of the payload kept by claim check (when too large)",
                "payload_bytes": "integer: the size of that payload (when too large)",
            },
        },
        "sync.outcome": {
            "about": "A downstream system acknowledged or refused one of the hub's commands "
            "(`detail_type` sync.acknowledged or sync.refused).",
            "detail": _INGESTED,
        },
        "intake.completed": {
            "about": "Every row of a file dropped for bulk intake has an outcome (docs/spec/events.md).",
            "detail": {
                "schema_version": "integer: 1",
                "correlationid": "string: `intake-{run_id}`",
                "run_id": "string: the drop's run",
                "file": "string: the file's key in the intake bucket",
                "result": "string: the key of its result, beside it",
                "source": "string",
                "status": "string: completed, or failed (the file could not be read at all)",
                "rows": "integer",
                "accepted": "integer",
                "duplicates": "integer",
                "refused": "integer",
                "error": "string: why a failed file could not be read",
            },
        },
    }
)


def feed_event_of(source: str, detail_type: str) -> topology.FeedEvent | None:
    for feed in topology.FEED_EVENTS:
        if feed.source == source and (not feed.detail_types or detail_type in feed.detail_types):
            return feed
    return None


def feed_record(envelope: Mapping[str, Any]) -> dict[str, Any] | None:
    """The feed record of an EventBridge event, as the rule's input transformer writes it (None when
    no feed type takes the event)."""
    feed = feed_event_of(str(envelope.get("source")), str(envelope.get("detail-type")))
    if feed is None:
        return None
    record: dict[str, Any] = {"feed_type": feed.feed_type}
    for name, path in FEED_RECORD_PATHS.items():
        record[name] = envelope.get(path.removeprefix("$."))
    return record


def partition_prefix(record: Mapping[str, Any]) -> str:
    """Where Firehose writes a record: `feed/type={feed_type}/date={YYYY-MM-DD}/`."""
    return f"{topology.FEED_PREFIX}type={record['feed_type']}/date={str(record['occurred_at'])[:10]}/"


def feed_document() -> str:
    """docs/feed.md, from FEED_SCHEMAS and the topology."""
    out = [
        "# The data-platform feed",
        "",
        "<!-- generated by `python -m billbridge.app.feed_records > docs/feed.md`; a test checks it -->",
        "",
        "The hub's business events, delivered by Kinesis Data Firehose to the feed bucket as JSON",
        "lines (one record per line, uncompressed UTF-8), partitioned for a warehouse (Athena, Glue,",
        "Redshift Spectrum, Snowflake external tables):",
        "",
        "```",
        f"{topology.FEED_PREFIX}type={{feed_type}}/date={{YYYY-MM-DD}}/<firehose object>",
        "```",
        "",
        "`date` is the UTC date of `occurred_at` (when the hub published the event). Files arrive",
        "within about a minute (Firehose buffers 60 s or 64 MB). Records Firehose could not",
        f"deliver go to `{topology.FEED_ERROR_PREFIX}{{error type}}/date=.../` in the same bucket and raise",
        "the `FeedDeliveryFailed` alarm; events the bus could not hand to Firehose wait in the feed's",
        "dead-letter queue (alarmed). Delivery is at least once: deduplicate on `event_id`.",
        "",
        "## Record",
        "",
        "| field | meaning |",
        "|---|---|",
        "| `feed_type` | the partition, one of the types below |",
        "| `event_id` | the EventBridge event id: unique per event, the key to deduplicate on |",
        "| `occurred_at` | when the hub published it (RFC 3339, UTC) |",
        "| `source` | the bus source (`billbridge.billing`, `billbridge.ingest`, ...) |",
        "| `detail_type` | the bus detail-type (`InvoiceProposed`, `invoice.posted`, ...) |",
        "| `detail` | the event's detail, below per type; amounts are decimal strings |",
        "",
        "A new field may appear in a `detail` without notice (readers ignore what they do not",
        "know); a changed meaning comes with a new `schema_version`.",
        "",
        "## Types",
        "",
    ]
    for feed in topology.FEED_EVENTS:
        schema = FEED_SCHEMAS[feed.feed_type]
        kinds = ", ".join(f"`{d}`" for d in feed.detail_types) if feed.detail_types else "every detail-type"
        out += [
            f"### `{feed.feed_type}`",
            "",
            str(schema["about"]),
            "",
            f"From source `{feed.source}`, {kinds}.",
            "",
            "| detail field | |",
            "|---|---|",
        ]
        out += [f"| `{name}` | {text} |" for name, text in schema["detail"].items()]
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(feed_document())
