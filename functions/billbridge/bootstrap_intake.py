"""Composition of the bulk intake's use cases: settings in, SplitIntakeFile and IngestIntakeChunk out.

Nothing is built at import; the AWS SDK is imported when a use case is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from billbridge.settings import HubSettings, hub_settings

if TYPE_CHECKING:
    from billbridge.app.bulk_intake import IngestIntakeChunk, SplitIntakeFile


def _ports(settings: HubSettings) -> dict[str, Any]:
    from billbridge.adapters.dynamo_intake_runs import DynamoIntakeRuns
    from billbridge.adapters.eventbridge_publisher import EventBridgeEventPublisher
    from billbridge.adapters.s3_intake_files import S3IntakeFiles
    from billbridge.adapters.s3_raw_payload_store import S3RawPayloadStore
    from billbridge.bootstrap_webhook import SystemClock

    return {
        "files": S3IntakeFiles(bucket_name=settings.intake_bucket_name),
        "archive": S3RawPayloadStore(bucket_name=settings.raw_payload_bucket_name),
        "runs": DynamoIntakeRuns(table_name=settings.ledger_table_name),
        "publisher": EventBridgeEventPublisher(event_bus_name=settings.event_bus_name),
        "clock": SystemClock(),
    }


def split_intake_file(settings: HubSettings | None = None) -> SplitIntakeFile:
    from billbridge.adapters.sqs_chunk_queue import SqsChunkQueue
    from billbridge.app.bulk_intake import SplitIntakeFile

    current = settings if settings is not None else hub_settings()
    return SplitIntakeFile(chunks=SqsChunkQueue(queue_url=current.intake_chunk_queue_url), **_ports(current))


class _NoSignedDeliveries:
    """Rows of a dropped file are not signed deliveries: the canonical path they take
    (`accept_translated`) verifies no signature, so the intake functions hold no webhook secret."""

    def active_secrets(self, source: str) -> list[str]:
        return []


class _ChunkCorrelationIds:
    """The ids of the chunk being ingested: the canonical use case (and its AWS clients) is built
    once per function instance, and each chunk sets its own correlation ids before using it."""

    def __init__(self) -> None:
        self.current: Any = None

    def new_id(self) -> str:
        return str(self.current.new_id())


def ingest_intake_chunk(settings: HubSettings | None = None) -> IngestIntakeChunk:
    from billbridge.app.bulk_intake import IngestIntakeChunk
    from billbridge.bootstrap_webhook import build_canonical_ingest

    current = settings if settings is not None else hub_settings()
    ids = _ChunkCorrelationIds()
    canonical = build_canonical_ingest(current, ids, secrets=_NoSignedDeliveries())

    def with_ids(chunk_ids: Any) -> Any:
        ids.current = chunk_ids
        return canonical

    return IngestIntakeChunk(canonical=with_ids, **_ports(current))
