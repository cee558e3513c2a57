"""In-memory fakes for the hub's outbound ports, and a driver that runs
scenarios through the use cases with no AWS at all."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from billbridge.adapters.memory_command_log import InMemoryCommandLog
from billbridge.app.billing_config_document import billing_config_from
from billbridge.app.downstream_sync import DownstreamSync
from billbridge.app.event_translation import IngestedEvent
from billbridge.app.ports import ConnectorCommand, ConnectorReceipt, OutboundEvent
from billbridge.app.record_actuals import RecordActuals
from billbridge.app.record_feedback import RecordFeedback
from billbridge.app.run_billing import ComposeInvoice, PostInvoice, SelectContracts
from billbridge.app.sync_contract import SyncContract
from billbridge.reporting.replay_report import build_replay_report
from billbridge.topology import ACTUALS_EVENT_TYPES, CONTRACT_EVENT_TYPES, CUSTOMER_EVENT_TYPES

from tests.fakes.edge import FixedClock
from tests.fakes.memory_ledger import InMemoryLedger


class RecordingPublisher:
    def __init__(self) -> None:
        self.events: list[OutboundEvent] = []

    def publish(self, events: Sequence[OutboundEvent]) -> None:
        self.events.extend(events)


class RecordingConnector:
    """Acknowledges every command with an id of the system's own (`PRJ-SOW-1-v2`: the same for the same command),
    or answers what `answers` holds for the command's name (refusals, failures)."""

    def __init__(self, prefix: str = "REF") -> None:
        self.commands: list[ConnectorCommand] = []
        self.prefix = prefix
        self.answers: dict[str, ConnectorReceipt | Exception] = {}

    def send(self, command: ConnectorCommand) -> ConnectorReceipt:
        self.commands.append(command)
        answer = self.answers.get(command.name)
        if isinstance(answer, Exception):
            raise answer
        if answer is not None:
            return answer
        return ConnectorReceipt(accepted=True, reference=f"{self.prefix}-{command.idempotency_key}", detail="HTTP 200")


class CoreHub:
    """Scenario steps straight into the use cases (deduplicating deliveries by
    (source, id) the way the webhook receiver does)."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.ledger = InMemoryLedger(billing_config_from(config or {}))
        self.publisher = RecordingPublisher()
        self.erp = RecordingConnector("SCH")
        self.psa = RecordingConnector("PRJ")
        self.clock = FixedClock()
        self.commands = InMemoryCommandLog()
        self.downstream = DownstreamSync(self.ledger, self.commands, self.clock, self.publisher)
        self.seen: dict[tuple[str, str], str] = {}
        self.runs = 0

    def deliver(self, event: dict[str, Any]) -> str:
        key = (event["source"], event["id"])
        body = json.dumps(event, sort_keys=True)
        if key in self.seen:
            return "duplicate" if self.seen[key] == body else "conflict"
        self.seen[key] = body
        self.consume(event)
        return "accepted"

    def consume(self, event: dict[str, Any]) -> None:
        """What a queue consumer does with one event, with no de-duplication in front of it."""
        ingested = IngestedEvent(
            event_type=event["type"],
            data=event.get("data") or {},
            correlation_id=event.get("correlationid") or f"corr-{event['source']}-{event['id']}",
            source=event["source"],
            event_id=event["id"],
            subject=event.get("subject"),
        )
        if ingested.event_type in CONTRACT_EVENT_TYPES + CUSTOMER_EVENT_TYPES:
            SyncContract(
                self.ledger,
                self.publisher,
                psa=self.psa,
                erp=self.erp,
                downstream=self.downstream,
                master=self.ledger,
            ).handle(ingested)
        elif ingested.event_type in ACTUALS_EVENT_TYPES:
            RecordActuals(self.ledger, self.publisher).handle(ingested)
        else:
            RecordFeedback(self.ledger, self.publisher, psa=self.psa, erp=self.erp, downstream=self.downstream).handle(
                ingested
            )

    def bill(self, period: str, contract_ids: list[str] | None = None) -> list[str]:
        self.runs += 1
        run_id = f"run-{self.runs}"
        proposals = []
        for contract_id in SelectContracts(self.ledger).handle(period=period, contract_ids=contract_ids):
            result = ComposeInvoice(self.ledger, self.publisher, master=self.ledger).handle(
                contract_id=contract_id, period=period, run_id=run_id, correlation_id=f"corr-{run_id}"
            )
            if result["proposal_id"]:
                proposals += PostInvoice(self.ledger, self.publisher, self.erp).handle(
                    contract_id=contract_id, correlation_id=f"corr-{run_id}"
                )
        return proposals

    def run_scenario(self, scenario: dict[str, Any]) -> dict[str, Any]:
        for step in scenario["steps"]:
            if "deliver" in step:
                deliveries = step["deliver"] if isinstance(step["deliver"], list) else [step["deliver"]]
                for event in deliveries:
                    self.deliver(event)
            elif "billing_run" in step:
                run = step["billing_run"]
                self.bill(run["period"], run.get("contracts"))
        return self.report()

    def report(self) -> dict[str, Any]:
        return build_replay_report(self.ledger.books())
