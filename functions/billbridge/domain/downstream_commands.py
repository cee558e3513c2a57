"""Commands the hub sends to the downstream systems (the PSA's project, the
ERP's billing schedule, a termination, an invoice's status) and what became of
each, and how far each contract version has propagated to each system.

A command is identified by its target, name and idempotency key (the key is
the business identity: `SOW-1-v2` for version 2 of contract SOW-1), so a
command re-sent after a crash or a redelivery is the same command. Its state
only moves as the rules below say: an acknowledgement is final (a system that
said yes has the data), a refusal or a failure can be followed by a new
attempt (`sent`), and an attempt never undoes an acknowledgement.

Pure: times are passed in as ISO-8601 strings; nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import Any


class CommandState(str, Enum):
    SENT = "sent"
    """Delivered (published on the bus, or accepted for processing): no answer yet."""
    ACKNOWLEDGED = "acknowledged"
    """The system took it and said under which id of its own."""
    REFUSED = "refused"
    """The system answered no (a validation error, an unknown customer...)."""
    FAILED = "failed"
    """No usable answer after the connector's retries (timeouts, 5xx, rate limits)."""


class PropagationState(str, Enum):
    PENDING = "pending"
    ACKNOWLEDGED = "acknowledged"
    REFUSED = "refused"
    FAILED = "failed"


CONTRACT_COMMANDS: Mapping[str, str] = {
    "UpsertProject": "psa",
    "TerminateProject": "psa",
    "UpsertBillingSchedule": "erp",
    "TerminateBillingSchedule": "erp",
}
"""Commands that carry a contract version to a system, and the system each speaks to."""

INVOICE_STATUS_COMMAND = "UpdateInvoiceStatus"

REFERENCE_KEYS: Mapping[str, str] = {
    "UpsertProject": "psa_project_ref",
    "UpsertBillingSchedule": "erp_billing_schedule_ref",
}
"""Where an acknowledged command's system id goes in the contract's id map."""


def command_id_for(target: str, name: str, idempotency_key: str) -> str:
    """The command's identity: the same business change to the same system is the same command."""
    return f"{target}/{name}/{idempotency_key}"


@dataclass(frozen=True, slots=True)
class DownstreamCommand:
    command_id: str
    contract_id: str
    system: str
    """`psa` or `erp`: which kind of system (propagation is counted per system)."""
    target: str
    """The system instance the connector calls (`psa`, `erp-us`, `erp-eu`)."""
    name: str
    idempotency_key: str
    correlation_id: str
    payload: dict[str, Any]
    state: CommandState
    first_sent_at: str
    updated_at: str
    contract_version: int | None = None
    """The contract version the command carries (None for an invoice status)."""
    attempts: int = 1
    acknowledged_at: str | None = None
    reference: str | None = None
    """The system's own id, from its acknowledgement only."""
    answer: str = ""
    """The system's answer (status and error), or why no answer came."""
    history: tuple[tuple[str, str, str], ...] = field(default=())
    """Every (time, state, answer) the command went through, oldest first."""
    revision: int = 0
    """The store's version of the record (optimistic concurrency)."""

    @property
    def needs_attention(self) -> bool:
        return self.state in (CommandState.REFUSED, CommandState.FAILED)


def new_attempt(existing: DownstreamCommand | None, planned: DownstreamCommand, *, at: str) -> DownstreamCommand | None:
    """The command about to be sent, or None when it need not be (already acknowledged).

    A first attempt is `planned` as is; a repeat keeps the first send time and
    counts one more attempt (with the payload of this attempt: a fix is sent)."""
    if existing is None:
        return replace(
            planned,
            state=CommandState.SENT,
            first_sent_at=at,
            updated_at=at,
            attempts=1,
            history=((at, CommandState.SENT.value, ""),),
        )
    if existing.state is CommandState.ACKNOWLEDGED:
        return None
    return replace(
        existing,
        payload=planned.payload,
        correlation_id=planned.correlation_id,
        state=CommandState.SENT,
        updated_at=at,
        attempts=existing.attempts + 1,
        history=(*existing.history, (at, CommandState.SENT.value, "")),
    )


def with_answer(
    command: DownstreamCommand,
    state: CommandState,
    *,
    at: str,
    reference: str | None = None,
    answer: str = "",
) -> DownstreamCommand:
    """The command after an answer (or the lack of one).

    An acknowledgement is final: a later refusal or failure of the same command
    is kept in its history only. `sent` after an answer changes nothing (a
    delivery receipt does not undo an answer that overtook it)."""
    entry = ((at, state.value, answer),)
    if command.state is CommandState.ACKNOWLEDGED and state is not CommandState.ACKNOWLEDGED:
        return replace(command, history=command.history + entry)
    if state is CommandState.SENT:
        return command
    if state is CommandState.ACKNOWLEDGED:
        if command.state is CommandState.ACKNOWLEDGED and command.reference == (reference or command.reference):
            return command
        return replace(
            command,
            state=state,
            updated_at=at,
            acknowledged_at=command.acknowledged_at or at,
            reference=reference or command.reference,
            answer=answer,
            history=command.history + entry,
        )
    return replace(command, state=state, updated_at=at, answer=answer, history=command.history + entry)


# --- propagation ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Propagation:
    """How far a contract's latest version has reached one system."""

    contract_id: str
    system: str
    target: str
    latest_version: int
    state: PropagationState
    since: str
    """When the latest version's command was first sent."""
    updated_at: str
    acknowledged_version: int | None
    """The latest version the system has acknowledged (what it holds)."""
    acknowledged_at: str | None
    reference: str | None
    command_id: str
    answer: str = ""

    def age_hours(self, now: datetime) -> float:
        return (now - datetime.fromisoformat(self.since)).total_seconds() / 3600

    def is_stale(self, now: datetime, max_age: timedelta) -> bool:
        """Unacknowledged for longer than `max_age`."""
        return self.state is not PropagationState.ACKNOWLEDGED and now - datetime.fromisoformat(self.since) > max_age


_PROPAGATION_OF: Mapping[CommandState, PropagationState] = {
    CommandState.SENT: PropagationState.PENDING,
    CommandState.ACKNOWLEDGED: PropagationState.ACKNOWLEDGED,
    CommandState.REFUSED: PropagationState.REFUSED,
    CommandState.FAILED: PropagationState.FAILED,
}


def propagation_of(commands: Iterable[DownstreamCommand]) -> list[Propagation]:
    """Per contract and system: the state of the latest version sent, and the
    latest version acknowledged. A termination counts as the version it ends."""
    by_system: dict[tuple[str, str], list[DownstreamCommand]] = {}
    for command in commands:
        if command.name in CONTRACT_COMMANDS and command.contract_version is not None:
            by_system.setdefault((command.contract_id, command.system), []).append(command)
    found = []
    for (contract_id, system), sent in sorted(by_system.items()):
        ordered = sorted(sent, key=lambda c: (c.contract_version or 0, c.name.startswith("Terminate"), c.first_sent_at))
        latest = ordered[-1]
        acknowledged = [c for c in ordered if c.state is CommandState.ACKNOWLEDGED]
        held = acknowledged[-1] if acknowledged else None
        found.append(
            Propagation(
                contract_id=contract_id,
                system=system,
                target=latest.target,
                latest_version=latest.contract_version or 0,
                state=_PROPAGATION_OF[latest.state],
                since=latest.first_sent_at,
                updated_at=latest.updated_at,
                acknowledged_version=None if held is None else held.contract_version,
                acknowledged_at=None if held is None else held.acknowledged_at,
                reference=_latest_reference(acknowledged),
                command_id=latest.command_id,
                answer=latest.answer,
            )
        )
    return found


def _latest_reference(acknowledged: list[DownstreamCommand]) -> str | None:
    for command in reversed(acknowledged):
        if command.reference:
            return command.reference
    return None


def propagation_counts(propagations: Iterable[Propagation], now: datetime, max_age: timedelta) -> dict[str, int]:
    """How many (contract, system) pairs are in each state, and how many are stale."""
    counts = {state.value: 0 for state in PropagationState}
    stale = 0
    for propagation in propagations:
        counts[propagation.state.value] += 1
        stale += propagation.is_stale(now, max_age)
    return counts | {"stale": stale}
