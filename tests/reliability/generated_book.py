"""A seeded book of canonical events: contracts, time entries with revisions,
expenses and milestone completions, with the amounts a finance team would
expect computed independently of the hub (to measure money drift).

Every contract has one version, so the invoices do not depend on the order in
which its events arrive (an amendment arriving before its predecessor makes the
predecessor stale, which is order-dependent by design).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

PERIOD = "2026-03"
CENT = Decimal("0.01")
RATES = {"consultant": Decimal("150.00"), "architect": Decimal("210.00"), "analyst": Decimal("95.50")}
MARKUP = Decimal("0.10")
BILLABLE_CATEGORIES = ("travel", "lodging")
TAX_RATE = Decimal("0.08875")
CONFIG: dict[str, Any] = {
    "tax_rates": [{"jurisdiction": "US-NY", "rate": str(TAX_RATE), "effective_from": "2020-01-01"}],
    "legal_entities": [{"legal_entity": "US01", "erp_instance": "erp-us"}],
}


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def cloud_event(source: str, event_id: str, event_type: str, data: dict[str, Any], subject: str) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": event_type,
        "time": "2026-03-31T18:00:00Z",
        "datacontenttype": "application/json",
        "subject": subject,
        "correlationid": f"corr-{source}-{event_id}",
        "data": data,
    }


@dataclass
class GeneratedBook:
    seed: int
    events: list[dict[str, Any]] = field(default_factory=list)
    """In a clean order: each contract before its actuals, revisions in order."""
    contracts: list[str] = field(default_factory=list)
    expected_subtotal: dict[str, Decimal] = field(default_factory=dict)
    """Per contract: the sum of the lines the period must bill, computed here."""
    expected_time_hours: dict[str, Decimal] = field(default_factory=dict)
    """Per contract: the hours of the final revisions of billable entries."""
    entries: dict[str, int] = field(default_factory=dict)
    """entry id -> final revision."""
    billable_expenses: set[str] = field(default_factory=set)
    milestones: set[str] = field(default_factory=set)
    config: dict[str, Any] = field(default_factory=lambda: dict(CONFIG))
    period: str = PERIOD

    @property
    def size(self) -> int:
        return len(self.events)

    def total_expected(self) -> Decimal:
        return sum(self.expected_subtotal.values(), Decimal("0"))


def _contract(contract_id: str, rng: random.Random, email: str | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "contract_id": contract_id,
        "version": 1,
        "effective_date": "2026-01-01",
        "customer_id": f"CUST-{contract_id}",
        "legal_entity": "US01",
        "currency": "USD",
        "tax_jurisdiction": "US-NY",
        "start_date": "2026-01-01",
        "end_date": "2026-12-31",
        "rate_card": [{"role": role, "rate": str(rate)} for role, rate in RATES.items()],
        "milestones": [
            {"milestone_id": "M1", "name": "Kick-off", "amount": str(rng.choice((1000, 2500, 4000))) + ".00"},
            {"milestone_id": "M2", "name": "Go-live", "amount": "7500.00"},
        ],
        "expense_policy": {"billable_categories": list(BILLABLE_CATEGORIES), "markup_pct": str(MARKUP)},
    }
    if email:
        data["billing_contact"] = {"name": "Accounts payable", "email": email}
    return data


def generate_book(seed: int, min_events: int, *, contact_email: str | None = None) -> GeneratedBook:
    """At least `min_events` events, over as many contracts as it takes (about 17 each)."""
    rng = random.Random(seed)
    book = GeneratedBook(seed=seed)
    number = 0
    while book.size < min_events:
        number += 1
        contract_id = f"SOW-{seed % 1000:03d}-{number:05d}"
        book.contracts.append(contract_id)
        subtotal = Decimal("0")
        hours_total = Decimal("0")
        book.events.append(
            cloud_event(
                "clm",
                f"clm-{contract_id}-v1",
                "contract.approved",
                _contract(contract_id, rng, contact_email),
                contract_id,
            )
        )
        milestone_amount = Decimal(book.events[-1]["data"]["milestones"][0]["amount"])
        for entry_number in range(1, rng.randint(5, 10) + 1):
            entry_id = f"TE-{contract_id}-{entry_number:03d}"
            role = rng.choice(tuple(RATES))
            revisions = rng.choice((1, 1, 2, 3))
            hours: list[Decimal] = []
            for revision in range(1, revisions + 1):
                start = date(2026, 3, rng.randint(1, 24))
                hours = [Decimal(rng.choice(("1", "2.5", "4", "6.25", "7.5", "8"))) for _ in range(rng.randint(1, 5))]
                days = [{"date": (start + timedelta(days=i)).isoformat(), "hours": str(h)} for i, h in enumerate(hours)]
                book.events.append(
                    cloud_event(
                        "psa",
                        f"psa-{entry_id}-r{revision}",
                        "time_entry.approved",
                        {
                            "entry_id": entry_id,
                            "revision": revision,
                            "contract_id": contract_id,
                            "resource_id": f"EMP-{rng.randint(1, 40)}",
                            "role": role,
                            "billable": True,
                            "days": days,
                        },
                        entry_id,
                    )
                )
            book.entries[entry_id] = revisions
            hours_total += sum(hours, Decimal("0"))
            subtotal += money(sum(hours, Decimal("0")) * RATES[role])
        for expense_number in range(1, rng.randint(1, 4) + 1):
            expense_id = f"EX-{contract_id}-{expense_number:02d}"
            category = rng.choice(("travel", "lodging", "meals"))
            amount = Decimal(rng.randint(1000, 99999)) / 100
            book.events.append(
                cloud_event(
                    "psa",
                    f"psa-{expense_id}",
                    "expense.approved",
                    {
                        "expense_id": expense_id,
                        "contract_id": contract_id,
                        "date": f"2026-03-{rng.randint(1, 28):02d}",
                        "category": category,
                        "amount": str(amount),
                        "currency": "USD",
                        "billable": True,
                    },
                    expense_id,
                )
            )
            if category in BILLABLE_CATEGORIES:
                book.billable_expenses.add(expense_id)
                subtotal += money(amount * (1 + MARKUP))
        if rng.random() < 0.6:
            book.events.append(
                cloud_event(
                    "psa",
                    f"psa-{contract_id}-M1",
                    "milestone.completed",
                    {"contract_id": contract_id, "milestone_id": "M1", "completed_on": "2026-03-20"},
                    contract_id,
                )
            )
            book.milestones.add(f"{contract_id}/M1")
            subtotal += milestone_amount
        book.expected_subtotal[contract_id] = subtotal
        book.expected_time_hours[contract_id] = hours_total
    return book


def storm(
    book: GeneratedBook, seed: int, *, max_copies: int = 10, batch_share: float = 0.5
) -> tuple[list[list[dict[str, Any]] | dict[str, Any]], int]:
    """Every event 1..max_copies times, shuffled, grouped into single and batch
    deliveries (a batch holds events of one source). Returns (deliveries, copies)."""
    rng = random.Random(seed)
    copies = [event for event in book.events for _ in range(rng.randint(1, max_copies))]
    rng.shuffle(copies)
    deliveries: list[list[dict[str, Any]] | dict[str, Any]] = []
    index = 0
    while index < len(copies):
        if rng.random() < batch_share:
            source = copies[index]["source"]
            batch = []
            while index < len(copies) and len(batch) < rng.randint(2, 10) and copies[index]["source"] == source:
                batch.append(copies[index])
                index += 1
            deliveries.append(batch)
        else:
            deliveries.append(copies[index])
            index += 1
    return deliveries, len(copies)
