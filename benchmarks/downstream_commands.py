"""What recording the downstream commands' outcomes costs.

    python -m benchmarks.downstream_commands [--contracts 50] [--commands 200]

1. **Ledger calls per contract event**: `SyncContract` over `DynamoLedger` on moto
   (counting client), the same contracts approved twice (a first delivery, then a
   redelivery), once without connectors (the book only) and once with the `event`
   connector for the PSA and the ERP, and once with both systems answering at once
   (acknowledged). The difference per event is what the command records cost.
2. **Round trip of one command over HTTP**: `DownstreamSync` with the `http`
   connector against the local PSA server (`billbridge.local.downstream_systems`)
   on loopback, in-memory command log: median and p90 milliseconds per command,
   signature and API key checked by the server.

Figures go to `benchmarks/results/downstream_commands.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from billbridge.local.stand_in_boundary import faster_stand_ins

from benchmarks.ingest_throughput import CONFIG, contract_event
from benchmarks.ledger_scale import CountingClient

RESULTS = Path(__file__).resolve().parent / "results" / "downstream_commands.json"


class DiscardingPublisher:
    def publish(self, events: Any) -> None:
        pass


class AcknowledgingConnector:
    """Answers every command with an id at once (what a fast `http` system does)."""

    def __init__(self) -> None:
        self.sent = 0

    def send(self, command: Any) -> Any:
        from billbridge.app.ports import ConnectorReceipt

        self.sent += 1
        return ConnectorReceipt(accepted=True, reference=f"REF-{self.sent}", detail="HTTP 201")


def ledger_calls(contracts: int) -> dict[str, Any]:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    import boto3
    from billbridge.adapters.connectors.event_connector import EventBusConnector
    from billbridge.adapters.dynamo_ledger import DynamoLedger
    from billbridge.adapters.system_clock import SystemClock
    from billbridge.app.billing_config_document import billing_config_from
    from billbridge.app.downstream_sync import DownstreamSync
    from billbridge.app.event_translation import IngestedEvent
    from billbridge.app.sync_contract import SyncContract
    from billbridge.local.resources import create_ledger_table
    from moto import mock_aws

    def ingested(payload: dict[str, Any]) -> IngestedEvent:
        return IngestedEvent.from_detail(
            str(payload["type"]), {"event": payload, "correlationid": f"c-{payload['id']}"}
        )

    figures: dict[str, Any] = {}
    for variant in ("book only", "event connector", "acknowledged"):
        with mock_aws(), faster_stand_ins():
            raw = boto3.client("dynamodb")
            create_ledger_table(raw, "ledger")
            client = CountingClient(raw)
            ledger = DynamoLedger("ledger", client=client)
            ledger.save_config(billing_config_from(CONFIG))
            publisher = DiscardingPublisher()
            if variant == "book only":
                sync = SyncContract(ledger, publisher)  # type: ignore[arg-type]
            else:
                connector: Any = (
                    EventBusConnector(publisher) if variant == "event connector" else AcknowledgingConnector()
                )
                downstream = DownstreamSync(ledger, ledger.commands, SystemClock(), publisher)  # type: ignore[arg-type]
                sync = SyncContract(ledger, publisher, psa=connector, erp=connector, downstream=downstream)  # type: ignore[arg-type]
            for delivery in ("first", "redelivery"):
                before = dict(client.calls)
                started = time.perf_counter()
                for index in range(contracts):
                    sync.handle(ingested(contract_event(index)))
                elapsed = time.perf_counter() - started
                calls = {k: n - before.get(k, 0) for k, n in client.calls.items() if n - before.get(k, 0)}
                figures[f"{variant}, {delivery}"] = {
                    "calls_per_event": round(sum(calls.values()) / contracts, 2),
                    "by_operation": {k: round(n / contracts, 2) for k, n in sorted(calls.items())},
                    "ms_per_event_on_moto": round(elapsed * 1000 / contracts, 2),
                }
    return figures


def http_round_trip(commands: int) -> dict[str, Any]:
    from billbridge.adapters.connectors.connector_credentials import StaticApiKey
    from billbridge.adapters.connectors.http_connector import ConnectorEndpoint, HttpConnector
    from billbridge.adapters.memory_command_log import InMemoryCommandLog
    from billbridge.adapters.system_clock import SystemClock
    from billbridge.app.downstream_sync import DownstreamSync, PlannedCommand
    from billbridge.local.downstream_systems import local_downstream

    from tests.fakes.memory_ledger import InMemoryLedger

    timings: list[float] = []
    with local_downstream() as downstream:
        psa = downstream.psa
        connector = HttpConnector(
            endpoints={
                "psa": ConnectorEndpoint(
                    target="psa",
                    base_url=psa.url_for("psa"),
                    signing_secret=lambda: psa.signing_secret,
                    credentials=StaticApiKey(header_name="X-Api-Key", key=lambda force: psa.api_key),
                )
            }
        )
        sync = DownstreamSync(InMemoryLedger(), InMemoryCommandLog(), SystemClock())
        for index in range(commands):
            planned = PlannedCommand(
                contract_id=f"SOW-{index}",
                system="psa",
                target="psa",
                name="UpsertProject",
                idempotency_key=f"SOW-{index}-v1",
                correlation_id=f"c-{index}",
                payload={"contract_id": f"SOW-{index}", "contract_version": 1, "customer_id": "CUST-1"},
                contract_version=1,
            )
            started = time.perf_counter()
            outcome = sync.send(connector, planned)
            timings.append((time.perf_counter() - started) * 1000)
            assert outcome.state.value == "acknowledged", outcome
    timings.sort()
    return {
        "commands": commands,
        "median_ms": round(statistics.median(timings), 2),
        "p90_ms": round(timings[int(len(timings) * 0.9) - 1], 2),
    }


def run(contracts: int = 50, commands: int = 200) -> dict[str, Any]:
    return {
        "contracts": contracts,
        "ledger_calls": ledger_calls(contracts),
        "http_round_trip": http_round_trip(commands),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contracts", type=int, default=50)
    parser.add_argument("--commands", type=int, default=200)
    args = parser.parse_args()
    figures = run(args.contracts, args.commands)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
