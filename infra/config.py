"""Deployment settings of the stack: defaults here, overrides from CDK context.

Override any field with `-c billbridge:<field>=<value>` on the CDK CLI or with a
`"billbridge:<field>"` key in cdk.json's context.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from constructs import Node

CONTEXT_PREFIX = "billbridge:"


@dataclass(frozen=True, slots=True)
class BillbridgeConfig:
    """Stack props that an operator may want to change per environment."""

    service_name: str = "billbridge"
    log_level: str = "INFO"
    log_retention: str = "THREE_MONTHS"
    """A member name of `aws_logs.RetentionDays`."""
    raw_payload_ia_transition_days: int = 30
    raw_payload_retention_days: int = 400
    event_archive_retention_days: int = 365
    billing_day_of_month: int = 1
    billing_hour: int = 2
    billing_time_zone: str = "Etc/UTC"
    """An IANA time zone; the schedule follows its daylight saving changes."""
    api_throttle_rate_limit: int = 50
    api_throttle_burst_limit: int = 100
    queue_age_alarm_seconds: int = 900
    alarm_email: str = ""
    audit_retention_days: int = 2557
    """Ledger audit records expire (DynamoDB TTL) after this many days: 7 years."""
    waf_web_acl_arn: str = ""
    """A WAFv2 web ACL (REGIONAL) of the organisation to associate with the API stage instead
    of the stack's own; empty: the stack's own (`edge_firewall`)."""
    edge_firewall: str = "on"
    """`on`: the stack's web ACL guards the API (unsigned requests refused, rate limits per
    source route and per address; infra/constructs/edge_firewall.py). `off` only where an
    organisation-wide ACL is attached outside this stack."""
    waf_rate_limit_per_source: int = 15000
    """Requests per 5 minutes on one `/webhooks/{source}` route (50 per second on average)."""
    waf_rate_limit_per_address: int = 6000
    """Requests per 5 minutes from one client address (20 per second on average)."""
    propagation_alarm_hours: int = 24
    """A contract version unacknowledged by a downstream system for longer than this is
    stale: counted by the KPIs and alarmed on."""
    connectors: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Per target system (`psa`, `erp-us`...): `{"mode": "event"}` or `{"mode": "http",
    "base_url": ..., "auth": ...}` (infra/constructs/downstream_connectors.py)."""
    runbook_url: str = "docs/operations.md"
    """Where operators read the runbook (the repository page or a wiki copy of
    `docs/operations.md`): every alarm's description ends with a link to its section."""
    kpi_schedule: str = "rate(1 hour)"
    """When the operating KPIs are published: an EventBridge Scheduler `rate(...)` or
    `cron(...)` expression; a cron is evaluated in `billing_time_zone`."""
    systems_of_record: str = ""
    """JSON object domain -> source overriding the defaults (customer: erp, contract: clm,
    project: psa, invoice: erp), e.g. `{"customer": "crm"}`; given in cdk.json as an object."""
    rollout: str = ""
    """JSON object of phased-rollout switches (`off` / `shadow` / `on`) per workflow and per
    source, e.g. `{"workflows": {"actuals": "shadow"}, "sources": {"crm": "off"}}`; empty: all on."""
    feed_entries_rated: bool = False
    """Publish one `EntryRated` per rated time entry for the data feed's `entry.rated` records
    (decision 12): one more EventBridge event per entry, about USD 1 per million entries. Off:
    the feed carries every other type, and nothing publishes an event nobody reads."""
    kpi_thresholds: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Business KPI alarm thresholds (infra/constructs/failure_alarms.py): `dso_days`,
    `dispute_rate_percent`, `failure_resolution_hours`, `oldest_open_failure_hours`,
    `approval_to_invoice_days`, and `revenue_leakage` per currency (`{"EUR": "5000"}`).
    A threshold left out has no alarm."""
    vendor_adapters: str = ""
    """JSON configuration of the vendor adapters, keyed by `source/vendor` (docs/adapters.md):
    API base URLs, a tenant's field mapping, page sizes and rates. Empty: no vendor adapter;
    a poller whose vendor is absent is deployed with its schedule disabled."""
    read_api_throttle_rate_limit: int = 20
    """Requests per second across the read API's stage (dashboards poll; operators browse)."""
    read_api_throttle_burst_limit: int = 40

    def __post_init__(self) -> None:
        if not 1 <= self.billing_day_of_month <= 28:
            raise ValueError("billing_day_of_month must be 1..28 so that every month has the day")
        if not 0 <= self.billing_hour <= 23:
            raise ValueError("billing_hour must be 0..23")
        if self.audit_retention_days < 365:
            raise ValueError("audit records must be kept at least a year (billing disputes)")
        if self.raw_payload_retention_days <= self.raw_payload_ia_transition_days:
            raise ValueError("raw payloads must be kept longer than the transition to infrequent access")
        if self.edge_firewall not in ("on", "off"):
            raise ValueError("edge_firewall must be on or off")
        if self.propagation_alarm_hours < 1:
            raise ValueError("propagation_alarm_hours must be at least 1")
        if not self.kpi_schedule.startswith(("rate(", "cron(")) or not self.kpi_schedule.endswith(")"):
            raise ValueError("kpi_schedule must be a Scheduler rate(...) or cron(...) expression")
        from infra.constructs.failure_alarms import validate_kpi_thresholds

        validate_kpi_thresholds(self.kpi_thresholds)
        if self.vendor_adapters:
            from billbridge.settings import read_vendor_configuration

            read_vendor_configuration(self.vendor_adapters)

    @classmethod
    def from_context(cls, node: Node, environment: Mapping[str, Any] | None = None) -> BillbridgeConfig:
        """Defaults overridden by `billbridge:<field>` context values, then by `environment`
        (the deployment environment's own settings, infra/environments.py)."""
        overrides: dict[str, Any] = {}
        unknown = sorted(set(environment or {}) - {field.name for field in fields(cls)})
        if unknown:
            raise ValueError(f"unknown settings for the environment: {', '.join(unknown)}")
        for field in fields(cls):
            value = (environment or {}).get(field.name)
            if value is None:
                value = node.try_get_context(f"{CONTEXT_PREFIX}{field.name}")
            if value is None:
                continue
            default = field.default
            if isinstance(default, bool) and isinstance(value, str):  # `-c billbridge:x=false`
                value = value.strip().lower() in ("true", "1", "yes")
            if isinstance(value, dict | list) and isinstance(default, str):  # an object for a JSON field
                value = json.dumps(value, sort_keys=True)
            overrides[field.name] = type(default)(value) if default is not dataclasses.MISSING else value
        return cls(**overrides)
