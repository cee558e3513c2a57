"""An amendment applied in pages (docs/decisions/0024-amendments-in-pages.md).

A new contract version is stored with the first page of the contract's inputs, in one
fenced save: the head takes the version (its epoch moves on, so every input not re-rated
yet is stale and is re-rated by any whole-book change before its rule reads it), the page's
inputs are re-rated, and the store records how far the amendment has reached (`RERATING`
beside the head). Each next page is one more fenced save: its stale inputs re-rated by the
catch-up every whole-book change makes (`app.ledger.catch_up`), its invoiced lines checked
against the versions still being applied (`recheck_invoiced_lines`). One invocation applies
at most `pages_per_invocation` pages, then asks for the rest with a
`contract.amendment_continued` event, which the contracts queue brings back to this use case:
memory is bounded by a page, an invocation's time by its pages.

A billing run (or any whole-book change) between two pages reads the whole contract: the
head has the new version and the inputs not reached yet are caught up under it, so every
line is billed at the version its work date falls under; the pages that follow find those
lines billed and leave them as they are.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from billbridge import topology
from billbridge.app.ledger import BookScope, BookStore, StoredBook, apply_to_book
from billbridge.app.ports import EventPublisher, OutboundEvent
from billbridge.domain.book_draft import RuleContext
from billbridge.domain.contract_changes import apply_contract_version, recheck_invoiced_lines
from billbridge.domain.model import BookUpdate, ContractBook, ContractVersion

PAGE_INPUTS = 2000
"""Inputs read and re-rated per page (a page is one fenced save; ~25 MB of memory at most)."""
PAGES_PER_INVOCATION = 2
"""Pages one invocation of the contracts consumer applies before asking for the rest."""


@dataclass
class _LastView:
    """What the last view loaded said about the amendment's pages."""

    more_inputs: bool = False
    still_applying: tuple[int, ...] = ()

    def __call__(self, stored: StoredBook) -> None:
        self.more_inputs = stored.more_inputs
        self.still_applying = stored.still_applying


@dataclass
class AmendmentInPages:
    ledger: BookStore
    publisher: EventPublisher | None
    page_inputs: int = PAGE_INPUTS
    pages_per_invocation: int = PAGES_PER_INVOCATION

    def apply_version(self, version: ContractVersion, context: RuleContext) -> BookUpdate:
        """Store the version with the first page of inputs re-rated; then the next pages,
        as many as this invocation applies."""
        seen = _LastView()
        update = apply_to_book(
            self.ledger,
            version.contract_id,
            lambda book: apply_contract_version(book, version, context, still_applying=seen.still_applying),
            self.publisher,
            scope=BookScope.amendment_page(restart=True, page_inputs=self.page_inputs),
            on_load=seen,
        )
        if seen.more_inputs or seen.still_applying:
            self.continue_pages(version.contract_id, context, pages=self.pages_per_invocation - 1)
        return update

    def continue_pages(self, contract_id: str, context: RuleContext, *, pages: int | None = None) -> BookUpdate:
        """Apply the amendment's next pages (at most `pages`, by default this invocation's
        share); when inputs remain, ask for another invocation. Nothing pending: no change."""
        update = BookUpdate.unchanged(ContractBook(contract_id=contract_id))
        for _ in range(self.pages_per_invocation if pages is None else pages):
            update, more_inputs = self._next_page(contract_id, context)
            if not more_inputs:
                return update
        self._ask_for_more(contract_id, context)
        return update

    def _next_page(self, contract_id: str, context: RuleContext) -> tuple[BookUpdate, bool]:
        seen = _LastView()
        update = apply_to_book(
            self.ledger,
            contract_id,
            lambda book: recheck_invoiced_lines(book, seen.still_applying, context),
            self.publisher,
            scope=BookScope.amendment_page(restart=False, page_inputs=self.page_inputs),
            on_load=seen,
        )
        return update, seen.more_inputs

    def _ask_for_more(self, contract_id: str, context: RuleContext) -> None:
        if self.publisher is None:
            raise RuntimeError(f"{contract_id}: an amendment in pages needs a publisher to ask for its next pages")
        request_id = f"amendment-{uuid.uuid4()}"
        self.publisher.publish(
            [
                OutboundEvent(
                    source=topology.INGEST_EVENT_SOURCE,
                    detail_type=topology.AMENDMENT_CONTINUED,
                    detail={
                        "schema_version": 1,
                        "correlationid": context.correlation_id,
                        "delivery": {"source": "billbridge", "id": request_id},
                        "event": {
                            "specversion": "1.0",
                            "source": "billbridge",
                            "id": request_id,
                            "type": topology.AMENDMENT_CONTINUED,
                            "data": {"contract_id": contract_id},
                        },
                    },
                    correlation_id=context.correlation_id,
                )
            ]
        )
