"""Faults injected at the adapter boundary: ledgers, publishers and connectors
that fail the way DynamoDB, EventBridge and an ERP fail."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from billbridge.app.ledger import ConcurrentUpdateError, StoredBook
from billbridge.app.ports import (
    ConnectorCommand,
    ConnectorReceipt,
    OutboundEvent,
    PublishError,
    TransientConnectorError,
)
from billbridge.domain.model import BookUpdate
from botocore.exceptions import ClientError


def throttled(operation: str = "TransactWriteItems") -> ClientError:
    return ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "Rate exceeded"}},
        operation,
    )


class FlakyLedger:
    """A Ledger whose saves fail on a schedule: `plan` is consumed one save at a
    time ("race": another writer got there first, "throttle": DynamoDB throttled,
    "ok"); after the plan, every save goes through."""

    def __init__(self, inner: Any, plan: Sequence[str]) -> None:
        self._inner = inner
        self._plan = list(plan)
        self._lock = threading.Lock()
        self.injected: dict[str, int] = {"race": 0, "throttle": 0}

    def save(self, stored: StoredBook, update: BookUpdate) -> None:
        with self._lock:
            step = self._plan.pop(0) if self._plan else "ok"
            if step in self.injected:
                self.injected[step] += 1
        if step == "race":
            raise ConcurrentUpdateError(stored.book.contract_id)
        if step == "throttle":
            raise throttled()
        self._inner.save(stored, update)

    def heal(self) -> None:
        with self._lock:
            self._plan.clear()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class PartiallyFailingPublisher:
    """Fails every `every`-th event of each call (as PutEvents reports FailedEntryCount),
    publishing the others; `budget` failures in all."""

    def __init__(self, inner: Any, *, every: int = 3, budget: int = 10) -> None:
        self._inner = inner
        self._every = every
        self.budget = budget
        self.failed = 0

    def publish(self, events: Sequence[OutboundEvent]) -> None:
        failing = [e for i, e in enumerate(events, start=1) if i % self._every == 0][: self.budget]
        self.budget -= len(failing)
        passing = [e for e in events if e not in failing]
        if passing:
            self._inner.publish(passing)
        if failing:
            self.failed += len(failing)
            raise PublishError([(e, "InternalFailure") for e in failing])


class TimeoutAfterAcceptErp:
    """An ERP whose answer is lost the first time: the invoice is created, then the call
    times out. It keys invoices by the idempotency key, as the ERP's API does."""

    def __init__(self) -> None:
        self.invoices: dict[str, dict[str, Any]] = {}
        self.calls = 0
        self.timeouts = 0
        self._timed_out: set[str] = set()
        self._lock = threading.Lock()

    def send(self, command: ConnectorCommand) -> ConnectorReceipt:
        with self._lock:
            if command.name != "CreateInvoice":
                return ConnectorReceipt(accepted=True, reference=f"{command.target}:{command.idempotency_key}")
            self.calls += 1
            self.invoices.setdefault(command.idempotency_key, command.payload)
            if command.idempotency_key not in self._timed_out:
                self._timed_out.add(command.idempotency_key)
                self.timeouts += 1
                raise TransientConnectorError(f"timed out after posting {command.idempotency_key}")
            return ConnectorReceipt(accepted=True, reference=f"ERP-{command.idempotency_key}")
