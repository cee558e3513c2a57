"""What the reliability suites measure, computed from the ledger's books and reports."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, is_dataclass
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Any

from billbridge.adapters.dynamo_book_items import BOOK_ADAPTER
from billbridge.domain.model import ContractBook, InvoiceStatus

VOLATILE_KEYS = frozenset({"correlation_id", "run_id", "decided_at", "erp_reference", "recorded_at", "updated_at"})
"""Business content excludes when and through which run something happened."""


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        value = {k: v for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {
            str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0])) if k not in VOLATILE_KEYS
        }
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, frozenset | set):
        return sorted(_plain(v) for v in value)
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    return value


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VOLATILE_KEYS and k != "provenance"}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def ledger_document(books: Iterable[ContractBook]) -> list[Any]:
    """The business content of every book, sorted, without timestamps, revisions or run ids
    (the stored book has no timestamps; its revision is the item's, not the book's)."""
    return [_strip(BOOK_ADAPTER.dump_python(book, mode="json")) for book in sorted(books, key=lambda b: b.contract_id)]


def ledger_hash(books: Iterable[ContractBook]) -> str:
    text = json.dumps(ledger_document(books), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def comparable_report(report: dict[str, Any]) -> dict[str, Any]:
    """A replay report without run-specific fields, for equality between two deliveries of one book."""
    return {key: _plain(report[key]) for key in ("invoices", "exceptions", "pending", "unbilled")}


def invoiced_lines(books: Iterable[ContractBook]) -> Counter[str]:
    """How many counting invoices hold each line id (each must be 1)."""
    seen: Counter[str] = Counter()
    for book in books:
        for invoice in book.invoices.values():
            if invoice.status is InvoiceStatus.REJECTED:
                continue
            for line in invoice.lines:
                seen[f"{book.contract_id}/{line.line_id}"] += 1
    return seen


def invoiced_subtotal(books: Iterable[ContractBook]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for book in books:
        for invoice in book.invoices.values():
            if invoice.status is not InvoiceStatus.REJECTED:
                totals[book.contract_id] = totals.get(book.contract_id, Decimal("0")) + invoice.subtotal
    return totals


def invoiced_hours(books: Iterable[ContractBook]) -> dict[str, Decimal]:
    hours: dict[str, Decimal] = {}
    for book in books:
        for invoice in book.invoices.values():
            if invoice.status is InvoiceStatus.REJECTED:
                continue
            for line in invoice.lines:
                if line.kind == "time":
                    hours[book.contract_id] = hours.get(book.contract_id, Decimal("0")) + line.quantity
    return hours


def rated_hours(books: Iterable[ContractBook]) -> dict[str, Decimal]:
    """Hours of the time lines the ledger holds (invoiced or not)."""
    hours: dict[str, Decimal] = {}
    for book in books:
        for line in book.lines.values():
            if line.kind == "time":
                hours[book.contract_id] = hours.get(book.contract_id, Decimal("0")) + line.quantity
    return hours


def money_drift(expected: dict[str, Decimal], actual: dict[str, Decimal]) -> Decimal:
    """Sum of absolute per-contract differences."""
    keys = set(expected) | set(actual)
    return sum((abs(expected.get(k, Decimal("0")) - actual.get(k, Decimal("0"))) for k in keys), Decimal("0.00"))


def ledger_effects(books: Iterable[ContractBook]) -> Counter[str]:
    """Business identities held by the ledger: one per entry, expense, completion and line."""
    effects: Counter[str] = Counter()
    for book in books:
        for entry_id in book.entries:
            effects[f"entry:{entry_id}"] += 1
        for expense_id in book.expenses:
            effects[f"expense:{expense_id}"] += 1
        for milestone_id in book.completions:
            effects[f"milestone:{book.contract_id}/{milestone_id}"] += 1
    return effects


def doubled_effects(books: Iterable[ContractBook]) -> int:
    """Effects held more than once: a line in two counting invoices, or a business identity twice."""
    materialised = list(books)
    twice_invoiced = sum(n - 1 for n in invoiced_lines(materialised).values() if n > 1)
    twice_held = sum(n - 1 for n in ledger_effects(materialised).values() if n > 1)
    return twice_invoiced + twice_held


def lines_in_two_invoices(books: Iterable[ContractBook]) -> int:
    """How many line ids sit in more than one counting invoice (each must sit in one)."""
    return sum(1 for n in invoiced_lines(books).values() if n > 1)
