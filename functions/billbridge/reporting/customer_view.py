"""What operators see of the customer master: each customer with its ids and
its contracts, and the customers contracts name that the master does not hold."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from billbridge.app.customer_master import MasterDataStore, customer_summary
from billbridge.domain.model import ContractBook, ExceptionState


def contracts_by_customer(books: Iterable[ContractBook]) -> dict[str, list[ContractBook]]:
    grouped: dict[str, list[ContractBook]] = {}
    for book in books:
        latest = book.latest_version
        if latest is not None:
            grouped.setdefault(latest.customer_id, []).append(book)
    return grouped


def _contract_row(book: ContractBook, pending: set[str]) -> dict[str, Any]:
    latest = book.latest_version
    assert latest is not None
    return {
        "contract_id": book.contract_id,
        "version": latest.version,
        "currency": latest.currency,
        "legal_entity": latest.legal_entity,
        "master_status": "pending_customer" if book.contract_id in pending else "",
        "invoices": len(book.invoices),
        "open_exceptions": sum(1 for e in book.exceptions.values() if e.state == ExceptionState.OPEN),
    }


def customer_rows(store: MasterDataStore, books: Iterable[ContractBook]) -> list[dict[str, Any]]:
    """One row per customer in the master or named by a contract, sorted by id."""
    grouped = contracts_by_customer(books)
    rows = []
    for customer_id in sorted(set(store.master_keys("customer")) | set(grouped)):
        summary = customer_summary(store, customer_id)
        contracts = grouped.get(customer_id, [])
        rows.append(
            {
                "customer_id": customer_id,
                "name": summary["name"] if summary else "",
                "in_master": summary is not None,
                "status": summary["status"] if summary else "not in master",
                "version": summary["version"] if summary else None,
                "currencies": summary["currencies"] if summary else [],
                "tax_exemption": ", ".join(e["certificate_id"] for e in summary["tax_exemptions"]) if summary else "",
                "source": summary["source"] if summary else "",
                "contracts": [book.contract_id for book in sorted(contracts, key=lambda b: b.contract_id)],
                "pending_contracts": store.pending_contracts(customer_id),
            }
        )
    return rows


def customer_detail(store: MasterDataStore, customer_id: str, books: Iterable[ContractBook]) -> dict[str, Any] | None:
    summary = customer_summary(store, customer_id)
    contracts = sorted(contracts_by_customer(books).get(customer_id, []), key=lambda b: b.contract_id)
    if summary is None and not contracts:
        return None
    pending = set(store.pending_contracts(customer_id))
    return {
        "customer_id": customer_id,
        "in_master": summary is not None,
        **(summary or {"status": "not in master", "ids": {"customer_id": customer_id}}),
        "contracts": [_contract_row(book, pending) for book in contracts],
    }
