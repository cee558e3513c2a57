"""Replaying a scenario through the whole local stack.

Each delivery is signed like the vendor would sign it and posted to the local
webhook endpoint (over HTTP, on 127.0.0.1); each billing run is a state-machine
execution of the synthesized definition; the report is computed from the ledger.
"""

from __future__ import annotations

import base64
import csv
import json
import secrets as random_secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from billbridge.adapters.dynamo_ledger import DynamoLedger
from billbridge.app.billing_config_document import billing_config_from
from billbridge.app.billing_requests import execution_name
from billbridge.app.ports import RunStatus
from billbridge.app.webhook_signature import sign
from billbridge.local.http_server import LocalWebhookServer
from billbridge.local.stack import LocalStack
from billbridge.reporting.replay_report import build_replay_report
from billbridge.topology import WEBHOOK_SOURCES, WORKFLOWS


def generate_webhook_secrets() -> dict[str, list[str]]:
    """One fresh `whsec_` secret per source, as a vendor would be given."""
    return {
        source: ["whsec_" + base64.b64encode(random_secrets.token_bytes(24)).decode()] for source in WEBHOOK_SOURCES
    }


@dataclass
class DeliveryOutcome:
    step: int
    source: str
    status: int
    body: dict[str, Any]


@dataclass
class RunOutcome:
    step: int
    period: str
    name: str
    status: str
    """The execution's status (SUCCEEDED also when a contract's step failed: see `succeeded`)."""
    error: str | None = None
    failed_steps: list[str] = field(default_factory=list)
    function_errors: list[str] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)
    """Consumer batches that raised while the queues were drained after the run."""

    @property
    def succeeded(self) -> bool:
        """Every contract billed or held by a rule: the execution SUCCEEDED and no step failed."""
        return self.status == RunStatus.SUCCEEDED and not self.failed_steps and not self.crashes

    @property
    def shown_status(self) -> str:
        if self.succeeded:
            return RunStatus.SUCCEEDED
        if self.status == RunStatus.SUCCEEDED:
            return f"FAILED ({len(self.failed_steps)} failed step(s), {len(self.crashes)} crash(es))"
        return f"{self.status} ({self.error or 'no error name'})"


@dataclass
class DeadLetterOutcome:
    workflow: str
    reason: str | None
    """The consumer's stated reason (the message's `error` attribute); None when the queue's
    redrive policy moved it after its receive limit (the hub kept failing on it)."""


@dataclass
class ReplayResult:
    report: dict[str, Any]
    deliveries: list[DeliveryOutcome] = field(default_factory=list)
    runs: list[RunOutcome] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    """Deliveries answered 5xx (the handler failed)."""
    consumer_errors: list[str] = field(default_factory=list)
    """Consumer batches that raised (a crash, not a refusal or a dead-letter with a reason)."""
    dead_letters: list[DeadLetterOutcome] = field(default_factory=list)

    @property
    def failures(self) -> list[str]:
        """What went wrong on the hub's side, one line each; empty when the replay is sound."""
        lines = [f"HTTP 5xx: {e}" for e in self.server_errors]
        lines += [f"consumer crashed: {e}" for e in self.consumer_errors]
        for run in self.runs:
            if run.status != RunStatus.SUCCEEDED:
                lines.append(f"billing run {run.name}: {run.status} {run.error or ''}".rstrip())
            lines += [f"billing run {run.name}: step failed: {f}" for f in run.failed_steps]
            lines += [f"billing run {run.name}: consumer crashed: {c}" for c in run.crashes]
        lines += [
            f"dead-lettered without a stated reason in {d.workflow} (its consumer kept failing)"
            for d in self.dead_letters
            if d.reason is None
        ]
        return lines

    @property
    def dead_lettered_with_reason(self) -> dict[str, int]:
        """`workflow: reason` -> count: the senders' errors (unknown proposal, invalid content, ...)."""
        counts: dict[str, int] = {}
        for d in self.dead_letters:
            if d.reason is not None:
                key = f"{d.workflow}: {d.reason}"
                counts[key] = counts.get(key, 0) + 1
        return counts

    @property
    def refusals(self) -> list[DeliveryOutcome]:
        """Deliveries refused with a 4xx: the sender's error, reported, not a failure of the replay."""
        return [d for d in self.deliveries if 400 <= d.status < 500]


class ScenarioReplayer:
    """Drives a running LocalStack: configuration, signed deliveries, billing runs."""

    def __init__(
        self,
        stack: LocalStack,
        webhook_secrets: dict[str, list[str]],
        *,
        clock: Callable[[], float] = time.time,
        request_prefix: str = "replay",
    ) -> None:
        self.stack = stack
        self.webhook_secrets = webhook_secrets
        self.clock = clock
        self.request_prefix = request_prefix
        self.server = LocalWebhookServer(stack, "127.0.0.1", 0)
        self._deliveries = 0

    def __enter__(self) -> ScenarioReplayer:
        self.server.start_in_background()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def ledger(self) -> DynamoLedger:
        return DynamoLedger(self.stack.names.ledger_table, client=self.stack.client("dynamodb"))

    def configure(self, config: dict[str, Any]) -> None:
        with self.stack.unit_of_work():
            self.ledger.save_config(billing_config_from(config))

    def deliver(self, payload: dict[str, Any] | list[dict[str, Any]], *, step: int = 0) -> DeliveryOutcome:
        events = payload if isinstance(payload, list) else [payload]
        source = str(events[0]["source"]) if events else "clm"
        body = json.dumps(payload).encode()
        self._deliveries += 1
        message_id = f"msg_{self.request_prefix}_{self._deliveries:06d}"
        headers = sign(self.webhook_secrets[source][0], message_id, int(self.clock()), body)
        headers["Content-Type"] = (
            "application/cloudevents-batch+json" if isinstance(payload, list) else "application/cloudevents+json"
        )
        request = urllib.request.Request(
            f"{self.server.url}/webhooks/{source}", data=body, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, text = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read()
        try:
            parsed = json.loads(text) if text else {}
        except ValueError:
            parsed = {"raw": text.decode(errors="replace")}
        return DeliveryOutcome(step=step, source=source, status=status, body=parsed)

    def bill(self, period: str, contract_ids: list[str] | None = None, *, request_id: str) -> RunOutcome:
        name = execution_name(period, contract_ids, request_id)
        with self.stack.unit_of_work():
            result = self.stack.start_billing_run(
                {"period": period, "contract_ids": contract_ids or None, "run_id": name}, name=name
            )
            drained = self.stack.drain()
        return RunOutcome(
            step=0,
            period=period,
            name=name,
            status=str(result["status"]),
            error=result.get("error"),
            failed_steps=list(result.get("failed_steps", [])),
            function_errors=list(result.get("function_errors", [])),
            crashes=drained.errors,
        )

    def run(self, scenario: dict[str, Any], *, progress: Callable[[int, int, str], None] | None = None) -> ReplayResult:
        """Replay every step; `progress(done, total, stage)` is called after each (a progress bar)."""
        if scenario.get("config"):
            self.configure(scenario["config"])
        result = ReplayResult(report={})
        steps = scenario.get("steps", [])
        for index, step in enumerate(steps, start=1):
            if progress is not None:
                progress(index - 1, len(steps), "billing run" if "billing_run" in step else "delivery")
            if "deliver" in step:
                result.deliveries.append(self.deliver(step["deliver"], step=index))
            elif "billing_run" in step:
                run = step["billing_run"]
                outcome = self.bill(
                    str(run["period"]),
                    run.get("contracts") or run.get("contract_ids"),
                    request_id=f"{self.request_prefix}-step-{index}",
                )
                outcome.step = index
                result.runs.append(outcome)
        if progress is not None:
            progress(len(steps), len(steps), "report")
        self.finish(result)
        return result

    def finish(self, result: ReplayResult) -> None:
        """Fill the report and what went wrong: 5xx answers, consumer crashes, dead letters."""
        result.report = self.report()
        result.server_errors = list(self.server.server_errors)
        result.consumer_errors = list(self.server.consumer_errors)
        with self.stack.unit_of_work():
            for workflow in WORKFLOWS:
                for message in self.stack.dead_letters(workflow.name):
                    error = message.get("messageAttributes", {}).get("error", {}).get("StringValue")
                    result.dead_letters.append(DeadLetterOutcome(workflow.name, str(error) if error else None))

    def report(self) -> dict[str, Any]:
        with self.stack.unit_of_work():
            return build_replay_report(self.ledger.books())


def legacy_differences(report: dict[str, Any], legacy_csv: Path) -> list[dict[str, str]]:
    """Compare invoice totals per (contract, period) with a legacy system's CSV
    (`contract_id,period,total`): the parallel-run check finance relies on."""
    ours: dict[tuple[str, str], Decimal] = {}
    for invoice in report["invoices"]:
        if invoice["status"] == "rejected":
            continue
        key = (invoice["contract_id"], invoice["period"])
        ours[key] = ours.get(key, Decimal(0)) + Decimal(invoice["total"])
    theirs: dict[tuple[str, str], Decimal] = {}
    with legacy_csv.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            key = (row["contract_id"].strip(), row["period"].strip())
            theirs[key] = theirs.get(key, Decimal(0)) + Decimal(row["total"].strip())
    differences = []
    for key in sorted(set(ours) | set(theirs)):
        hub, legacy = ours.get(key), theirs.get(key)
        if hub != legacy:
            differences.append(
                {
                    "contract_id": key[0],
                    "period": key[1],
                    "billbridge": "-" if hub is None else str(hub),
                    "legacy": "-" if legacy is None else str(legacy),
                    "difference": str((hub or Decimal(0)) - (legacy or Decimal(0))),
                }
            )
    return differences
