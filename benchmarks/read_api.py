"""The read API over a DynamoDB ledger (moto): milliseconds and DynamoDB calls per request.

    python -m benchmarks.read_api [--copies 50] [--runs 5]

The customer-master scenario (6 contracts with invoices, exceptions, unbilled
work and downstream commands) is replayed `copies` times through the use cases
into a DynamoDB ledger on moto (ids renamed per copy: 6 x copies contracts).
Then each read route is called through the handler (Powertools resolver,
pydantic models, `ReadQueries` over `DynamoLedger`) `runs` times; figures are
the median wall time per request (moto's in-process DynamoDB, so latency of
the real service is not in it) and the DynamoDB calls the request made (every
boto3 call is counted), which is what the request costs on AWS.
Writes `benchmarks/results/read_api.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "read_api.json"
SCENARIO = Path(__file__).resolve().parents[1] / "tests" / "scenarios" / "07-customer-master.json"
TABLE = "billbridge-bench-ledger"


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    """The moto credentials and a quiet metrics setup for the run, the caller's environment restored after."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def counted_calls() -> Iterator[Counter[str]]:
    from botocore.client import BaseClient

    calls: Counter[str] = Counter()
    original = BaseClient._make_api_call

    def counting(self: Any, operation_name: str, api_params: Any) -> Any:
        calls[f"{self.meta.service_model.service_name}:{operation_name}"] += 1
        return original(self, operation_name, api_params)

    BaseClient._make_api_call = counting  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


def copy_of_scenario(text: str, copy: int) -> dict[str, Any]:
    """The scenario with every id of the copy made unique (contracts, customers, entries, events)."""
    renamed = text.replace("-7", f"-{copy:03d}7").replace('"id": "', f'"id": "c{copy:03d}-')
    document: dict[str, Any] = json.loads(renamed)
    return document


def load_ledger(copies: int) -> Any:
    import boto3
    from billbridge.adapters.dynamo_ledger import DynamoLedger
    from billbridge.app.billing_config_document import billing_config_from
    from billbridge.app.downstream_sync import DownstreamSync
    from billbridge.local.resources import create_ledger_table

    from tests.fakes.hub import CoreHub

    client = boto3.client("dynamodb")
    create_ledger_table(client, TABLE)
    ledger = DynamoLedger(TABLE, client=client)
    text = SCENARIO.read_text(encoding="utf-8")
    for copy in range(copies):
        scenario = copy_of_scenario(text, copy)
        hub = CoreHub(scenario.get("config"))
        hub.ledger = ledger  # type: ignore[assignment]
        hub.commands = ledger.commands  # type: ignore[assignment]
        hub.downstream = DownstreamSync(ledger, ledger.commands, hub.clock, hub.publisher)
        ledger.save_config(billing_config_from(scenario.get("config") or {}))
        for step in scenario["steps"]:
            if "deliver" in step:
                for event in step["deliver"] if isinstance(step["deliver"], list) else [step["deliver"]]:
                    hub.deliver(event)
            elif "billing_run" in step:
                run = step["billing_run"]
                contracts = run.get("contracts") or [
                    cid for cid in ledger.contract_ids() if cid.startswith(f"SOW-{copy:03d}7")
                ]
                hub.bill(run["period"], contracts)
    return ledger


def run(copies: int = 50, runs: int = 5) -> dict[str, Any]:
    with _environment(
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        POWERTOOLS_METRICS_NAMESPACE="Billbridge",
        POWERTOOLS_METRICS_DISABLED="true",
    ):
        return _measure(copies, runs)


def _measure(copies: int, runs: int) -> dict[str, Any]:
    from billbridge.adapters.system_clock import SystemClock
    from billbridge.entrypoints.api.read_api import handle_read_request
    from billbridge.reporting.read_queries import ReadQueries
    from moto import mock_aws

    from tests.unit.read_api.conftest import proxy_event

    with mock_aws():
        started = time.perf_counter()
        ledger = load_ledger(copies)
        loaded_in = time.perf_counter() - started
        queries = ReadQueries(ledger, SystemClock())

        def call(path: str, query: dict[str, Any] | None = None) -> dict[str, Any]:
            response = handle_read_request(proxy_event(path, query), None, queries=queries)
            assert response["statusCode"] == 200, (path, response["body"][:200])
            body: dict[str, Any] = json.loads(response["body"])
            return body

        contracts = ledger.contract_ids()
        invoices = call("/invoices", {"limit": 1})["items"]
        proposal = invoices[0]["proposal_id"]
        third_page = call("/contracts", {"limit": 50})["next_cursor"]
        requests: dict[str, tuple[str, dict[str, Any] | None]] = {
            "GET /contracts?limit=50": ("/contracts", {"limit": 50}),
            "GET /contracts?limit=50 (second page)": ("/contracts", {"limit": 50, "cursor": third_page}),
            "GET /contracts/{contract_id}": (f"/contracts/{contracts[0]}", None),
            "GET /invoices?limit=50": ("/invoices", {"limit": 50}),
            "GET /invoices?status=proposed&limit=50": ("/invoices", {"status": "proposed", "limit": 50}),
            "GET /invoices?contract_id=...": ("/invoices", {"contract_id": contracts[0]}),
            "GET /invoices/{proposal_id}": (f"/invoices/{proposal}", None),
            "GET /exceptions?type=unknown_customer&limit=50": (
                "/exceptions",
                {"type": "unknown_customer", "limit": 50},
            ),
            "GET /lineage/{proposal_id}": (f"/lineage/{proposal}", None),
            "GET /unbilled?limit=50": ("/unbilled", {"limit": 50}),
            "GET /kpis": ("/kpis", None),
        }
        figures: dict[str, Any] = {}
        for name, (path, query) in requests.items():
            times = []
            for _ in range(runs):
                with counted_calls() as calls:
                    began = time.perf_counter()
                    body = call(path, query)
                    times.append((time.perf_counter() - began) * 1000)
            figures[name] = {
                "median_ms": round(statistics.median(times), 1),
                "dynamodb_calls": sum(v for k, v in calls.items() if k.startswith("dynamodb:")),
                "items": len(body.get("items", [])) if isinstance(body.get("items"), list) else None,
            }
    return {
        "copies": copies,
        "contracts": len(contracts),
        "runs": runs,
        "ledger_loaded_in_s": round(loaded_in, 1),
        "requests": figures,
    }


def markdown(figures: dict[str, Any]) -> str:
    rows = [
        f"| `{name}` | {f['median_ms']} | {f['dynamodb_calls']} | {'' if f['items'] is None else f['items']} |"
        for name, f in figures["requests"].items()
    ]
    return "\n".join(
        [
            f"{figures['contracts']} contracts (the customer-master scenario x {figures['copies']}), "
            f"median of {figures['runs']} requests each, DynamoDB on moto:",
            "",
            "| request | ms | DynamoDB calls | items |",
            "|---|---|---|---|",
            *rows,
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    figures = run(copies=args.copies, runs=args.runs)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(markdown(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
