"""A generated scenario: several contracts in two currencies, billed in one run.

One run bills every contract through the Map at its deployed concurrency, so the
contracts' task functions run on parallel branches: the case that broke the
local stack's determinism.
"""

from __future__ import annotations

from typing import Any

from tests.scenarios.catalog import load_scenario

CURRENCIES = (
    {"currency": "USD", "legal_entity": "US01", "tax_jurisdiction": "US-NY"},
    {"currency": "EUR", "legal_entity": "DE01", "tax_jurisdiction": "DE"},
)


def _event(event_id: str, source: str, event_type: str, data: dict[str, Any], subject: str) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": event_type,
        "time": "2026-03-31T18:00:00Z",
        "datacontenttype": "application/json",
        "data": data,
        "subject": subject,
    }


def multi_contract_scenario(
    contracts: int = 6, entries_per_contract: int = 3, period: str = "2026-03"
) -> dict[str, Any]:
    base, _ = load_scenario("01-time-and-materials")
    steps: list[dict[str, Any]] = []
    for n in range(1, contracts + 1):
        contract_id = f"SOW-MC-{n:02d}"
        money = CURRENCIES[n % len(CURRENCIES)]
        steps.append(
            {
                "deliver": _event(
                    f"clm-mc-{n:02d}",
                    "clm",
                    "contract.approved",
                    {
                        "contract_id": contract_id,
                        "version": 1,
                        "effective_date": "2026-01-01",
                        "customer_id": f"CUST-MC-{n:02d}",
                        **money,
                        "start_date": "2026-01-01",
                        "end_date": "2026-12-31",
                        "rate_card": [
                            {"role": "consultant", "rate": f"{100 + 5 * n}.00"},
                            {"role": "architect", "rate": f"{180 + 7 * n}.50"},
                        ],
                    },
                    contract_id,
                )
            }
        )
        for e in range(1, entries_per_contract + 1):
            entry_id = f"TE-MC-{n:02d}-{e}"
            steps.append(
                {
                    "deliver": _event(
                        f"psa-mc-{n:02d}-{e}",
                        "psa",
                        "time_entry.approved",
                        {
                            "entry_id": entry_id,
                            "revision": 1,
                            "contract_id": contract_id,
                            "resource_id": f"EMP-{e}",
                            "role": "architect" if e % 2 else "consultant",
                            "billable": True,
                            "work_date": f"{period}-{10 + e:02d}",
                            "hours": f"{e + n % 3}.25",
                        },
                        entry_id,
                    )
                }
            )
    steps.append({"billing_run": {"period": period}})
    return {"name": f"{contracts} contracts, two currencies, one run", "config": base["config"], "steps": steps}
