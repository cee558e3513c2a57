"""Hours written off past the cap stay written off, even when a later version
re-rates the rest of the same entry."""

from __future__ import annotations

from decimal import Decimal

from billbridge.domain.book_draft import RuleContext
from billbridge.domain.exception_decisions import write_off_exception
from billbridge.domain.model import ExceptionType

from tests.fakes.hub import CoreHub

CONFIG = {
    "tax_rates": [{"jurisdiction": "US-OR", "rate": "0.00", "effective_from": "2020-01-01"}],
    "legal_entities": [{"legal_entity": "US01", "erp_instance": "erp-us"}],
}


def contract(version: int, effective: str, cap: str) -> dict:
    return {
        "specversion": "1.0",
        "id": f"clm-v{version}",
        "source": "clm",
        "type": "contract.approved" if version == 1 else "contract.amended",
        "time": "2026-01-01T00:00:00Z",
        "data": {
            "contract_id": "SOW-9",
            "version": version,
            "effective_date": effective,
            "customer_id": "C",
            "legal_entity": "US01",
            "currency": "USD",
            "tax_jurisdiction": "US-OR",
            "start_date": "2026-01-01",
            "end_date": "2026-12-31",
            "rate_card": [{"role": "consultant", "rate": "100.00"}],
            "cap_amount": cap,
        },
    }


def entry(entry_id: str, days: dict[str, str]) -> dict:
    return {
        "specversion": "1.0",
        "id": f"psa-{entry_id}",
        "source": "psa",
        "type": "time_entry.approved",
        "time": "2026-01-01T00:00:00Z",
        "data": {
            "entry_id": entry_id,
            "revision": 1,
            "contract_id": "SOW-9",
            "resource_id": "EMP-1",
            "role": "consultant",
            "billable": True,
            "days": [{"date": d, "hours": h} for d, h in days.items()],
        },
    }


def test_written_off_hours_do_not_come_back_when_a_later_version_re_rates_the_entry() -> None:
    hub = CoreHub(CONFIG)
    hub.deliver(contract(1, "2026-01-01", "1000.00"))
    hub.deliver(entry("TE-0", {"2026-01-12": "10"}))
    hub.bill("2026-01")  # the cap is used up
    hub.deliver(entry("TE-1", {"2026-02-27": "8", "2026-03-02": "8"}))  # a Feb line and a Mar line
    hub.bill("2026-02")  # the Feb line is held
    book = hub.ledger.load("SOW-9")
    (held,) = [e for e in book.book.exceptions.values() if e.type is ExceptionType.CAP_EXCEEDED]
    assert held.amount == Decimal("800.00")
    hub.ledger.save(
        book,
        write_off_exception(book.book, held.exception_id, reason="goodwill", context=RuleContext(correlation_id="c")),
    )

    hub.deliver(contract(2, "2026-04-01", "5000.00"))  # raises the cap and re-rates what is unbilled
    hub.bill("2026-04")
    billed = [
        line
        for invoice in hub.ledger.load("SOW-9").book.invoices.values()
        for line in invoice.lines
        if line.ref == "TE-1"
    ]
    assert [(str(line.first_date), line.amount) for line in billed] == [("2026-03-02", Decimal("800.00"))]
