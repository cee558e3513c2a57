"""Downstream commands and propagation status as operators read them (CLI, report)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from billbridge.domain.downstream_commands import DownstreamCommand, Propagation, propagation_of


def command_document(command: DownstreamCommand, *, with_payload: bool = False) -> dict[str, Any]:
    document: dict[str, Any] = {
        "command_id": command.command_id,
        "contract_id": command.contract_id,
        "contract_version": command.contract_version,
        "system": command.system,
        "target": command.target,
        "command": command.name,
        "idempotency_key": command.idempotency_key,
        "state": command.state.value,
        "reference": command.reference,
        "answer": command.answer,
        "attempts": command.attempts,
        "first_sent_at": command.first_sent_at,
        "updated_at": command.updated_at,
        "acknowledged_at": command.acknowledged_at,
        "correlation_id": command.correlation_id,
    }
    if with_payload:
        document["payload"] = command.payload
        document["history"] = [{"at": at, "state": state, "answer": answer} for at, state, answer in command.history]
    return document


def propagation_document(propagation: Propagation, now: datetime, max_age: timedelta | None) -> dict[str, Any]:
    return {
        "contract_id": propagation.contract_id,
        "system": propagation.system,
        "target": propagation.target,
        "latest_version": propagation.latest_version,
        "state": propagation.state.value,
        "since": propagation.since,
        "age_hours": round(propagation.age_hours(now), 2),
        "acknowledged_version": propagation.acknowledged_version,
        "acknowledged_at": propagation.acknowledged_at,
        "reference": propagation.reference,
        "command_id": propagation.command_id,
        "answer": propagation.answer,
        "stale": None if max_age is None else propagation.is_stale(now, max_age),
    }


def propagation_documents(
    commands: Iterable[DownstreamCommand], now: datetime, *, stale_after: timedelta | None = None
) -> list[dict[str, Any]]:
    """Every (contract, system) pair; with `stale_after`, only those unacknowledged for longer."""
    found = propagation_of(commands)
    if stale_after is not None:
        found = [p for p in found if p.is_stale(now, stale_after)]
    return [propagation_document(p, now, stale_after) for p in found]
