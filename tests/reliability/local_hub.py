"""Driving the whole local stack: signed deliveries into the webhook handler (as
API Gateway would call it), the queues pumped by `drain()`, billing runs through
the state machine, and the ledger read back from DynamoDB."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from billbridge.adapters.dynamo_ledger import DynamoLedger
from billbridge.app.billing_config_document import billing_config_from
from billbridge.app.webhook_signature import sign
from billbridge.domain.model import ContractBook
from billbridge.local.scenario_replay import generate_webhook_secrets
from billbridge.local.stack import LocalStack
from billbridge.reporting.replay_report import build_replay_report
from billbridge.topology import WORKFLOWS

Payload = dict[str, Any] | list[dict[str, Any]]


@dataclass
class DeliveryTally:
    deliveries: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    accepted: list[tuple[str, str]] = field(default_factory=list)
    """(source, id) of every event answered `accepted`."""
    accepted_bodies: list[tuple[str, bytes]] = field(default_factory=list)
    """(source, raw body) of every delivery with at least one accepted event (the archive)."""

    def add(self, source: str, body: bytes, status: int, response: dict[str, Any]) -> None:
        self.deliveries += 1
        self.statuses[status] += 1
        any_accepted = False
        for outcome in response.get("outcomes", []):
            self.outcomes[outcome["outcome"]] += 1
            if outcome["outcome"] == "accepted":
                self.accepted.append((source, str(outcome["id"])))
                any_accepted = True
        if any_accepted:
            self.accepted_bodies.append((source, body))


class LocalHub:
    def __init__(self, stack: LocalStack, secrets: dict[str, list[str]], *, prefix: str = "rel") -> None:
        self.stack = stack
        self.secrets = secrets
        self.prefix = prefix
        self.clock: Callable[[], float] = time.time
        self._count = 0
        self.tally = DeliveryTally()

    @property
    def ledger(self) -> DynamoLedger:
        return DynamoLedger(self.stack.names.ledger_table, client=self.stack.client("dynamodb"))

    def configure(self, config: dict[str, Any]) -> None:
        self.ledger.save_config(billing_config_from(config))

    def signed(
        self,
        source: str,
        body: bytes,
        *,
        batch: bool,
        secret: str | None = None,
        timestamp: int | None = None,
    ) -> dict[str, str]:
        self._count += 1
        headers = sign(
            secret or self.secrets[source][0],
            f"msg_{self.prefix}_{self._count:07d}",
            int(self.clock()) if timestamp is None else timestamp,
            body,
        )
        headers["Content-Type"] = "application/cloudevents-batch+json" if batch else "application/cloudevents+json"
        return headers

    def post_raw(self, source: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        status, _, payload = self.stack.invoke_webhook(source, headers, body)
        response = json.loads(payload) if payload else {}
        self.tally.add(source, body, status, response)
        return status, response

    def post(self, payload: Payload) -> tuple[int, dict[str, Any]]:
        events = payload if isinstance(payload, list) else [payload]
        source = str(events[0]["source"])
        body = json.dumps(payload).encode()
        return self.post_raw(source, self.signed(source, body, batch=isinstance(payload, list)), body)

    def deliver_all(self, deliveries: Sequence[Payload], *, drain_every: int = 25) -> None:
        for index, payload in enumerate(deliveries, start=1):
            self.post(payload)
            if index % drain_every == 0:
                self.drain()
        self.drain()

    def drain(self) -> None:
        summary = self.stack.drain(max_rounds=10_000)
        assert not summary.exhausted, summary.as_dict()

    def bill(self, period: str, name: str, contract_ids: list[str] | None = None) -> dict[str, Any]:
        result = self.stack.start_billing_run(
            {"period": period, "contract_ids": contract_ids, "run_id": name}, name=name, timeout_seconds=600
        )
        self.drain()
        return result

    def books(self) -> list[ContractBook]:
        return self.ledger.books()

    def report(self) -> dict[str, Any]:
        return build_replay_report(self.books())

    def dead_letters(self) -> dict[str, list[dict[str, Any]]]:
        return {workflow.name: self.stack.dead_letters(workflow.name) for workflow in WORKFLOWS}

    def saves_per_correlation(self) -> Counter[str]:
        """How many saves each correlation id made (an input's own item, or a whole-book change's
        audit item)."""
        return Counter({corr: len(saves) for corr, saves in self.ledger.saves_by_correlation().items()})


@contextmanager
def local_hub(
    config: dict[str, Any] | None = None,
    *,
    secrets: dict[str, list[str]] | None = None,
    prefix: str = "rel",
    handlers: dict[str, Any] | None = None,
) -> Iterator[LocalHub]:
    webhook_secrets = secrets or generate_webhook_secrets()
    with LocalStack(secrets=webhook_secrets, handlers=handlers) as stack:
        hub = LocalHub(stack, webhook_secrets, prefix=prefix)
        if config:
            hub.configure(config)
        yield hub
