"""Use case: an operator approves or writes off a held exception.

The decision is a domain rule (billbridge.domain.exception_decisions) applied
through the optimistic `apply_to_book` loop, so a decision taken while a
consumer changes the same contract is re-applied on the fresh book, never lost.
The actor, the reason and the time (from the Clock, never read here) are kept
on the exception and in the audit trail, under the exception's own correlation
id so its trail reads from "raised" to "decided".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from billbridge.app.ledger import Ledger, apply_to_book
from billbridge.app.ports import Clock, EventPublisher
from billbridge.app.segregation_of_duties import (
    SegregationOfDutiesError,
    SegregationPolicy,
    check_segregation,
    refused_decision,
    requester_from_audit,
)
from billbridge.domain.book_draft import RuleContext
from billbridge.domain.exception_decisions import ADJUSTING_TYPES, approve_exception, write_off_exception
from billbridge.domain.model import BillingException, BillingLine, BookUpdate, ContractBook


class UnknownExceptionError(LookupError):
    """No exception has this id."""


class MissingReasonError(ValueError):
    """A write-off must say why."""


@dataclass(frozen=True, slots=True)
class ExceptionDecision:
    """What the decision did: the exception as decided, and its adjustment line if it made one."""

    exception: BillingException
    added_lines: tuple[BillingLine, ...]


Decide = Callable[..., BookUpdate]


class DecideException:
    def __init__(
        self,
        ledger: Ledger,
        clock: Clock,
        publisher: EventPublisher | None = None,
        policy: SegregationPolicy | None = None,
    ) -> None:
        self._ledger = ledger
        self._clock = clock
        self._publisher = publisher
        self._policy = policy or SegregationPolicy()

    def approve(self, exception_id: str, *, actor: str, reason: str = "") -> ExceptionDecision:
        found = self.find(exception_id)
        if found.type in ADJUSTING_TYPES:
            self._check_segregation(found, actor)
        return self._decide(approve_exception, exception_id, actor=actor, reason=reason)

    def _check_segregation(self, exception: BillingException, actor: str) -> None:
        """Approving an adjustment, or writing anything off, at or above the
        policy's amount takes a second person: not whoever raised or requested
        it. A refusal is audited."""
        audit_of_contract = getattr(self._ledger, "audit_of_contract", None)
        trail = audit_of_contract(exception.contract_id) if callable(audit_of_contract) else []
        requested_by = requester_from_audit(trail, exception.exception_id)
        try:
            check_segregation(exception, actor, self._policy, requested_by=requested_by)
        except SegregationOfDutiesError as refusal:
            context = RuleContext(
                correlation_id=exception.correlation_id,
                source_ref=f"operator:{actor}",
                actor=actor,
                decided_at=self._clock.now().isoformat(),
            )
            apply_to_book(
                self._ledger,
                exception.contract_id,
                partial(
                    refused_decision, exception_id=exception.exception_id, actor=actor, error=refusal, context=context
                ),
            )
            raise

    def write_off(self, exception_id: str, *, actor: str, reason: str) -> ExceptionDecision:
        if not reason.strip():
            raise MissingReasonError("a write-off needs a reason (--reason)")
        self._check_segregation(self.find(exception_id), actor)
        return self._decide(write_off_exception, exception_id, actor=actor, reason=reason)

    def find(self, exception_id: str) -> BillingException:
        for exception in self._ledger.exceptions():
            if exception.exception_id == exception_id:
                return exception
        raise UnknownExceptionError(f"no exception {exception_id!r}")

    def _decide(self, rule: Decide, exception_id: str, *, actor: str, reason: str) -> ExceptionDecision:
        found = self.find(exception_id)
        context = RuleContext(
            correlation_id=found.correlation_id,
            source_ref=f"operator:{actor}",
            actor=actor,
            decided_at=self._clock.now().isoformat(),
        )

        def decide(book: ContractBook) -> BookUpdate:
            update: BookUpdate = rule(book, exception_id, reason=reason, context=context)
            return update

        update = apply_to_book(self._ledger, found.contract_id, decide, self._publisher)
        added = tuple(
            line for line in update.book.lines.values() if line.kind == "adjustment" and line.ref == exception_id
        )
        return ExceptionDecision(exception=update.book.exceptions[exception_id], added_lines=added)
