"""The composition root: settings in, adapters and use cases out.

The one place that turns `billbridge.settings` into adapters: every handler asks
this module for its use case (the hub's consumers and billing tasks, the webhook,
the vendor adapters, bulk intake, the billing run's start, the dead-letter sink).
Nothing is built at import time and nothing but `settings` and `topology` is
imported with it, so the webhook's cold path loads only what its use case needs;
tests (or the local stack) call `reset()` after changing the environment.
"""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from billbridge import topology
from billbridge.settings import HubSettings, function_settings, hub_settings, reset_settings_cache

if TYPE_CHECKING:
    from billbridge.adapters.dynamo_ledger import DynamoLedger
    from billbridge.adapters.field_encryption import KmsFieldEncryption
    from billbridge.adapters.vendors.vendor_registry import VendorRegistry
    from billbridge.app.bulk_intake import IngestIntakeChunk, SplitIntakeFile
    from billbridge.app.downstream_sync import DownstreamSync
    from billbridge.app.ingest_vendor_webhook import IngestVendorWebhook
    from billbridge.app.ingest_webhook import IngestWebhook
    from billbridge.app.personal_data_in_transit import PersonalDataVault
    from billbridge.app.poll_vendor_source import PollVendorSource
    from billbridge.app.ports import BillingRuns, Connector, DeadLetterSink, EventPublisher
    from billbridge.app.record_actuals import RecordActuals
    from billbridge.app.record_feedback import RecordFeedback
    from billbridge.app.rollout import Rollout
    from billbridge.app.run_billing import (
        ComposeInvoice,
        ConcludeBatch,
        ConcludeRun,
        PlanBillingRun,
        PostInvoice,
        RecordBillingFailure,
        RunWorkspace,
        SelectContracts,
    )
    from billbridge.app.sync_contract import SyncContract
    from billbridge.reporting.read_queries import ReadQueries


@lru_cache(maxsize=1)
def ledger() -> DynamoLedger:
    """The ledger; personal data is sealed with the stack's KMS key where the
    function is given one (deployed), and kept as is on the local stack."""
    from billbridge.adapters.dynamo_ledger import DynamoLedger

    settings = hub_settings()
    return DynamoLedger(
        settings.ledger_table_name,
        field_encryption=_field_encryption(settings),
        audit_retention_seconds=settings.audit_retention_days * 86400,
    )


@lru_cache(maxsize=4)
def _field_encryption(settings: HubSettings) -> KmsFieldEncryption | None:
    from billbridge.adapters.field_encryption import field_encryption_for

    return field_encryption_for(settings.field_encryption_key_arn, decrypt=settings.field_decryption)


@lru_cache(maxsize=1)
def publisher() -> EventPublisher:
    from billbridge.adapters.eventbridge_publisher import EventBridgeEventPublisher

    bus = EventBridgeEventPublisher(event_bus_name=hub_settings().event_bus_name)
    if hub_settings().feed_entries_rated:
        return bus
    from billbridge.app.unconsumed_events import PublisherOfConsumedEvents

    return PublisherOfConsumedEvents(bus, unconsumed=frozenset({(topology.RATING_EVENT_SOURCE, "EntryRated")}))


@lru_cache(maxsize=1)
def connector() -> Connector:
    """Downstream commands, per target system: sent over HTTPS to the targets
    configured for `http` (`CONNECTOR_MODE=http` and `CONNECTOR_TARGETS`), published
    on the bus for the others (`event`); the commands a vendor adapter carries (e.g. an
    invoice to Xero) go through that vendor's client (`with_vendor_commands` below)."""
    from billbridge.adapters.connectors.event_connector import EventBusConnector

    settings = hub_settings()
    # Commands too large for an event go by claim check to the run workspace (the billing tasks').
    claim_checks = run_workspace() if settings.billing_run_bucket_name else None
    on_the_bus = EventBusConnector(publisher(), claim_checks=claim_checks)
    if settings.connector_mode != "http":
        return with_vendor_commands(on_the_bus, settings)
    from billbridge.adapters.connectors.http_connector import HttpConnector
    from billbridge.adapters.connectors.per_target_connector import PerTargetConnector

    http = HttpConnector.from_hub_settings(settings, personal_data=personal_data_vault())
    routed = PerTargetConnector(routes={target: http for target in http.endpoints}, default=on_the_bus)
    return with_vendor_commands(routed, settings)


def personal_data_vault() -> PersonalDataVault | None:
    """The vault that seals and opens contacts where the function is given a key (deployed stacks);
    None on the local stack, where contacts travel as they are."""
    return _field_encryption(hub_settings())


def downstream_sync() -> DownstreamSync:
    from billbridge.adapters.system_clock import SystemClock
    from billbridge.app.downstream_sync import DownstreamSync

    return DownstreamSync(ledger(), ledger().commands, SystemClock(), publisher())


def rollout() -> Rollout:
    from billbridge.app.rollout import Rollout

    return Rollout.parse(hub_settings().rollout)


def sync_contract() -> SyncContract:
    from billbridge.app.sync_contract import SyncContract

    return SyncContract(
        ledger(),
        publisher(),
        psa=connector(),
        erp=connector(),
        personal_data=personal_data_vault(),
        downstream=downstream_sync(),
        master=ledger(),
        rollout=rollout(),
    )


def record_actuals() -> RecordActuals:
    from billbridge.app.record_actuals import RecordActuals

    return RecordActuals(ledger(), publisher())


def record_feedback() -> RecordFeedback:
    from billbridge.app.record_feedback import RecordFeedback

    return RecordFeedback(ledger(), publisher(), psa=connector(), erp=connector(), downstream=downstream_sync())


def select_contracts() -> SelectContracts:
    from billbridge.app.run_billing import SelectContracts

    return SelectContracts(ledger())


@lru_cache(maxsize=1)
def run_workspace() -> RunWorkspace:
    from billbridge.adapters.s3_run_workspace import S3RunWorkspace

    return S3RunWorkspace(bucket_name=hub_settings().billing_run_bucket_name)


def plan_billing_run() -> PlanBillingRun:
    from billbridge.app.run_billing import PlanBillingRun

    return PlanBillingRun(select_contracts(), run_workspace(), batch_size=hub_settings().billing_batch_size)


def conclude_batch() -> ConcludeBatch:
    from billbridge.app.run_billing import ConcludeBatch

    return ConcludeBatch(run_workspace())


def conclude_run() -> ConcludeRun:
    from billbridge.app.run_billing import ConcludeRun

    return ConcludeRun(run_workspace())


def compose_invoice() -> ComposeInvoice:
    from billbridge.app.run_billing import ComposeInvoice

    return ComposeInvoice(ledger(), publisher(), master=ledger())


def post_invoice() -> PostInvoice:
    from billbridge.app.run_billing import PostInvoice

    return PostInvoice(ledger(), publisher(), connector(), rollout=rollout())


def record_billing_failure() -> RecordBillingFailure:
    from billbridge.app.run_billing import RecordBillingFailure

    return RecordBillingFailure(ledger(), publisher())


def read_queries() -> ReadQueries:
    """The read API's queries over the ledger (personal fields stay sealed: no decryption here)."""
    from datetime import timedelta

    from billbridge.adapters.system_clock import SystemClock
    from billbridge.reporting.read_queries import ReadQueries

    return ReadQueries(
        ledger(),
        SystemClock(),
        propagation_stale_after=timedelta(hours=hub_settings().propagation_stale_after_hours),
    )


def billing_runs() -> BillingRuns:
    from billbridge.adapters.step_functions_billing_runs import StepFunctionsBillingRuns

    return StepFunctionsBillingRuns(state_machine_arn=hub_settings().billing_state_machine_arn)


def dead_letter_sink() -> DeadLetterSink | None:
    """This consumer's dead-letter queue, or None where it is not told one (a failed record is then
    left to the queue's redrive policy). Read per call: see `billbridge.settings.FunctionSettings`."""
    queue_url = function_settings().dead_letter_queue_url
    return _sqs_dead_letter_sink(queue_url) if queue_url else None


@lru_cache(maxsize=8)
def _sqs_dead_letter_sink(queue_url: str) -> DeadLetterSink:
    from billbridge.adapters.sqs_dead_letter_sink import SqsDeadLetterSink

    return SqsDeadLetterSink(queue_url=queue_url)


# --- the webhook (kept light: built on first use, cached per settings value) ----------------------


class RandomIds:
    """Correlation ids for events that arrive without one."""

    def new_id(self) -> str:
        return str(uuid.uuid4())


def ingest_webhook(settings: HubSettings | None = None) -> IngestWebhook:
    return _ingest_webhook(settings if settings is not None else hub_settings())


@lru_cache(maxsize=4)
def _ingest_webhook(settings: HubSettings) -> IngestWebhook:
    return canonical_ingest(settings, RandomIds())


def canonical_ingest(settings: HubSettings, ids: Any, secrets: Any = None) -> IngestWebhook:
    """The webhook use case with the given correlation ids (bulk intake mints its own per chunk)
    and, for a caller that verifies nothing itself (bulk intake), its own `secrets`."""
    from billbridge.adapters.dynamo_delivery_registry import DynamoDeliveryRegistry
    from billbridge.adapters.dynamo_refusal_log import DynamoRefusalLog
    from billbridge.adapters.eventbridge_publisher import EventBridgeEventPublisher
    from billbridge.adapters.s3_raw_payload_store import S3RawPayloadStore
    from billbridge.adapters.secrets_manager_webhook_secrets import SecretsManagerWebhookSecrets
    from billbridge.adapters.system_clock import SystemClock
    from billbridge.app.ingest_webhook import IngestWebhook
    from billbridge.app.rollout import Rollout
    from billbridge.app.system_of_record import SystemsOfRecord

    clock = SystemClock()
    # The webhook only seals contacts: its function is never given FIELD_DECRYPTION.
    return IngestWebhook(
        personal_data=_field_encryption(settings),
        secrets=secrets
        if secrets is not None
        else SecretsManagerWebhookSecrets(secret_id=settings.webhook_secrets_arn),
        raw_payloads=S3RawPayloadStore(bucket_name=settings.raw_payload_bucket_name),
        deliveries=DynamoDeliveryRegistry(
            table_name=settings.ledger_table_name,
            now=clock.now,
            raw_retention_seconds=settings.raw_payload_retention_days * 24 * 3600,
        ),
        publisher=EventBridgeEventPublisher(event_bus_name=settings.event_bus_name),
        clock=clock,
        ids=ids,
        timestamp_tolerance_seconds=settings.webhook_timestamp_tolerance_seconds,
        max_body_bytes=topology.MAX_WEBHOOK_BODY_BYTES,
        systems_of_record=SystemsOfRecord.parse(settings.systems_of_record),
        refusals=DynamoRefusalLog(table_name=settings.ledger_table_name, now=clock.now),
        rollout=Rollout.parse(settings.rollout),
        inline_raw_payload_max_bytes=topology.INLINE_RAW_PAYLOAD_MAX_BYTES,
    )


# --- the vendor adapters (docs/adapters.md): their webhooks, pollers and command clients ---------


class UnknownPollerError(LookupError):
    pass


def ingest_vendor_webhook(settings: HubSettings | None = None) -> IngestVendorWebhook:
    return _ingest_vendor_webhook(settings if settings is not None else hub_settings())


def vendor_poller(name: str, settings: HubSettings | None = None) -> PollVendorSource:
    return _vendor_poller(name, settings if settings is not None else hub_settings())


@lru_cache(maxsize=4)
def _vendor_registry(settings: HubSettings) -> VendorRegistry:
    from billbridge.adapters.connectors.http_transport import Urllib3Transport
    from billbridge.adapters.secrets_manager_webhook_secrets import SecretsManagerWebhookSecrets
    from billbridge.adapters.vendors.vendor_registry import VendorRegistry
    from billbridge.settings import read_vendor_configuration

    return VendorRegistry(
        read_vendor_configuration(settings.vendor_adapters_config),
        secrets=SecretsManagerWebhookSecrets(secret_id=settings.webhook_secrets_arn),
        transport=Urllib3Transport(),
    )


@lru_cache(maxsize=4)
def _ingest_vendor_webhook(settings: HubSettings) -> IngestVendorWebhook:
    from billbridge.adapters.s3_raw_payload_store import S3RawPayloadStore
    from billbridge.adapters.secrets_manager_webhook_secrets import SecretsManagerWebhookSecrets
    from billbridge.adapters.system_clock import SystemClock
    from billbridge.app.ingest_vendor_webhook import IngestVendorWebhook

    return IngestVendorWebhook(
        adapters=_vendor_registry(settings).webhook_adapters(),
        secrets=SecretsManagerWebhookSecrets(secret_id=settings.webhook_secrets_arn),
        raw_payloads=S3RawPayloadStore(bucket_name=settings.raw_payload_bucket_name),
        clock=SystemClock(),
        canonical=ingest_webhook(settings),
        max_body_bytes=topology.MAX_WEBHOOK_BODY_BYTES,
    )


@lru_cache(maxsize=8)
def _vendor_poller(name: str, settings: HubSettings) -> PollVendorSource:
    from billbridge.adapters.dynamo_poll_cursors import DynamoPollCursors
    from billbridge.adapters.s3_raw_payload_store import S3RawPayloadStore
    from billbridge.adapters.system_clock import SystemClock
    from billbridge.app.poll_vendor_source import PollVendorSource

    setups = _vendor_registry(settings).polling_sources()
    if name not in setups:
        raise UnknownPollerError(f"no polling source {name!r} is configured; configured: {sorted(setups) or 'none'}")
    setup = setups[name]
    return PollVendorSource(
        name=name,
        source=setup.source,
        cursors=DynamoPollCursors(table_name=settings.ledger_table_name),
        raw_payloads=S3RawPayloadStore(bucket_name=settings.raw_payload_bucket_name),
        canonical=ingest_webhook(settings),
        clock=SystemClock(),
        limits=setup.limits,
    )


def with_vendor_commands(default: Connector, settings: HubSettings | None = None) -> Connector:
    """The hub's connector, with the commands a configured vendor client handles routed to it."""
    current = settings if settings is not None else hub_settings()
    if not current.vendor_adapters_config:
        return default
    from billbridge.adapters.vendors.vendor_commands import VendorCommandRouter

    routes = _vendor_registry(current).command_routes()
    return VendorCommandRouter(default, routes) if routes else default


# --- bulk intake (docs/decisions/0012-feed-and-bulk-intake.md) -------------------------------------


def _intake_ports(settings: HubSettings) -> dict[str, Any]:
    from billbridge.adapters.dynamo_intake_runs import DynamoIntakeRuns
    from billbridge.adapters.eventbridge_publisher import EventBridgeEventPublisher
    from billbridge.adapters.s3_intake_files import S3IntakeFiles
    from billbridge.adapters.s3_raw_payload_store import S3RawPayloadStore
    from billbridge.adapters.system_clock import SystemClock

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
    return SplitIntakeFile(chunks=SqsChunkQueue(queue_url=current.intake_chunk_queue_url), **_intake_ports(current))


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

    current = settings if settings is not None else hub_settings()
    ids = _ChunkCorrelationIds()
    canonical = canonical_ingest(current, ids, secrets=_NoSignedDeliveries())

    def with_ids(chunk_ids: Any) -> Any:
        ids.current = chunk_ids
        return canonical

    return IngestIntakeChunk(canonical=with_ids, **_intake_ports(current))


def reset() -> None:
    """Forget built adapters and use cases (after the environment changed)."""
    reset_settings_cache()
    for cached in (
        ledger,
        publisher,
        connector,
        run_workspace,
        _field_encryption,
        _sqs_dead_letter_sink,
        _ingest_webhook,
        _vendor_registry,
        _ingest_vendor_webhook,
        _vendor_poller,
    ):
        cached.cache_clear()
