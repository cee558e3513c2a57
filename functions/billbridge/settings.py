"""Runtime settings, parsed from the environment on first use (never at import)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

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
        )


@lru_cache(maxsize=1)
def hub_settings() -> HubSettings:
    return HubSettings.from_environment()


def reset_settings_cache() -> None:
    hub_settings.cache_clear()
