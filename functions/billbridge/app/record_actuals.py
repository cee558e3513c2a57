"""Actuals-to-billing: approved time, expenses and milestones into the ledger."""

from __future__ import annotations

from dataclasses import dataclass

from billbridge.app.canonical_events import (
    ExpenseApprovedData,
    MilestoneCompletedData,
    TimeEntryApprovedData,
    TimeEntryRejectedData,
)
from billbridge.app.event_translation import (
    IngestedEvent,
    UntranslatableEventError,
    entry_rejection_from,
    expense_from,
    milestone_completion_from,
    time_entry_from,
)
from billbridge.app.ledger import BookScope, Ledger, apply_to_book
from billbridge.app.ports import EventPublisher
from billbridge.domain.actuals import (
    apply_entry_rejection,
    apply_expense,
    apply_milestone_completion,
    apply_time_entry,
)
from billbridge.domain.book_draft import RuleContext
from billbridge.domain.model import BookUpdate, ContractBook


@dataclass
class RecordActuals:
    ledger: Ledger
    publisher: EventPublisher

    def handle(self, event: IngestedEvent) -> BookUpdate:
        context = RuleContext(correlation_id=event.correlation_id, source_ref=event.source_ref)
        provenance = event.provenance
        data = event.data
        if isinstance(data, TimeEntryApprovedData):
            entry = time_entry_from(data, provenance)
            update = apply_to_book(
                self.ledger,
                entry.contract_id,
                lambda b: apply_time_entry(b, entry, context),
                self.publisher,
                # A first approval is new to the ledger, as a rule: its item is not read first.
                scope=BookScope.of_input("time", entry.entry_id, expected_new=entry.revision <= 1),
            )
            for parked in self.ledger.take_entry_rejections(entry.entry_id):
                update = self.handle(IngestedEvent(**parked))  # type: ignore[arg-type]
            return update
        if isinstance(data, TimeEntryRejectedData):
            rejection = entry_rejection_from(data, provenance)
            contract_id = self.ledger.contract_of_entry(rejection.entry_id)
            if contract_id is None:
                # The rejection overtook the approval: keep it until the entry arrives (or apply it
                # now, if the entry was stored while it was being kept).
                contract_id = self.ledger.park_entry_rejection(rejection.entry_id, event.parkable())
                if contract_id is None:
                    return BookUpdate.unchanged(ContractBook(contract_id=""))
            return apply_to_book(
                self.ledger,
                str(contract_id),
                lambda b: apply_entry_rejection(b, rejection, context),
                self.publisher,
                scope=BookScope.of_input("time", rejection.entry_id),
            )
        if isinstance(data, ExpenseApprovedData):
            expense = expense_from(data, provenance)
            return apply_to_book(
                self.ledger,
                expense.contract_id,
                lambda b: apply_expense(b, expense, context),
                self.publisher,
                scope=BookScope.of_input("expense", expense.expense_id),
            )
        if isinstance(data, MilestoneCompletedData):
            completion = milestone_completion_from(data, provenance)
            return apply_to_book(
                self.ledger,
                completion.contract_id,
                lambda b: apply_milestone_completion(b, completion, context),
                self.publisher,
                scope=BookScope.of_input("milestone", completion.milestone_id),
            )
        raise UntranslatableEventError(f"type: {event.event_type!r} is not an actuals event")
