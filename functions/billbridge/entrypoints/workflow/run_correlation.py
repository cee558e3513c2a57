"""A billing run's correlation id: every proposal and record of the run carries it."""

from __future__ import annotations

from typing import Any


def correlation_id_of(event: dict[str, Any]) -> str:
    return str(event.get("correlation_id") or f"billing-run-{event.get('run_id', 'unknown')}")
