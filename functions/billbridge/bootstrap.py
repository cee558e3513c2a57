"""The composition root: settings in, adapters and use cases out.

Handlers ask this module for their use case; nothing is built at import time,
and tests (or the local stack) call `reset()` after changing the environment.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from billbridge import topology
from billbridge.settings import hub_settings, reset_settings_cache

if TYPE_CHECKING:
    from billbridge.adapters.dynamo_ledger import DynamoLedger
    from billbridge.app.downstream_sync import DownstreamSync
    from billbridge.app.ports import Connector, EventPublisher
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
    import os

    from billbridge.adapters.dynamo_ledger import ENV_AUDIT_RETENTION_DAYS, DynamoLedger
    from billbridge.adapters.field_encryption import field_encryption_from_environment

    return DynamoLedger(
        hub_settings().ledger_table_name,
        field_encryption=field_encryption_from_environment(),
        audit_retention_seconds=int(os.environ.get(ENV_AUDIT_RETENTION_DAYS, "2557")) * 86400,
    )


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
    invoice to Xero) go through that vendor's client (billbridge.bootstrap_vendors)."""
    from billbridge.adapters.connectors.event_connector import EventBusConnector
    from billbridge.bootstrap_vendors import with_vendor_commands

    settings = hub_settings()
    # Commands too large for an event go by claim check to the run workspace (the billing tasks').
    claim_checks = run_workspace() if settings.billing_run_bucket_name else None
    on_the_bus = EventBusConnector(publisher(), claim_checks=claim_checks)
    if settings.connector_mode != "http":
        return with_vendor_commands(on_the_bus, settings)
    from billbridge.adapters.connectors.http_connector import HttpConnector
    from billbridge.adapters.connectors.per_target_connector import PerTargetConnector

    http = HttpConnector.from_environment(personal_data=personal_data_vault())
    routed = PerTargetConnector(routes={target: http for target in http.endpoints}, default=on_the_bus)
    return with_vendor_commands(routed, settings)


def personal_data_vault() -> Any:
    """The vault that seals and opens contacts (deployed stacks with a key), else None."""
    from billbridge.adapters.field_encryption import KmsFieldEncryption, field_encryption_from_environment

    vault = field_encryption_from_environment()
    return vault if isinstance(vault, KmsFieldEncryption) else None


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


def reset() -> None:
    """Forget built adapters (after the environment changed)."""
    reset_settings_cache()
    for cached in (ledger, publisher, connector, run_workspace):
        cached.cache_clear()
