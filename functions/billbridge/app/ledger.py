"""The ledger ports, split by use, and the optimistic apply-and-save loop every
use case shares.

A contract's book is the unit of meaning: a rule takes a book and returns a
new one. What a rule reads is a *view* of the book (`BookScope`): the whole
book, or only what one input needs (the contract's terms, the input itself,
its lines and exceptions). A storage adapter may store the book as many small
items and save only the items an update changed; each save is conditional on
business identity, so re-applying an input that already took effect changes
nothing, and a writer that lost a race reloads and re-applies
(`ConcurrentUpdateError`). See docs/decisions/0003-ledger-storage-at-scale.md.

The ports:
- `BookStore`: contract books (load a view, save an update) and the lookups
  written with them (entry -> contract, proposal -> contract, known contracts);
- `ConfigurationStore`: the billing configuration;
- `CrossSystemLookups`: invoice numbers, parked feedback, cross-system ids;
- `AuditReadSide`: the operators' views (exceptions inbox, audit trails).
`Ledger` is all four together: what the use cases are given.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from billbridge.app.ports import EventPublisher, OutboundEvent
from billbridge.domain.book_draft import BookDraft, RuleContext
from billbridge.domain.model import AuditRecord, BillingConfig, BillingException, BookUpdate, ContractBook
from billbridge.domain.reconcile import reconcile_entry, reconcile_expense, reconcile_milestone

InputKind = Literal["time", "expense", "milestone"]


class ConcurrentUpdateError(Exception):
    """The book changed since it was loaded."""


class ScopeExceededError(ConcurrentUpdateError):
    """A rule given one input's view changed something outside it: the change is
    applied again on the whole book."""


class LedgerContentionError(Exception):
    """The book kept changing under us; the message will be retried."""


@dataclass(frozen=True, slots=True)
class BookScope:
    """What part of a book a rule reads: the whole book, or one input's view
    (the contract's terms, the input, its lines, the invoices they name and the
    exceptions keyed by it)."""

    kind: InputKind | None = None
    ref: str | None = None
    expected_new: bool = False
    """The input is expected to be new to the ledger (a first approval): a store may leave its
    item unread, and the save, conditional on the item not existing, checks the expectation.
    A save that finds it, or a rule that changes nothing, is done again with the item read."""

    paged: bool = False
    """An amendment's page (a whole-book change over the contract's terms and one page of
    its inputs, docs/decisions/0024-amendments-in-pages.md): `restart` reads the first
    page (a new version), else the page after the one last applied. A store without pages
    gives the whole book, as one last page."""
    restart: bool = False
    page_inputs: int = 0

    @property
    def whole(self) -> bool:
        """Not one input's view: the whole book, or a page of it (fenced, caught up)."""
        return self.kind is None

    @classmethod
    def amendment_page(cls, *, restart: bool, page_inputs: int) -> BookScope:
        return cls(paged=True, restart=restart, page_inputs=page_inputs)

    @classmethod
    def of_input(cls, kind: InputKind, ref: str, *, expected_new: bool = False) -> BookScope:
        return cls(kind=kind, ref=ref, expected_new=expected_new)

    def read_in_full(self) -> BookScope:
        """This scope with the input's item read."""
        return BookScope(kind=self.kind, ref=self.ref) if self.expected_new else self


WHOLE_BOOK = BookScope()


@dataclass(frozen=True, slots=True)
class StoredBook:
    book: ContractBook
    revision: int
    """The adapter's version of what was loaded (0 for a book never saved)."""
    scope: BookScope = WHOLE_BOOK
    handle: Any = None
    """Adapter-private: what the adapter needs to save only what changed."""
    stale_refs: tuple[tuple[InputKind, str], ...] = ()
    """Inputs last rated under older contract terms than the book's (an input
    saved while an amendment was being applied): re-rated before a whole-book
    rule reads them (`catch_up`)."""
    more_inputs: bool = False
    """A page of an amendment: inputs after this page remain to be applied."""
    still_applying: tuple[int, ...] = ()
    """A page of an amendment: the versions whose amendment has not reached every input yet."""


class BookStore(Protocol):
    def load(self, contract_id: str) -> StoredBook:
        """The whole book, for reading."""
        ...

    def save(self, stored: StoredBook, update: BookUpdate) -> None:
        """Save if what was loaded is unchanged, else raise ConcurrentUpdateError.
        Projections (exceptions, audit, lookups) are written with the book."""
        ...

    def contract_ids(self) -> list[str]: ...

    def contract_of_entry(self, entry_id: str) -> str | None: ...


class ScopedBookStore(BookStore, Protocol):
    """A book store that loads views for update (optional: `apply_to_book`
    falls back to `load` for a store without it)."""

    def load_for_update(self, contract_id: str, scope: BookScope) -> StoredBook: ...

    def release(self, stored: StoredBook) -> None:
        """Give up a view loaded for update without saving it.

        A store that loads an amendment's pages also has `pass_over(stored)`: a view that
        needed no change is given up, and its page recorded as applied (the next page
        starts after it); `apply_to_book` calls it when the rule changed nothing."""
        ...


class ConfigurationStore(Protocol):
    def load_config(self) -> BillingConfig: ...

    def save_config(self, config: BillingConfig) -> None: ...


class CrossSystemLookups(Protocol):
    def remember_invoice_number(self, invoice_number: str, proposal_id: str) -> None: ...

    def proposal_for_invoice_number(self, invoice_number: str) -> str | None: ...

    def park_feedback(self, key: str, event: dict[str, object]) -> None:
        """Keep feedback that arrived before what it refers to (e.g. a payment before the posting)."""
        ...

    def take_parked_feedback(self, key: str) -> list[dict[str, object]]: ...

    def park_entry_rejection(self, entry_id: str, event: dict[str, object]) -> str | None:
        """Keep a rejection that overtook its entry's approval (its contract is not known yet).
        Returns the entry's contract id when the entry was stored while the rejection was being
        kept: the caller applies the rejection now (nothing stays parked)."""
        ...

    def take_entry_rejections(self, entry_id: str) -> list[dict[str, object]]:
        """The rejections kept for an entry, taken (asked again: none). Asked after every time
        entry; a store may answer without a read when the entry's own writes found none kept."""
        ...

    def record_mapping(self, contract_id: str, mapping: dict[str, str]) -> None:
        """Cross-system ids of a contract (PSA project, ERP customer and schedule)."""
        ...

    def mapping(self, contract_id: str) -> dict[str, str]: ...


def parked_rejection_key(entry_id: str) -> str:
    """The parked-feedback key of the rejections kept for an entry."""
    return f"rejection#{entry_id}"


class RejectionsKeptAsParkedFeedback(Protocol):
    """`park_entry_rejection` and `take_entry_rejections` for a store that applies one change
    at a time (in memory, one SQLite file): the rejections are parked feedback under
    `parked_rejection_key`."""

    def contract_of_entry(self, entry_id: str) -> str | None: ...

    def park_feedback(self, key: str, event: dict[str, object]) -> None: ...

    def take_parked_feedback(self, key: str) -> list[dict[str, object]]: ...

    def park_entry_rejection(self, entry_id: str, event: dict[str, object]) -> str | None:
        contract_id = self.contract_of_entry(entry_id)
        if contract_id is None:
            self.park_feedback(parked_rejection_key(entry_id), event)
        return contract_id

    def take_entry_rejections(self, entry_id: str) -> list[dict[str, object]]:
        return self.take_parked_feedback(parked_rejection_key(entry_id))


class AuditReadSide(Protocol):
    def exceptions(self) -> Iterable[BillingException]: ...


class Ledger(BookStore, ConfigurationStore, CrossSystemLookups, AuditReadSide, Protocol):
    """Every part of the ledger: what use cases are given."""


MAX_ATTEMPTS = 8
BACKOFF_SECONDS = 0.005


def apply_to_book(
    ledger: BookStore,
    contract_id: str,
    rule: Callable[[ContractBook], BookUpdate],
    publisher: EventPublisher | None = None,
    *,
    scope: BookScope = WHOLE_BOOK,
    sleep: Callable[[float], None] = time.sleep,
    on_load: Callable[[StoredBook], None] | None = None,
) -> BookUpdate:
    """Load the view the rule needs, apply, save with optimistic concurrency;
    then publish the events. `on_load` is told of each view loaded (the last one
    told is the one saved)."""
    for attempt in range(MAX_ATTEMPTS):
        try:
            stored = _load_for_update(ledger, contract_id, scope)
        except ConcurrentUpdateError:
            sleep(BACKOFF_SECONDS * (2**attempt))
            continue
        if on_load is not None:
            on_load(stored)
        try:
            caught_up = catch_up(stored)
            update = rule(caught_up.book if caught_up is not None else stored.book)
            if caught_up is not None:
                update = _after(caught_up, update)
        except BaseException:
            _release(ledger, stored)
            raise
        if not update.changed:
            pass_over = getattr(ledger, "pass_over", None)
            if pass_over is not None:
                pass_over(stored)
            else:
                _release(ledger, stored)
            if scope.expected_new:  # decided on a view that assumed the input new: read it first
                scope = scope.read_in_full()
                continue
            return update
        try:
            ledger.save(stored, update)
        except BaseException as error:
            _release(ledger, stored)  # whatever stopped the save, the view is given up
            if isinstance(error, ScopeExceededError):
                scope = WHOLE_BOOK
                continue
            if not isinstance(error, ConcurrentUpdateError):
                raise
            if scope.expected_new:  # the input was not new after all: read it, without waiting
                scope = scope.read_in_full()
                continue
            if attempt:
                sleep(BACKOFF_SECONDS * (2**attempt))
            continue
        if publisher is not None and update.events:
            publisher.publish(domain_events_to_outbound(update))
        return update
    raise LedgerContentionError(f"contract {contract_id} changed {MAX_ATTEMPTS} times while applying a change")


def _load_for_update(ledger: BookStore, contract_id: str, scope: BookScope) -> StoredBook:
    load_for_update = getattr(ledger, "load_for_update", None)
    if load_for_update is None:
        return ledger.load(contract_id)
    stored: StoredBook = load_for_update(contract_id, scope)
    return stored


def _release(ledger: BookStore, stored: StoredBook) -> None:
    release = getattr(ledger, "release", None)
    if release is not None:
        release(stored)


def catch_up(stored: StoredBook) -> BookUpdate | None:
    """Re-rate the inputs of a whole-book view that were last rated under older
    terms than the book's (None when there are none)."""
    if not stored.stale_refs or not stored.scope.whole or not stored.book.versions:
        return None
    draft = BookDraft(stored.book, RuleContext(correlation_id=""))
    timeline = draft.timeline()
    cause = max(draft.versions) if len(draft.versions) > 1 else None
    for kind, ref in stored.stale_refs:
        if kind == "time" and ref in draft.entries:
            reconcile_entry(draft, draft.entries[ref], timeline, cause_version=cause)
        elif kind == "expense" and ref in draft.expenses:
            reconcile_expense(draft, ref, timeline)
        elif kind == "milestone" and ref in draft.completions:
            reconcile_milestone(draft, ref, timeline)
    return draft.freeze()


def _after(first: BookUpdate, second: BookUpdate) -> BookUpdate:
    """`second` applied on top of `first`: one update."""
    return BookUpdate(
        book=second.book,
        audit=first.audit + second.audit,
        events=first.events + second.events,
        changed=first.changed or second.changed,
    )


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
