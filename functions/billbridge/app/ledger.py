"""The ledger port and the optimistic apply-and-save loop every use case shares.

A contract's book is the unit of consistency: it is loaded, changed by a pure
rule, and saved only if nobody saved it in between (a conditional write on the
book's revision). A concurrent writer loses the race, reloads and re-applies;
because the rules are keyed by business identity (entry id + revision,
contract version, proposal id), re-applying an input that already took effect
changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from billbridge.app.ports import EventPublisher, OutboundEvent
from billbridge.domain.model import AuditRecord, BillingConfig, BillingException, BookUpdate, ContractBook


class ConcurrentUpdateError(Exception):
    """The book changed since it was loaded."""


class LedgerContentionError(Exception):
    """The book kept changing under us; the message will be retried."""


@dataclass(frozen=True, slots=True)
class StoredBook:
    book: ContractBook
    revision: int
    """0 for a book never saved."""


class Ledger(Protocol):
    def load(self, contract_id: str) -> StoredBook: ...

    def save(self, stored: StoredBook, update: BookUpdate) -> None:
        """Save if the stored revision is unchanged, else raise ConcurrentUpdateError.
        Projections (exceptions, audit, lookups) are written with the book."""
        ...

    def contract_ids(self) -> list[str]: ...

    def contract_of_entry(self, entry_id: str) -> str | None: ...

    def load_config(self) -> BillingConfig: ...

    def save_config(self, config: BillingConfig) -> None: ...

    def remember_invoice_number(self, invoice_number: str, proposal_id: str) -> None: ...

    def proposal_for_invoice_number(self, invoice_number: str) -> str | None: ...

    def park_feedback(self, key: str, event: dict[str, object]) -> None:
        """Keep feedback that arrived before what it refers to (e.g. a payment before the posting)."""
        ...

    def take_parked_feedback(self, key: str) -> list[dict[str, object]]: ...

    def exceptions(self) -> Iterable[BillingException]: ...

    def record_mapping(self, contract_id: str, mapping: dict[str, str]) -> None:
        """Cross-system ids of a contract (PSA project, ERP customer and schedule)."""
        ...

    def mapping(self, contract_id: str) -> dict[str, str]: ...


MAX_ATTEMPTS = 8


def apply_to_book(
    ledger: Ledger,
    contract_id: str,
    rule: Callable[[ContractBook], BookUpdate],
    publisher: EventPublisher | None = None,
) -> BookUpdate:
    """Load, apply, save with optimistic concurrency; then publish the events."""
    for _ in range(MAX_ATTEMPTS):
        stored = ledger.load(contract_id)
        update = rule(stored.book)
        if not update.changed:
            return update
        try:
            ledger.save(stored, update)
        except ConcurrentUpdateError:
            continue
        if publisher is not None and update.events:
            publisher.publish(domain_events_to_outbound(update))
        return update
    raise LedgerContentionError(f"contract {contract_id} changed {MAX_ATTEMPTS} times while applying a change")


def domain_events_to_outbound(update: BookUpdate) -> Sequence[OutboundEvent]:
    return [
        OutboundEvent(
            source=f"billbridge.{event.context}",
            detail_type=event.detail_type,
            detail={"schema_version": 1, "correlationid": event.correlation_id, **event.detail},
            correlation_id=event.correlation_id,
        )
        for event in update.events
    ]


def audit_of(update: BookUpdate) -> tuple[AuditRecord, ...]:
    return update.audit
