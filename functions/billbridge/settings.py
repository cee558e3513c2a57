"""Runtime settings, parsed from the environment on first use (never at import).

The one place that reads the functions' environment (`topology.ENV_*`, the names the
stack writes): `HubSettings`, what the composition root (`billbridge.bootstrap`) builds
adapters from, read once per process; `FunctionSettings`, what a function is told
about itself (its dead-letter queue, its receive limit, which poller it is), read per
invocation because the local stack runs every function in one process, each with its
own values.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from billbridge import topology


class HubSettings(BaseModel):
    """Where the hub's state lives; every handler needs these."""

    model_config = ConfigDict(frozen=True)

    ledger_table_name: str
    raw_payload_bucket_name: str
    raw_payload_retention_days: int = Field(default=topology.RAW_PAYLOAD_RETENTION_DAYS, ge=1)
    event_bus_name: str
    webhook_secrets_arn: str = ""
    billing_state_machine_arn: str = ""
    connector_mode: Literal["event", "http"] = "event"
    webhook_timestamp_tolerance_seconds: int = Field(default=300, ge=1)
    billing_run_bucket_name: str = ""
    billing_batch_size: int = Field(default=topology.BILLING_BATCH_SIZE, ge=1, le=1000)
    systems_of_record: str = ""
    """JSON object domain -> source overriding topology.DEFAULT_SYSTEMS_OF_RECORD (e.g. `{"customer": "crm"}`)."""
    rollout: str = ""
    """JSON object of phased-rollout switches (billbridge.app.rollout); empty: everything on."""
    vendor_adapters_config: str = ""
    """JSON of the vendor adapters' configuration (docs/adapters.md); empty: no vendor adapter."""
    propagation_stale_after_hours: float = Field(default=24.0, gt=0)
    intake_bucket_name: str = ""
    """The bulk intake bucket (files dropped at `intake/{source}/...`); empty where no function reads it."""
    intake_chunk_queue_url: str = ""
    feed_entries_rated: bool = False
    """Publish `EntryRated` for the data feed (topology.ENV_FEED_ENTRIES_RATED); off: it is not published."""
    metrics_namespace: str = topology.DEFAULT_METRICS_NAMESPACE
    """Where the KPI publisher writes its metrics (topology.ENV_METRICS_NAMESPACE)."""
    audit_retention_days: int = Field(default=topology.AUDIT_RETENTION_DAYS, ge=1)
    field_encryption_key_arn: str = ""
    """The KMS key that seals billing contacts (deployed stacks); empty: contacts are kept as is (local)."""
    field_decryption: bool = False
    """This function may open sealed contacts (topology.ENV_FIELD_DECRYPTION `enabled`)."""
    connector_targets: str = ""
    """JSON object target -> endpoint of the `http` connectors (ConnectorSettings)."""
    connector_secrets_arn: str = ""
    connector_retry_policy: str = ""
    """JSON of the connectors' patience (RetrySettings), when not the default."""

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> HubSettings:
        env = os.environ if environ is None else environ
        return cls(
            ledger_table_name=env.get(topology.ENV_LEDGER_TABLE, ""),
            raw_payload_bucket_name=env.get(topology.ENV_RAW_BUCKET, ""),
            raw_payload_retention_days=int(
                env.get(topology.ENV_RAW_RETENTION_DAYS, str(topology.RAW_PAYLOAD_RETENTION_DAYS))
            ),
            event_bus_name=env.get(topology.ENV_EVENT_BUS, ""),
            webhook_secrets_arn=env.get(topology.ENV_WEBHOOK_SECRETS_ARN, ""),
            billing_state_machine_arn=env.get(topology.ENV_STATE_MACHINE_ARN, ""),
            connector_mode=env.get(topology.ENV_CONNECTOR_MODE, "event"),  # type: ignore[arg-type]
            webhook_timestamp_tolerance_seconds=int(env.get(topology.ENV_TIMESTAMP_TOLERANCE, "300")),
            billing_run_bucket_name=env.get(topology.ENV_BILLING_RUN_BUCKET, ""),
            billing_batch_size=int(env.get(topology.ENV_BILLING_BATCH_SIZE, str(topology.BILLING_BATCH_SIZE))),
            systems_of_record=env.get(topology.ENV_SYSTEMS_OF_RECORD, ""),
            rollout=env.get(topology.ENV_ROLLOUT, ""),
            vendor_adapters_config=env.get(topology.ENV_VENDOR_ADAPTERS, ""),
            propagation_stale_after_hours=float(env.get(topology.ENV_PROPAGATION_STALE_AFTER_HOURS, "24")),
            intake_bucket_name=env.get(topology.ENV_INTAKE_BUCKET, ""),
            intake_chunk_queue_url=env.get(topology.ENV_INTAKE_CHUNK_QUEUE_URL, ""),
            feed_entries_rated=env.get(topology.ENV_FEED_ENTRIES_RATED, "").lower() == "true",
            metrics_namespace=env.get(topology.ENV_METRICS_NAMESPACE) or topology.DEFAULT_METRICS_NAMESPACE,
            audit_retention_days=int(
                env.get(topology.ENV_AUDIT_RETENTION_DAYS, "") or str(topology.AUDIT_RETENTION_DAYS)
            ),
            field_encryption_key_arn=env.get(topology.ENV_FIELD_ENCRYPTION_KEY_ARN, ""),
            field_decryption=env.get(topology.ENV_FIELD_DECRYPTION, "") == "enabled",
            connector_targets=env.get(topology.ENV_CONNECTOR_TARGETS, ""),
            connector_secrets_arn=env.get(topology.ENV_CONNECTOR_SECRETS_ARN, ""),
            connector_retry_policy=env.get(topology.ENV_CONNECTOR_RETRY_POLICY, ""),
        )


@lru_cache(maxsize=1)
def hub_settings() -> HubSettings:
    return HubSettings.from_environment()


def reset_settings_cache() -> None:
    hub_settings.cache_clear()


class FunctionSettings(BaseModel):
    """What one function is told about itself, beside the hub's settings."""

    model_config = ConfigDict(frozen=True)

    dead_letter_queue_url: str = ""
    """A queue consumer's own dead-letter queue; empty: a failed record is left to the redrive policy."""
    max_receive_count: int = Field(default=topology.DEFAULT_MAX_RECEIVE_COUNT, ge=1)
    vendor_poller_name: str = ""
    """A vendor poller function's `source/vendor` (when its schedule's input does not name it)."""

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> FunctionSettings:
        env = os.environ if environ is None else environ
        return cls(
            dead_letter_queue_url=env.get(topology.ENV_DEAD_LETTER_QUEUE_URL, ""),
            max_receive_count=int(
                env.get(topology.ENV_MAX_RECEIVE_COUNT, "") or str(topology.DEFAULT_MAX_RECEIVE_COUNT)
            ),
            vendor_poller_name=env.get(topology.ENV_POLLER_NAME, ""),
        )


def function_settings() -> FunctionSettings:
    """Read per call (three variables): see the module's docstring."""
    return FunctionSettings.from_environment()


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def require_secure_url(url: str, what: str) -> str:
    """HTTPS only; plain HTTP is accepted for loopback addresses (tests and local stubs)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.netloc:
        return url
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return url
    raise ValueError(f"{what} must be an https:// URL (got scheme {parts.scheme!r})")


# --- the `http` connectors (adapters/connectors/http_connector.py) and the vendor adapters --------


class TargetSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str
    auth: Literal["oauth2", "api_key", "none"] = "oauth2"
    token_url: str = ""
    client_id: str = ""
    scopes: tuple[str, ...] = ()
    api_key_header: str = "X-Api-Key"
    api_key_prefix: str = ""
    rate_per_second: float = Field(default=5.0, gt=0)
    burst: int = Field(default=10, ge=1)

    @field_validator("base_url")
    @classmethod
    def _secure_base(cls, value: str) -> str:
        return require_secure_url(value, "base_url")

    @field_validator("token_url")
    @classmethod
    def _secure_token_url(cls, value: str) -> str:
        return require_secure_url(value, "token_url") if value else value


class RetrySettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    max_attempts: int = Field(default=4, ge=1)
    base_delay: float = Field(default=0.5, ge=0)
    max_delay: float = Field(default=8.0, ge=0)
    max_total_delay: float = Field(default=15.0, ge=0)
    timeout: float = Field(default=10.0, gt=0)


class ConnectorSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    targets: dict[str, TargetSettings]
    secrets_arn: str
    secret_max_age_seconds: int = Field(default=300, ge=0)
    retry: RetrySettings | None = None
    """`CONNECTOR_RETRY_POLICY` (JSON): the connector's patience, when not the default."""

    @classmethod
    def from_hub_settings(cls, hub: HubSettings) -> ConnectorSettings:
        return cls(
            targets=json.loads(hub.connector_targets or "{}"),
            secrets_arn=hub.connector_secrets_arn,
            retry=json.loads(hub.connector_retry_policy) if hub.connector_retry_policy else None,
        )

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ConnectorSettings:
        return cls.from_hub_settings(HubSettings.from_environment(environ))


class VendorConfigurationError(ValueError):
    """The vendor adapters' configuration is not usable (names the key)."""


def read_vendor_configuration(text: str) -> dict[str, dict[str, Any]]:
    """`HubSettings.vendor_adapters_config` as `{"source/vendor": {...}}` (docs/adapters.md);
    checked by the stack at synth time and by the vendors' composition at run time."""
    if not text.strip():
        return {}
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise VendorConfigurationError(f"the vendor adapters configuration is not JSON: {error}") from None
    if not isinstance(document, dict) or not all(isinstance(v, dict) for v in document.values()):
        raise VendorConfigurationError('the vendor adapters configuration is {"source/vendor": {...}, ...}')
    return {str(k): dict(v) for k, v in document.items()}
