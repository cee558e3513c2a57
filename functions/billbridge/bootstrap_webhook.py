"""Composition of the webhook use case: settings in, IngestWebhook with its AWS adapters out.

Built on first use and cached per settings value, so a changed environment
(after `billbridge.bootstrap.reset()`) yields a new use case. Nothing here
runs at import; the AWS SDK is imported only when the use case is built.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from billbridge.settings import HubSettings, hub_settings

if TYPE_CHECKING:
    from billbridge.app.ingest_webhook import IngestWebhook


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class RandomIds:
    """Correlation ids for events that arrive without one."""

    def new_id(self) -> str:
        return str(uuid.uuid4())


def build_ingest_webhook(settings: HubSettings | None = None) -> IngestWebhook:
    return _build(settings if settings is not None else hub_settings())


@lru_cache(maxsize=4)
def _build(settings: HubSettings) -> IngestWebhook:
    return build_canonical_ingest(settings, RandomIds())


def build_canonical_ingest(settings: HubSettings, ids: Any, secrets: Any = None) -> IngestWebhook:
    """The webhook use case with the given correlation ids (bulk intake mints its own per chunk)
    and, for a caller that verifies nothing itself (bulk intake), its own `secrets`."""
    from billbridge import topology
    from billbridge.adapters.dynamo_delivery_registry import DynamoDeliveryRegistry
    from billbridge.adapters.dynamo_refusal_log import DynamoRefusalLog
    from billbridge.adapters.eventbridge_publisher import EventBridgeEventPublisher
    from billbridge.adapters.s3_raw_payload_store import S3RawPayloadStore
    from billbridge.adapters.secrets_manager_webhook_secrets import SecretsManagerWebhookSecrets
    from billbridge.app.ingest_webhook import IngestWebhook
    from billbridge.app.rollout import Rollout
    from billbridge.app.system_of_record import SystemsOfRecord

    clock = SystemClock()
    return IngestWebhook(
        personal_data=_personal_data_sealer(),
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


def _personal_data_sealer() -> Any:
    """Seals billing contacts before they reach the bus, where the function is given the key."""
    import os

    from billbridge.adapters.field_encryption import ENV_FIELD_ENCRYPTION_KEY_ARN, KmsFieldEncryption

    key_arn = os.environ.get(ENV_FIELD_ENCRYPTION_KEY_ARN, "")
    return KmsFieldEncryption(key_id=key_arn, decrypt=False) if key_arn else None


def reset() -> None:
    """Forget the built use case (tests and the local stack, after changing the environment)."""
    _build.cache_clear()
