"""A ledger the read API can read, over the in-memory one: the command log, proposals by id,
and audit trails stamped with the time the hub's clock shows when each record is saved."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from billbridge.adapters.memory_command_log import InMemoryCommandLog
from billbridge.app.billing_config_document import billing_config_from
from billbridge.app.downstream_sync import DownstreamSync
from billbridge.app.ledger import StoredBook
from billbridge.domain.model import BookUpdate

from tests.fakes.edge import FixedClock
from tests.fakes.hub import CoreHub
from tests.fakes.memory_ledger import InMemoryLedger


class ReadableLedger(InMemoryLedger):
    def __init__(self, config: Any, commands: InMemoryCommandLog, clock: FixedClock) -> None:
        super().__init__(config)
        self.commands = commands
        self._clock = clock
        self._trail: list[dict[str, Any]] = []

    def save(self, stored: StoredBook, update: BookUpdate) -> None:
        super().save(stored, update)
        at = self._clock.now().isoformat()
        contract_id = update.book.contract_id
        self._trail.extend({**asdict(r), "recorded_at": at, "contract_id": contract_id} for r in update.audit)

    def contract_of_proposal(self, proposal_id: str) -> str | None:
        return next((b.contract_id for b in self.books() if proposal_id in b.invoices), None)

    def audit_trail_of_contract(self, contract_id: str) -> list[dict[str, Any]]:
        return [r for r in self._trail if r["contract_id"] == contract_id]

    def audit_trail_by_correlation(self, correlation_id: str) -> list[dict[str, Any]]:
        return [r for r in self._trail if r["correlation_id"] == correlation_id]

    def delivery(self, source: str, event_id: str) -> dict[str, str] | None:
        return None


class ReadableHub(CoreHub):
    """The scenario driver over a ReadableLedger."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self.ledger = ReadableLedger(billing_config_from(config or {}), self.commands, self.clock)
        self.downstream = DownstreamSync(self.ledger, self.commands, self.clock, self.publisher)
