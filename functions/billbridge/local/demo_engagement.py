"""The built-in engagement the demo replays.

A multinational consulting firm (US and German entities) runs a managed-service
engagement for a manufacturing client: a monthly managed-service fee starting
mid-January, onboarding and go-live milestones, T&M change requests, a rate
amendment in the middle of February, travel expenses (one in the wrong
currency), a timesheet for an unknown role, and the ERP's invoice and payment
feedback, over three months. Steps are plain scenario steps, plus
`erp_feedback` steps that the demo answers from the invoices proposed so far
(as the ERP would: an invoice number, then a payment).

It starts from customer master data (`customer_master_steps`, its own first
step): the ERP, the customers' system of record, sends the firm's legal
entities and the two customers before any contract; the configuration enforces
the master, so every contract is checked against it (docs/spec/billing.md,
"Customer master"); the invoices are those of the engagement without it.
"""

from __future__ import annotations

from typing import Any

CONTRACT_ID = "SOW-GLX-2026-01"
CR_CONTRACT_ID = "SOW-GLX-DE-7"

CONFIG: dict[str, Any] = {
    "tax_rates": [
        {"jurisdiction": "US-NY", "rate": "0.08875", "effective_from": "2020-01-01"},
        {"jurisdiction": "DE", "rate": "0.19", "effective_from": "2020-01-01"},
    ],
    "legal_entities": [
        {"legal_entity": "US01", "erp_instance": "erp-us"},
        {"legal_entity": "DE01", "erp_instance": "erp-eu"},
    ],
    "customer_master": {"enforced": True, "grace_days": 30},
}


# --- step 1: customer master data (ERP) ----------------------------------------------------------


def _legal_entity(event_id: str, entity: str, name: str, erp: str, country: str, currency: str) -> dict[str, Any]:
    data = {
        "legal_entity": entity,
        "version": 1,
        "effective_date": "2020-01-01",
        "name": name,
        "erp_instance": erp,
        "country": country,
        "functional_currency": currency,
    }
    return _event(event_id, "erp", "legal_entity.upserted", data, entity)


def _customer(
    event_id: str,
    customer_id: str,
    name: str,
    *,
    currency: str,
    erp: str,
    erp_id: str,
    address: dict[str, str],
    **extra: Any,
) -> dict[str, Any]:
    data = {
        "customer_id": customer_id,
        "version": 1,
        "effective_date": "2025-10-01",
        "name": name,
        "status": "active",
        "bill_to": address,
        "tax_profile": {"jurisdiction": "US-NY" if address["country"] == "US" else address["country"]},
        "currency": currency,
        "payment_terms": {"net_days": 30},
        "erp_customer_ids": [{"erp_instance": erp, "customer_id": erp_id}],
        **extra,
    }
    return _event(event_id, "erp", "customer.upserted", data, customer_id)


def customer_master_steps() -> list[dict[str, Any]]:
    """The firm's legal entities and the client's two accounts (a parent and its German subsidiary)."""
    return [
        {
            "deliver": [
                _legal_entity("erp-le-us01", "US01", "Northwind Consulting US LLC", "erp-us", "US", "USD"),
                _legal_entity("erp-le-de01", "DE01", "Northwind Consulting GmbH", "erp-eu", "DE", "EUR"),
            ]
        },
        {
            "deliver": [
                _customer(
                    "erp-cust-globex",
                    "CUST-GLOBEX",
                    "Globex Manufacturing Inc.",
                    currency="USD",
                    erp="erp-us",
                    erp_id="C-US-40117",
                    address={"line1": "200 Park Avenue", "city": "New York", "postal_code": "10166", "country": "US"},
                    crm_account_id="ACC-GLOBEX",
                    psa_client_id="CLIENT-GLOBEX",
                ),
                _customer(
                    "erp-cust-globex-de",
                    "CUST-GLOBEX-DE",
                    "Globex Fertigung GmbH",
                    currency="EUR",
                    erp="erp-eu",
                    erp_id="D-20455",
                    address={"line1": "Hafenstrasse 12", "city": "Hamburg", "postal_code": "20457", "country": "DE"},
                    parent_customer_id="CUST-GLOBEX",
                    psa_client_id="CLIENT-GLOBEX-DE",
                ),
            ]
        },
    ]


def _contract(version: int, effective: str, consultant_rate: str, architect_rate: str, **extra: Any) -> dict[str, Any]:
    return {
        "contract_id": CONTRACT_ID,
        "version": version,
        "effective_date": effective,
        "customer_id": "CUST-GLOBEX",
        "legal_entity": "US01",
        "currency": "USD",
        "tax_jurisdiction": "US-NY",
        "start_date": "2026-01-12",
        "end_date": "2026-12-31",
        "rate_card": [
            {"role": "consultant", "rate": consultant_rate},
            {"role": "architect", "rate": architect_rate},
            {"resource_id": "EMP-PRINCIPAL-1", "rate": "295.00"},
        ],
        "cap_amount": "60000.00",
        "milestones": [
            {"milestone_id": "ONB-1", "name": "Onboarding complete", "amount": "12000.00"},
            {"milestone_id": "GOLIVE", "name": "Go-live", "amount": "18000.00"},
        ],
        "recurring_fees": [
            {
                "fee_id": "MS-FEE",
                "description": "Managed service",
                "amount": "9300.00",
                "frequency": "monthly",
                "start_date": "2026-01-15",
                "end_date": None,
            }
        ],
        "expense_policy": {"billable_categories": ["travel", "lodging"], "markup_pct": "0.05"},
        "cost_centers": ["CC-DELIVERY", "CC-CHANGE"],
        "billing_contact": {"name": "Accounts Payable", "email": "ap@globex.example"},
        **extra,
    }


def _event(
    event_id: str, source: str, event_type: str, data: dict[str, Any], subject: str | None = None
) -> dict[str, Any]:
    event = {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": event_type,
        "time": "2026-01-01T09:00:00Z",
        "datacontenttype": "application/json",
        "data": data,
    }
    if subject:
        event["subject"] = subject
    return event


def _time(
    event_id: str,
    entry_id: str,
    resource: str,
    role: str,
    days: list[tuple[str, str]],
    *,
    contract: str = CONTRACT_ID,
    cost_center: str = "CC-DELIVERY",
    revision: int = 1,
) -> dict[str, Any]:
    return _event(
        event_id,
        "psa",
        "time_entry.approved",
        {
            "entry_id": entry_id,
            "revision": revision,
            "contract_id": contract,
            "resource_id": resource,
            "role": role,
            "billable": True,
            "cost_center": cost_center,
            "days": [{"date": d, "hours": h} for d, h in days],
        },
        subject=entry_id,
    )


def first_contract_approval() -> dict[str, Any]:
    """The engagement's first `contract.approved` delivery (after the customer master steps)."""
    return next(
        step["deliver"]
        for step in engagement()["steps"]
        if isinstance(step.get("deliver"), dict) and step["deliver"]["type"] == "contract.approved"
    )


def engagement() -> dict[str, Any]:
    week = lambda start_day, month="01": [(f"2026-{month}-{int(start_day) + i:02d}", "8") for i in range(5)]  # noqa: E731
    steps: list[dict[str, Any]] = [
        *customer_master_steps(),
        {
            "deliver": _event(
                "clm-glx-1",
                "clm",
                "contract.approved",
                _contract(1, "2026-01-12", "165.00", "220.00"),
                CONTRACT_ID,
            )
        },
        {
            "deliver": [
                _time("psa-glx-1", "TS-1001", "EMP-11", "consultant", week(12)),
                _time(
                    "psa-glx-2",
                    "TS-1002",
                    "EMP-PRINCIPAL-1",
                    "architect",
                    [("2026-01-13", "6"), ("2026-01-14", "6")],
                ),
                _time("psa-glx-3", "TS-1003", "EMP-12", "data scientist", [("2026-01-15", "7")]),
            ]
        },
        {
            "deliver": _event(
                "psa-glx-4",
                "psa",
                "milestone.completed",
                {"contract_id": CONTRACT_ID, "milestone_id": "ONB-1", "completed_on": "2026-01-30"},
            )
        },
        {
            "deliver": _event(
                "psa-glx-5",
                "psa",
                "expense.approved",
                {
                    "expense_id": "EXP-501",
                    "contract_id": CONTRACT_ID,
                    "date": "2026-01-14",
                    "category": "travel",
                    "amount": "1240.00",
                    "currency": "USD",
                    "billable": True,
                    "cost_center": "CC-DELIVERY",
                },
            )
        },
        {
            "deliver": _event(
                "psa-glx-6",
                "psa",
                "expense.approved",
                {
                    "expense_id": "EXP-502",
                    "contract_id": CONTRACT_ID,
                    "date": "2026-01-22",
                    "category": "lodging",
                    "amount": "610.00",
                    "currency": "EUR",
                    "billable": True,
                    "cost_center": "CC-DELIVERY",
                },
            )
        },
        {"billing_run": {"period": "2026-01"}},
        {"erp_feedback": {"pay": True}},
        # February: a change request under its own German SOW, and a rate amendment from 16 Feb.
        {
            "deliver": _event(
                "clm-glx-de-1",
                "clm",
                "contract.approved",
                {
                    "contract_id": CR_CONTRACT_ID,
                    "version": 1,
                    "effective_date": "2026-02-01",
                    "customer_id": "CUST-GLOBEX-DE",
                    "legal_entity": "DE01",
                    "currency": "EUR",
                    "tax_jurisdiction": "DE",
                    "start_date": "2026-02-01",
                    "end_date": "2026-06-30",
                    "rate_card": [{"role": "consultant", "rate": "140.00"}],
                    "retainer_amount": "5000.00",
                },
                CR_CONTRACT_ID,
            )
        },
        {
            "deliver": _time(
                "psa-glx-7",
                "TS-2001",
                "EMP-11",
                "consultant",
                [("2026-02-12", "8"), ("2026-02-13", "8"), ("2026-02-16", "8"), ("2026-02-17", "8")],
            )
        },
        {
            "deliver": _event(
                "clm-glx-2",
                "clm",
                "contract.amended",
                _contract(2, "2026-02-16", "175.00", "230.00"),
                CONTRACT_ID,
            )
        },
        {
            "deliver": _time(
                "psa-glx-8",
                "TS-2002",
                "EMP-31",
                "consultant",
                [("2026-02-09", "7.5"), ("2026-02-10", "7.5"), ("2026-02-11", "7.5")],
                contract=CR_CONTRACT_ID,
                cost_center="CC-CHANGE",
            )
        },
        {
            "deliver": _event(
                "psa-glx-9",
                "psa",
                "milestone.completed",
                {"contract_id": CONTRACT_ID, "milestone_id": "GOLIVE", "completed_on": "2026-02-27"},
            )
        },
        {"billing_run": {"period": "2026-02"}},
        {"erp_feedback": {"pay": False}},
        # March: a late revision of an invoiced January timesheet, and the March run.
        {"deliver": _time("psa-glx-10", "TS-1001", "EMP-11", "consultant", week(12)[:4], revision=2)},
        {"deliver": _time("psa-glx-11", "TS-3001", "EMP-11", "consultant", [("2026-03-02", "8"), ("2026-03-03", "8")])},
        {"billing_run": {"period": "2026-03"}},
    ]
    return {
        "name": "Globex managed service (built-in demo engagement)",
        "description": __doc__,
        "config": CONFIG,
        "steps": steps,
    }
