"""In-memory fakes of the ports used at the webhook edge (no AWS, no clock, no randomness)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from billbridge.app.ports import ClaimOutcome, DeliveryClaim, OutboundEvent, PublishError

PSA_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
PSA_NEXT_SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
CLM_SECRET = "whsec_bm90LWEtcmVhbC1zZWNyZXQtMzItYnl0ZXMhIQ=="
"""Test-only secrets (random keys, never used anywhere else)."""


class FixedClock:
    def __init__(self, now: datetime | None = None) -> None:
        self.current = now or datetime(2026, 3, 16, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class SequentialIds:
    def __init__(self, prefix: str = "corr") -> None:
        self._prefix = prefix
        self._count = 0

    def new_id(self) -> str:
        self._count += 1
        return f"{self._prefix}-{self._count:04d}"


class InMemoryWebhookSecrets:
    def __init__(self, secrets: dict[str, list[str]] | None = None) -> None:
        self.secrets = dict(secrets or {})
        self.fail = False

    def active_secrets(self, source: str) -> list[str]:
        if self.fail:
            raise ConnectionError("secrets store unreachable")
        return list(self.secrets.get(source, []))


class InMemoryRawPayloadStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.fail = False

    def save(self, *, source: str, delivery_id: str, received_at: datetime, body: bytes) -> str:
        if self.fail:
            raise ConnectionError("bucket unreachable")
        digest = hashlib.sha256(body).hexdigest()
        key = f"webhooks/{source}/{received_at:%Y/%m/%d}/{delivery_id}/{digest}.json"
        self.objects[key] = body
        return key


@dataclass
class DeliveryRecord:
    body_digest: str
    correlation_id: str
    raw_key: str
    raw_body: bytes | None = None


@dataclass
class ConflictRecord:
    source: str
    event_id: str
    body_digest: str
    correlation_id: str
    raw_key: str


class InMemoryDeliveryRegistry:
    def __init__(self) -> None:
        self.deliveries: dict[tuple[str, str], DeliveryRecord] = {}
        self.conflicts: list[ConflictRecord] = []
        self.released: list[tuple[str, str]] = []
        self.fail_claims = False

    def claim(
        self,
        *,
        source: str,
        event_id: str,
        body_digest: str,
        correlation_id: str,
        raw_key: str,
        raw_body: bytes | None = None,
    ) -> DeliveryClaim:
        if self.fail_claims:
            raise ConnectionError("table unreachable")
        existing = self.deliveries.get((source, event_id))
        if existing is None:
            self.deliveries[(source, event_id)] = DeliveryRecord(body_digest, correlation_id, raw_key, raw_body)
            return DeliveryClaim(ClaimOutcome.NEW, correlation_id)
        if existing.body_digest == body_digest:
            return DeliveryClaim(ClaimOutcome.DUPLICATE, existing.correlation_id)
        return DeliveryClaim(ClaimOutcome.CONFLICT, existing.correlation_id)

    def release(self, *, source: str, event_id: str) -> None:
        self.deliveries.pop((source, event_id), None)
        self.released.append((source, event_id))

    def record_conflict(
        self, *, source: str, event_id: str, body_digest: str, correlation_id: str, raw_key: str
    ) -> None:
        self.conflicts.append(ConflictRecord(source, event_id, body_digest, correlation_id, raw_key))


@dataclass
class InMemoryEventPublisher:
    """Records what is published; `fail_next` makes the next call fail for the given event ids."""

    published: list[OutboundEvent] = field(default_factory=list)
    fail_next: set[str] | None = None
    unavailable: bool = False

    def publish(self, events: Sequence[OutboundEvent]) -> None:
        if self.unavailable:
            raise ConnectionError("bus unreachable")
        if self.fail_next is not None:
            failing_ids, self.fail_next = self.fail_next, None
            failed = [(e, "InternalFailure") for e in events if e.detail["delivery"]["id"] in failing_ids]
            self.published.extend(e for e in events if e.detail["delivery"]["id"] not in failing_ids)
            if failed:
                raise PublishError(failed)
            return
        self.published.extend(events)


class InMemoryRefusalLog:
    """RefusalLog: the refusals a system-of-record rule or a rollout switch made, in order."""

    def __init__(self) -> None:
        self.refusals: list[dict[str, str]] = []

    def record_refusal(
        self, *, source: str, event_id: str, event_type: str, rule: str, correlation_id: str, raw_key: str
    ) -> None:
        self.refusals.append(
            {
                "source": source,
                "event_id": event_id,
                "event_type": event_type,
                "rule": rule,
                "correlation_id": correlation_id,
                "raw_key": raw_key,
            }
        )
