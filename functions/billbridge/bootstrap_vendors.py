"""Composition of the vendor adapter seam: settings in, IngestVendorWebhook and the pollers out.

Built on first use and cached per settings value, like bootstrap_webhook; the
canonical part is the same IngestWebhook the canonical route uses.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from billbridge.settings import HubSettings, hub_settings

if TYPE_CHECKING:
    from billbridge.adapters.vendors.vendor_registry import VendorRegistry
    from billbridge.app.ingest_vendor_webhook import IngestVendorWebhook
    from billbridge.app.poll_vendor_source import PollVendorSource
    from billbridge.app.ports import Connector


def build_ingest_vendor_webhook(settings: HubSettings | None = None) -> IngestVendorWebhook:
    return _build_ingest(settings if settings is not None else hub_settings())


def build_vendor_poller(name: str, settings: HubSettings | None = None) -> PollVendorSource:
    return _build_poller(name, settings if settings is not None else hub_settings())


class UnknownPollerError(LookupError):
    pass


@lru_cache(maxsize=4)
def _registry(settings: HubSettings) -> VendorRegistry:
    from billbridge.adapters.connectors.http_connector import Urllib3Transport
    from billbridge.adapters.secrets_manager_webhook_secrets import SecretsManagerWebhookSecrets
    from billbridge.adapters.vendors.vendor_registry import VendorRegistry, read_configuration

    return VendorRegistry(
        read_configuration(settings.vendor_adapters_config),
        secrets=SecretsManagerWebhookSecrets(secret_id=settings.webhook_secrets_arn),
        transport=Urllib3Transport(),
    )


@lru_cache(maxsize=4)
def _build_ingest(settings: HubSettings) -> IngestVendorWebhook:
    from billbridge import topology
    from billbridge.adapters.s3_raw_payload_store import S3RawPayloadStore
    from billbridge.adapters.secrets_manager_webhook_secrets import SecretsManagerWebhookSecrets
    from billbridge.app.ingest_vendor_webhook import IngestVendorWebhook
    from billbridge.bootstrap_webhook import SystemClock, build_ingest_webhook

    return IngestVendorWebhook(
        adapters=_registry(settings).webhook_adapters(),
        secrets=SecretsManagerWebhookSecrets(secret_id=settings.webhook_secrets_arn),
        raw_payloads=S3RawPayloadStore(bucket_name=settings.raw_payload_bucket_name),
        clock=SystemClock(),
        canonical=build_ingest_webhook(settings),
        max_body_bytes=topology.MAX_WEBHOOK_BODY_BYTES,
    )


@lru_cache(maxsize=8)
def _build_poller(name: str, settings: HubSettings) -> PollVendorSource:
    from billbridge.adapters.dynamo_poll_cursors import DynamoPollCursors
    from billbridge.adapters.s3_raw_payload_store import S3RawPayloadStore
    from billbridge.app.poll_vendor_source import PollVendorSource
    from billbridge.bootstrap_webhook import SystemClock, build_ingest_webhook

    setups = _registry(settings).polling_sources()
    if name not in setups:
        raise UnknownPollerError(f"no polling source {name!r} is configured; configured: {sorted(setups) or 'none'}")
    setup = setups[name]
    return PollVendorSource(
        name=name,
        source=setup.source,
        cursors=DynamoPollCursors(table_name=settings.ledger_table_name),
        raw_payloads=S3RawPayloadStore(bucket_name=settings.raw_payload_bucket_name),
        canonical=build_ingest_webhook(settings),
        clock=SystemClock(),
        limits=setup.limits,
    )


def with_vendor_commands(default: Connector, settings: HubSettings | None = None) -> Connector:
    """The hub's connector, with the commands a configured vendor client handles routed to it."""
    current = settings if settings is not None else hub_settings()
    if not current.vendor_adapters_config:
        return default
    from billbridge.adapters.vendors.vendor_commands import VendorCommandRouter

    routes = _registry(current).command_routes()
    return VendorCommandRouter(default, routes) if routes else default


def reset() -> None:
    _registry.cache_clear()
    _build_ingest.cache_clear()
    _build_poller.cache_clear()
