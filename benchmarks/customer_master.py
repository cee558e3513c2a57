"""What enforcing the customer master costs the billing run, per contract.

    python -m benchmarks.customer_master [--contracts N --entries E]

Two measurements, each with the master not enforced and enforced (every
customer known, one in three holding a tax exemption; the legal entity in the
legal-entity master):

- `compose_ms`: wall time of ComposeInvoice per contract on the in-memory
  ledger (the rules and the use case, no AWS), median of 5 runs over N
  contracts of E time entries each;
- `dynamodb_calls`: DynamoDB calls ComposeInvoice makes per contract on the
  DynamoDB ledger (moto), by operation, counted at the client.

Figures are written to benchmarks/README.md by hand from the printed JSON
(see "Customer master" there); nothing here is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections import Counter
from typing import Any

from billbridge.app.billing_config_document import billing_config_from
from billbridge.app.event_translation import IngestedEvent
from billbridge.app.record_actuals import RecordActuals
from billbridge.app.run_billing import ComposeInvoice
from billbridge.app.sync_contract import SyncContract

PERIOD = "2026-03"


def config(enforced: bool) -> dict[str, Any]:
    return {
        "tax_rates": [{"jurisdiction": "US-NY", "rate": "0.08875", "effective_from": "2020-01-01"}],
        "legal_entities": [{"legal_entity": "US01", "erp_instance": "erp-us"}],
        **({"customer_master": {"enforced": True, "grace_days": 30}} if enforced else {}),
    }


def events(contracts: int, entries: int) -> list[IngestedEvent]:
    made: list[IngestedEvent] = []

    def event(event_type: str, source: str, event_id: str, data: dict[str, Any]) -> None:
        made.append(IngestedEvent(event_type, data, f"corr-{event_id}", source, event_id))

    event(
        "legal_entity.upserted",
        "erp",
        "le-1",
        {
            "legal_entity": "US01",
            "version": 1,
            "effective_date": "2020-01-01",
            "name": "US entity",
            "erp_instance": "erp-us",
            "country": "US",
            "functional_currency": "USD",
        },
    )
    for c in range(contracts):
        exemption = {"certificate_id": f"EX-{c}", "valid_from": "2026-01-01"} if c % 3 == 0 else None
        event(
            "customer.upserted",
            "erp",
            f"cust-{c}",
            {
                "customer_id": f"CUST-{c}",
                "version": 1,
                "effective_date": "2026-01-01",
                "name": f"Customer {c}",
                "status": "active",
                "bill_to": {"country": "US"},
                "tax_profile": {"jurisdiction": "US-NY", **({"exemption": exemption} if exemption else {})},
                "currency": "USD",
                "payment_terms": {"net_days": 30},
                "erp_customer_ids": [{"erp_instance": "erp-us", "customer_id": f"C-{c}"}],
            },
        )
        event(
            "contract.approved",
            "clm",
            f"sow-{c}",
            {
                "contract_id": f"SOW-{c}",
                "version": 1,
                "effective_date": "2026-01-01",
                "customer_id": f"CUST-{c}",
                "legal_entity": "US01",
                "currency": "USD",
                "tax_jurisdiction": "US-NY",
                "start_date": "2026-01-01",
                "end_date": "2026-12-31",
                "rate_card": [{"role": "consultant", "rate": "150.00"}],
            },
        )
        for e in range(entries):
            event(
                "time_entry.approved",
                "psa",
                f"te-{c}-{e}",
                {
                    "entry_id": f"TE-{c}-{e}",
                    "revision": 1,
                    "contract_id": f"SOW-{c}",
                    "resource_id": "EMP-1",
                    "role": "consultant",
                    "billable": True,
                    "work_date": f"2026-03-{1 + e % 28:02d}",
                    "hours": "4",
                },
            )
    return made


class NullPublisher:
    def publish(self, events: Any) -> None:
        return None


def load(ledger: Any, inputs: list[IngestedEvent]) -> None:
    sync = SyncContract(ledger, NullPublisher(), master=ledger)
    actuals = RecordActuals(ledger, NullPublisher())
    for event in inputs:
        (actuals if event.event_type == "time_entry.approved" else sync).handle(event)


def compose_all(ledger: Any, contracts: int) -> float:
    compose = ComposeInvoice(ledger, NullPublisher(), master=ledger)
    started = time.perf_counter()
    for c in range(contracts):
        compose.handle(contract_id=f"SOW-{c}", period=PERIOD, run_id="bench", correlation_id="corr-bench")
    return time.perf_counter() - started


def compose_ms(contracts: int, entries: int, enforced: bool, runs: int = 5) -> float:
    from tests.fakes.memory_ledger import InMemoryLedger

    inputs = events(contracts, entries)
    timings = []
    for _ in range(runs):
        ledger = InMemoryLedger(billing_config_from(config(enforced)))
        load(ledger, inputs)
        timings.append(compose_all(ledger, contracts) * 1000 / contracts)
    return round(statistics.median(timings), 3)


class CountingClient:
    """A boto3 client that counts its calls by operation."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: Counter[str] = Counter()
        self.counting = False

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._client, name)
        if not callable(target) or name.startswith("_") or name in ("get_paginator", "meta"):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.counting:
                self.calls[name] += 1
            return target(*args, **kwargs)

        return call


def dynamodb_calls(contracts: int, entries: int, enforced: bool) -> dict[str, float]:
    import boto3
    from billbridge.adapters.dynamo_ledger import DynamoLedger
    from billbridge.local import resources
    from moto import mock_aws

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        raw = boto3.client("dynamodb", region_name="us-east-1")
        names = resources.LocalNames()
        resources.create_tables(raw, names)
        client = CountingClient(raw)
        ledger = DynamoLedger(names.ledger_table, client=client)
        ledger.save_config(billing_config_from(config(enforced)))
        load(ledger, events(contracts, entries))
        client.counting = True
        compose_all(ledger, contracts)
    return {operation: round(count / contracts, 2) for operation, count in sorted(client.calls.items())}


def run(contracts: int = 200, entries: int = 20) -> dict[str, Any]:
    return {
        "contracts": contracts,
        "entries_per_contract": entries,
        "compose_ms_not_enforced": compose_ms(contracts, entries, enforced=False),
        "compose_ms_enforced": compose_ms(contracts, entries, enforced=True),
        "dynamodb_calls_not_enforced": dynamodb_calls(min(contracts, 50), entries, enforced=False),
        "dynamodb_calls_enforced": dynamodb_calls(min(contracts, 50), entries, enforced=True),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=200)
    parser.add_argument("--entries", type=int, default=20)
    args = parser.parse_args()
    print(json.dumps(run(args.contracts, args.entries), indent=2))


if __name__ == "__main__":
    main()
