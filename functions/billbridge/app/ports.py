"""Ports: what the use cases need from the outside world, as Protocols.

Adapters (DynamoDB, EventBridge, S3, Secrets Manager, connectors) implement
them under billbridge.adapters; tests use in-memory fakes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum, StrEnum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from billbridge.domain.downstream_commands import DownstreamCommand


class Clock(Protocol):
    def now(self) -> datetime: ...


class IdGenerator(Protocol):
    def new_id(self) -> str: ...


@dataclass(frozen=True, slots=True)
class OutboundEvent:
    """An event for the hub's bus: canonical inbound events and the hub's own events."""

    source: str
    detail_type: str
    detail: dict[str, Any]
    correlation_id: str


class PublishError(Exception):
    """Some events could not be published; `failed` lists them with the reason."""

    def __init__(self, failed: Sequence[tuple[OutboundEvent, str]]) -> None:
        super().__init__(f"{len(failed)} event(s) not published: " + "; ".join(r for _, r in failed))
        self.failed = list(failed)


class EventPublisher(Protocol):
    def publish(self, events: Sequence[OutboundEvent]) -> None:
        """Publish all events or raise PublishError naming those that failed."""
        ...


class RawPayloadStore(Protocol):
    def save(self, *, source: str, delivery_id: str, received_at: datetime, body: bytes) -> str:
        """Store the raw webhook body (claim-check) and return its key."""
        ...


INLINE_RAW_KEY_PREFIX = "delivery-claim:"
"""A raw key naming a delivery claim that holds the raw body, not an S3 object."""


def inline_raw_key(source: str, event_id: str) -> str:
    return f"{INLINE_RAW_KEY_PREFIX}{source}/{event_id}"


def claim_of_inline_raw_key(raw_key: str) -> tuple[str, str] | None:
    """`(source, event id)` of a raw key naming a delivery claim, else None (an S3 key)."""
    if not raw_key.startswith(INLINE_RAW_KEY_PREFIX):
        return None
    source, _, event_id = raw_key[len(INLINE_RAW_KEY_PREFIX) :].partition("/")
    return source, event_id


class ClaimOutcome(str, Enum):
    NEW = "new"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"


@dataclass(frozen=True, slots=True)
class DeliveryClaim:
    outcome: ClaimOutcome
    correlation_id: str
    """For a duplicate: the correlation id minted when the event was first accepted."""


class DeliveryRegistry(Protocol):
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
        """Record the (source, id) identity of a delivered event, exactly once; with `raw_body`,
        the delivery's raw body is kept in the claim itself (`raw_key` then names the claim)."""
        ...

    def release(self, *, source: str, event_id: str) -> None:
        """Forget a claim whose publication failed, so the vendor's retry is accepted."""
        ...

    def record_conflict(
        self, *, source: str, event_id: str, body_digest: str, correlation_id: str, raw_key: str
    ) -> None: ...


class WebhookSecrets(Protocol):
    def active_secrets(self, source: str) -> list[str]:
        """The `whsec_...` secrets currently accepted for a source (several during rotation)."""
        ...


@dataclass(frozen=True, slots=True)
class ConnectorCommand:
    """A command to a downstream system (PSA, ERP) through a connector port."""

    target: str
    """The system instance, e.g. `psa`, `erp-us`, `erp-eu`."""
    name: str
    """Past-tense-free command name, e.g. `UpsertProject`, `PostInvoice`."""
    idempotency_key: str
    payload: dict[str, Any]
    correlation_id: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ConnectorReceipt:
    """A connector's typed outcome: accepted (with the system's id, or awaiting an
    asynchronous acknowledgement) or refused (with the system's answer)."""

    accepted: bool
    reference: str | None = None
    """The system's own id for what the command created or updated (from its answer only)."""
    detail: str = ""
    awaiting_acknowledgement: bool = False
    """Delivered but not yet answered (published on the bus, or HTTP 202 without an id):
    the system acknowledges or refuses later, through its webhook source."""


class Connector(Protocol):
    def send(self, command: ConnectorCommand) -> ConnectorReceipt: ...


class TransientConnectorError(Exception):
    """The downstream system may accept the same command if it is retried."""


class ConcurrentCommandUpdateError(Exception):
    """The command's record changed since it was read."""


class CommandLog(Protocol):
    """Downstream commands and their outcomes (billbridge.domain.downstream_commands)."""

    def get(self, command_id: str) -> DownstreamCommand | None: ...

    def save(self, command: DownstreamCommand) -> DownstreamCommand:
        """Store the command if its record is still at `command.revision` (else raise
        ConcurrentCommandUpdateError); returns it at its new revision."""
        ...

    def of_contract(self, contract_id: str) -> list[DownstreamCommand]: ...

    def all_commands(self) -> list[DownstreamCommand]: ...


@dataclass(frozen=True, slots=True)
class BillingRunStart:
    """What starting a billing run by its name came to."""

    name: str
    execution_id: str
    """The workflow's id of the run (a Step Functions execution ARN)."""
    started: bool
    """False: a run of this name had already been started (a repeated trigger, a retried command)."""


class BillingRuns(Protocol):
    """Where billing runs are started: one run per name, however often it is asked for."""

    def start_or_find(self, name: str, run_input: Mapping[str, Any]) -> BillingRunStart:
        """Start the run `name` with `run_input`, or find the run already started under that name."""
        ...


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message the hub gives up on, with why: kept for an operator to read, fix and send back."""

    body: str
    reason: str
    """`ErrorType: what was wrong`, without the input's values (they may hold personal data)."""
    error_type: str
    correlation_id: str
    workflow: str
    message_id: str


class DeadLetterSink(Protocol):
    """Where a consumer puts what it will not process (a dead-letter queue)."""

    def put(self, letter: DeadLetter) -> None: ...


class RunStatus(StrEnum):
    """Where a billing run stands: its workflow execution's status, in Step Functions' words."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    ABORTED = "ABORTED"


class RefusalLog(Protocol):
    """Where deliveries refused by a system-of-record rule are audited."""

    def record_refusal(
        self, *, source: str, event_id: str, event_type: str, rule: str, correlation_id: str, raw_key: str
    ) -> None: ...
