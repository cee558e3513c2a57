"""The hub's use cases, driven in bulk on one ledger: what the queue consumers and the
billing workflow's tasks do, without the transport around them.

- A canonical event goes to the use case its consumer calls (SyncContract,
  RecordActuals, RecordFeedback); an error of the input itself (the consumers'
  PERMANENT_ERRORS) is dead-lettered with its reason, as the consumer would.
- A billing run selects the contracts, then per contract composes the invoice and
  posts it (ComposeInvoice, PostInvoice); a contract whose step fails is held
  with RecordBillingFailure, as the workflow's Catch does, and the run is FAILED.
- Scenario deliveries are validated and de-duplicated by (source, id) as the
  webhook receiver does (same model, same digest), with the same outcomes.
"""

from __future__ import annotations

import json
import traceback
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from billbridge.adapters.connectors.event_connector import EventBusConnector
from billbridge.adapters.memory_command_log import InMemoryCommandLog
from billbridge.adapters.system_clock import SystemClock
from billbridge.app.billing_requests import execution_name
from billbridge.app.canonical_events import InvalidEventError, validate_cloud_event
from billbridge.app.customer_master import MasterDataStore
from billbridge.app.downstream_sync import DownstreamSync
from billbridge.app.event_translation import IngestedEvent
from billbridge.app.ingest_webhook import MAX_EVENT_BYTES, canonical_digest
from billbridge.app.ledger import Ledger
from billbridge.app.ports import OutboundEvent, RunStatus
from billbridge.app.record_actuals import RecordActuals
from billbridge.app.record_feedback import RecordFeedback
from billbridge.app.run_billing import ComposeInvoice, PostInvoice, RecordBillingFailure, SelectContracts
from billbridge.app.sync_contract import SyncContract
from billbridge.app.system_of_record import SystemsOfRecord
from billbridge.entrypoints.queues.sqs_consumer import PERMANENT_ERRORS
from billbridge.topology import ACTUALS_EVENT_TYPES, CONTRACT_EVENT_TYPES, CUSTOMER_EVENT_TYPES

SCENARIO_REQUEST_PREFIX = "replay"
"""The full-stack replay names billing runs `replay-step-N`: the same names give the same run ids."""


class CountingPublisher:
    """The bus, for a run with no subscribers: what was published, counted by detail type."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def publish(self, events: Sequence[OutboundEvent]) -> None:
        for event in events:
            self.counts[event.detail_type] += 1


@dataclass
class DeadLetter:
    event_type: str
    source_ref: str
    error: str
    where: str = ""

    def as_json(self) -> dict[str, str]:
        return {"event_type": self.event_type, "source_ref": self.source_ref, "error": self.error, "where": self.where}


@dataclass
class BillingRunOutcome:
    period: str
    run_id: str
    status: str
    contracts: int
    proposals: list[str] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "run_id": self.run_id,
            "status": self.status,
            "contracts": self.contracts,
            "proposals": len(self.proposals),
            "failures": self.failures,
        }


@dataclass
class DeliveryCounts:
    accepted: int = 0
    duplicate: int = 0
    conflict: int = 0
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)


class BulkHub:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.publisher = CountingPublisher()
        connector = EventBusConnector(self.publisher)
        master = cast(MasterDataStore, ledger) if hasattr(ledger, "master_versions") else None
        self.commands = InMemoryCommandLog()
        downstream = DownstreamSync(ledger, self.commands, SystemClock(), self.publisher)
        self.sync_contract = SyncContract(
            ledger, self.publisher, psa=connector, erp=connector, downstream=downstream, master=master
        )
        self.record_actuals = RecordActuals(ledger, self.publisher)
        self.record_feedback = RecordFeedback(ledger, self.publisher)
        self.select_contracts = SelectContracts(ledger)
        self.compose_invoice = ComposeInvoice(ledger, self.publisher, master=master)
        self.post_invoice = PostInvoice(ledger, self.publisher, connector)
        self.record_failure = RecordBillingFailure(ledger, self.publisher)
        self.systems_of_record = SystemsOfRecord.default()
        self.dead_letters: list[DeadLetter] = []
        self.runs: list[BillingRunOutcome] = []
        self.deliveries = DeliveryCounts()
        self._claims: dict[tuple[str, str], str] = {}
        self._minted = 0

    # --- consumers --------------------------------------------------------------------------

    def consume(self, event: IngestedEvent, *, where: str = "") -> bool:
        """What the event's queue consumer does; False if it was dead-lettered."""
        try:
            if event.event_type in CONTRACT_EVENT_TYPES + CUSTOMER_EVENT_TYPES:
                self.sync_contract.handle(event)
            elif event.event_type in ACTUALS_EVENT_TYPES:
                self.record_actuals.handle(event)
            else:
                self.record_feedback.handle(event)
        except PERMANENT_ERRORS as error:
            self.dead_letters.append(
                DeadLetter(event.event_type, event.source_ref, f"{type(error).__name__}: {error}", where)
            )
            return False
        return True

    # --- the webhook edge, for scenario deliveries --------------------------------------------

    def deliver(self, payload: dict[str, Any] | list[dict[str, Any]]) -> None:
        """A scenario's delivery: one CloudEvent or a batch, to `/webhooks/{source of the first}`."""
        events = payload if isinstance(payload, list) else [payload]
        source = str(events[0].get("source")) if events and isinstance(events[0], dict) else "clm"
        for raw in events:
            try:
                validated = validate_cloud_event(raw, expected_source=source)
                event = validated.envelope
                size = len(json.dumps(raw, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
                if size > MAX_EVENT_BYTES:
                    raise InvalidEventError(f"the event is {size} bytes; at most {MAX_EVENT_BYTES} are accepted")
                refusal = self.systems_of_record.refusal(source, event.type)
                if refusal is not None:
                    raise InvalidEventError(
                        f"refused by the rule {self.systems_of_record.rule_name(event.type)} ({refusal})"
                    )
            except InvalidEventError as invalid:
                self.deliveries.rejected += 1
                self.deliveries.reasons.append(str(invalid))
                continue
            digest = canonical_digest(raw)
            seen = self._claims.get((source, event.id))
            if seen is not None:
                if seen == digest:
                    self.deliveries.duplicate += 1
                else:
                    self.deliveries.conflict += 1
                    self.deliveries.reasons.append(
                        f"event {event.id!r} of {source!r} delivered again with another body"
                    )
                continue
            self._claims[(source, event.id)] = digest
            self.deliveries.accepted += 1
            self._minted += 1
            correlation_id = event.correlationid or f"corr-{self._minted:06d}"
            self.consume(
                IngestedEvent(
                    event_type=event.type,
                    data=validated.data,
                    correlation_id=correlation_id,
                    source=event.source,
                    event_id=event.id,
                    subject=event.subject,
                ),
                where=f"{source}:{event.id}",
            )

    # --- the billing workflow -----------------------------------------------------------------

    def bill(self, period: str, contract_ids: list[str] | None, *, request_id: str) -> BillingRunOutcome:
        run_id = execution_name(period, contract_ids, request_id)
        correlation_id = f"billing-run-{run_id}"
        selected = self.select_contracts.handle(period=period, contract_ids=contract_ids or None)
        outcome = BillingRunOutcome(period=period, run_id=run_id, status=RunStatus.SUCCEEDED, contracts=len(selected))
        for contract_id in selected:
            try:
                composed = self.compose_invoice.handle(
                    contract_id=contract_id, period=period, run_id=run_id, correlation_id=correlation_id
                )
                if composed["proposal_id"]:
                    outcome.proposals += self.post_invoice.handle(
                        contract_id=contract_id, correlation_id=correlation_id
                    )
            except Exception as error:  # the workflow's Catch: hold the contract, report the run as failed
                cause = json.dumps(
                    {
                        "errorMessage": str(error),
                        "errorType": type(error).__name__,
                        "stackTrace": traceback.format_exception(error),
                    }
                )
                self.record_failure.handle(
                    contract_id=contract_id,
                    period=period,
                    error=type(error).__name__,
                    cause=cause,
                    correlation_id=correlation_id,
                )
                outcome.status = RunStatus.FAILED
                outcome.failures.append(
                    {
                        "contract_id": contract_id,
                        "error": type(error).__name__,
                        "message": str(error),
                        "traceback": "".join(traceback.format_exception(error)),
                    }
                )
        self.runs.append(outcome)
        return outcome

    def run_scenario(self, scenario: dict[str, Any]) -> None:
        """A scenario's steps in order, billing runs named as the full-stack replay names them."""
        for index, step in enumerate(scenario.get("steps", []), start=1):
            if "deliver" in step:
                self.deliver(step["deliver"])
            elif "billing_run" in step:
                run = step["billing_run"]
                self.bill(
                    str(run["period"]),
                    run.get("contracts") or run.get("contract_ids"),
                    request_id=f"{SCENARIO_REQUEST_PREFIX}-step-{index}",
                )
