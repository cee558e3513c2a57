"""An in-memory Ledger: the same contract as the DynamoDB one, for tests,
benchmarks and runs of the domain core without AWS.

It keeps whole books under one revision each (optimistic concurrency on the
whole book): it offers no `load_for_update`, so `apply_to_book` gives every rule
the whole book, which is always a correct view (an input's view is an
optimisation of the DynamoDB store)."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from billbridge.app.ledger import ConcurrentUpdateError, RejectionsKeptAsParkedFeedback, StoredBook
from billbridge.domain.model import BillingConfig, BillingException, BookUpdate, ContractBook


class InMemoryLedger(RejectionsKeptAsParkedFeedback):
    def __init__(self, config: BillingConfig | None = None) -> None:
        self._books: dict[str, StoredBook] = {}
        self._config = config or BillingConfig()
        self._invoice_numbers: dict[str, str] = {}
        self._entry_contracts: dict[str, str] = {}
        self._parked: dict[str, list[dict[str, object]]] = {}
        self._mappings: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()
        self.audit: list[tuple[str, object]] = []
        self._master: dict[tuple[str, str], dict[int, dict[str, Any]]] = {}
        self._pending: dict[str, set[str]] = {}

    def load(self, contract_id: str) -> StoredBook:
        with self._lock:
            return self._books.get(contract_id) or StoredBook(ContractBook(contract_id=contract_id), 0)

    def save(self, stored: StoredBook, update: BookUpdate) -> None:
        with self._lock:
            current = self._books.get(stored.book.contract_id)
            current_revision = current.revision if current else 0
            if current_revision != stored.revision:
                raise ConcurrentUpdateError(stored.book.contract_id)
            self._books[stored.book.contract_id] = StoredBook(update.book, stored.revision + 1)
            for entry_id in update.book.entries:
                self._entry_contracts[entry_id] = update.book.contract_id
            self.audit.extend((update.book.contract_id, record) for record in update.audit)

    def books(self) -> list[ContractBook]:
        return [stored.book for stored in self._books.values()]

    def contract_ids(self) -> list[str]:
        return sorted(contract_id for contract_id, stored in self._books.items() if stored.book.is_known)

    def contract_of_entry(self, entry_id: str) -> str | None:
        return self._entry_contracts.get(entry_id)

    def load_config(self) -> BillingConfig:
        return self._config

    def save_config(self, config: BillingConfig) -> None:
        self._config = config

    def remember_invoice_number(self, invoice_number: str, proposal_id: str) -> None:
        self._invoice_numbers[invoice_number] = proposal_id

    def proposal_for_invoice_number(self, invoice_number: str) -> str | None:
        return self._invoice_numbers.get(invoice_number)

    def park_feedback(self, key: str, event: dict[str, object]) -> None:
        self._parked.setdefault(key, []).append(event)

    def take_parked_feedback(self, key: str) -> list[dict[str, object]]:
        return self._parked.pop(key, [])

    def exceptions(self) -> Iterable[BillingException]:
        for stored in self._books.values():
            yield from stored.book.exceptions.values()

    def record_mapping(self, contract_id: str, mapping: dict[str, str]) -> None:
        self._mappings.setdefault(contract_id, {}).update(mapping)

    def mapping(self, contract_id: str) -> dict[str, str]:
        return dict(self._mappings.get(contract_id, {}))

    def audit_of_contract(self, contract_id: str) -> list[dict[str, object]]:
        from dataclasses import asdict

        return [asdict(record) for owner, record in self.audit if owner == contract_id]  # type: ignore[call-overload]

    # -- customer master (MasterDataStore) -----------------------------------------------------

    def master_versions(self, kind: str, key: str) -> list[dict[str, Any]]:
        with self._lock:
            versions = self._master.get((kind, key), {})
            return [versions[v] for v in sorted(versions)]

    def save_master_version(self, kind: str, key: str, version: int, document: dict[str, Any]) -> bool:
        with self._lock:
            versions = self._master.setdefault((kind, key), {})
            if version in versions:
                return False
            versions[version] = document
            return True

    def master_keys(self, kind: str) -> list[str]:
        with self._lock:
            return sorted(key for (k, key) in self._master if k == kind)

    def hold_pending_contract(self, customer_id: str, contract_id: str) -> None:
        with self._lock:
            self._pending.setdefault(customer_id, set()).add(contract_id)

    def pending_contracts(self, customer_id: str) -> list[str]:
        with self._lock:
            return sorted(self._pending.get(customer_id, ()))

    def release_pending_contract(self, customer_id: str, contract_id: str) -> None:
        with self._lock:
            self._pending.get(customer_id, set()).discard(contract_id)
