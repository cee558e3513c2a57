"""Small builders of domain inputs, and a `Desk` that applies them to one book.

Defaults describe one USD time-and-materials contract `SOW-1` running through
2026, a `consultant` at 100.00/h, taxed in `US-NY` and billed from `US01`.
Every argument a test cares about is named in the test.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from billbridge.domain.actuals import (
    apply_entry_rejection,
    apply_expense,
    apply_milestone_completion,
    apply_time_entry,
)
from billbridge.domain.billing_run import BillingOutcome, compose_invoice
from billbridge.domain.book_draft import RuleContext
from billbridge.domain.contract_changes import apply_contract_version, apply_termination
from billbridge.domain.customer_master import MasterFacts
from billbridge.domain.exception_decisions import approve_exception, write_off_exception
from billbridge.domain.invoice_feedback import apply_invoice_posted, apply_invoice_rejected, apply_payment
from billbridge.domain.model import (
    BillingConfig,
    BillingException,
    BillingLine,
    BookUpdate,
    ContractBook,
    ContractVersion,
    EntryRejection,
    ExceptionState,
    ExceptionType,
    Expense,
    ExpensePolicy,
    Invoice,
    LegalEntityRoute,
    Milestone,
    MilestoneCompletion,
    Payment,
    Provenance,
    RateCardLine,
    RecurringFee,
    TaxRate,
    Termination,
    TimeEntry,
    WorkDay,
)
from billbridge.domain.versions import VersionTimeline

CONTRACT = "SOW-1"


def D(text: str | int) -> Decimal:
    return Decimal(str(text))


def d(text: str) -> date:
    return date.fromisoformat(text)


def version(
    number: int = 1,
    *,
    contract_id: str = CONTRACT,
    effective: str = "2026-01-01",
    start: str = "2026-01-01",
    end: str = "2026-12-31",
    currency: str = "USD",
    roles: Mapping[str, str] | None = None,
    resources: Mapping[str, str] | None = None,
    cap: str | None = None,
    retainer: str | None = None,
    milestones: Mapping[str, str] | None = None,
    fees: Iterable[RecurringFee] = (),
    categories: Iterable[str] | None = None,
    markup: str = "0",
    cost_centers: Iterable[str] = (),
    legal_entity: str = "US01",
    tax_jurisdiction: str = "US-NY",
    customer_id: str = "CUST-1",
) -> ContractVersion:
    rate_card = tuple(
        RateCardLine(rate=D(rate), resource_id=resource) for resource, rate in (resources or {}).items()
    ) + tuple(RateCardLine(rate=D(rate), role=role) for role, rate in (roles or {"consultant": "100.00"}).items())
    return ContractVersion(
        contract_id=contract_id,
        version=number,
        effective_date=d(effective),
        customer_id=customer_id,
        legal_entity=legal_entity,
        currency=currency,
        tax_jurisdiction=tax_jurisdiction,
        start_date=d(start),
        end_date=d(end),
        rate_card=rate_card,
        cap_amount=None if cap is None else D(cap),
        retainer_amount=None if retainer is None else D(retainer),
        milestones=tuple(
            Milestone(milestone_id=mid, name=f"Milestone {mid}", amount=D(amount))
            for mid, amount in (milestones or {}).items()
        ),
        recurring_fees=tuple(fees),
        expense_policy=(
            None if categories is None else ExpensePolicy(billable_categories=tuple(categories), markup_pct=D(markup))
        ),
        cost_centers=tuple(cost_centers),
    )


def fee(
    fee_id: str = "F1", amount: str = "3100.00", *, start: str = "2026-01-01", end: str | None = None
) -> RecurringFee:
    return RecurringFee(
        fee_id=fee_id,
        description=f"Fee {fee_id}",
        amount=D(amount),
        start_date=d(start),
        end_date=None if end is None else d(end),
    )


def provenance(ref: str) -> Provenance:
    return Provenance(source_ref=f"psa:{ref}", correlation_id=f"corr-{ref}")


def entry(
    entry_id: str = "TE-1",
    days: Mapping[str, str] | None = None,
    *,
    contract_id: str = CONTRACT,
    role: str | None = "consultant",
    resource_id: str | None = None,
    revision: int = 1,
    billable: bool = True,
    cost_center: str | None = None,
    bill_rate: str | None = None,
) -> TimeEntry:
    """`days` maps ISO dates to hours; the default is 8 h on 2026-03-02."""
    return TimeEntry(
        entry_id=entry_id,
        revision=revision,
        contract_id=contract_id,
        resource_id=resource_id,
        role=role,
        billable=billable,
        days=tuple(WorkDay(date=d(day), hours=D(hours)) for day, hours in (days or {"2026-03-02": "8"}).items()),
        cost_center=cost_center,
        bill_rate=None if bill_rate is None else D(bill_rate),
        provenance=provenance(f"{entry_id}-r{revision}"),
    )


def week(monday: str, hours: str = "8", count: int = 5) -> dict[str, str]:
    """`count` consecutive days from `monday`, `hours` each."""
    first = d(monday)
    return {date.fromordinal(first.toordinal() + i).isoformat(): hours for i in range(count)}


def expense(
    expense_id: str = "EX-1",
    amount: str = "100.00",
    *,
    contract_id: str = CONTRACT,
    on: str = "2026-03-10",
    category: str = "travel",
    currency: str = "USD",
    billable: bool = True,
) -> Expense:
    return Expense(
        expense_id=expense_id,
        contract_id=contract_id,
        date=d(on),
        category=category,
        amount=D(amount),
        currency=currency,
        billable=billable,
        provenance=provenance(expense_id),
    )


def completion(milestone_id: str = "M1", on: str = "2026-03-15", *, contract_id: str = CONTRACT) -> MilestoneCompletion:
    return MilestoneCompletion(
        contract_id=contract_id,
        milestone_id=milestone_id,
        completed_on=d(on),
        provenance=provenance(milestone_id),
    )


def config(tax: Mapping[str, str] | None = None, entities: Mapping[str, str] | None = None) -> BillingConfig:
    """Tax rates effective since 2020; legal entity -> ERP instance."""
    return BillingConfig(
        tax_rates=tuple(
            TaxRate(jurisdiction=j, rate=D(rate), effective_from=d("2020-01-01"))
            for j, rate in (tax if tax is not None else {"US-NY": "0.08875", "US-OR": "0", "DE": "0.19"}).items()
        ),
        legal_entities=tuple(
            LegalEntityRoute(legal_entity=le, erp_instance=erp)
            for le, erp in (entities if entities is not None else {"US01": "erp-us", "DE01": "erp-eu"}).items()
        ),
    )


def context(correlation_id: str = "corr-test") -> RuleContext:
    return RuleContext(correlation_id=correlation_id, source_ref=f"test:{correlation_id}", actor="ops")


def timeline(*versions: ContractVersion, terminated_on: str | None = None) -> VersionTimeline:
    termination = None
    if terminated_on is not None:
        termination = Termination(contract_id=CONTRACT, version=99, effective_date=d(terminated_on))
    return VersionTimeline.of({v.version: v for v in versions}, termination)


@dataclass
class Desk:
    """One contract book and the rule functions applied to it in order."""

    book: ContractBook = field(default_factory=lambda: ContractBook(contract_id=CONTRACT))
    billing_config: BillingConfig = field(default_factory=config)
    last: BookUpdate | None = None
    runs: int = 0
    master: MasterFacts | None = None
    """What the customer master holds for the contract (None: no master)."""

    def _apply(self, update: BookUpdate) -> BookUpdate:
        self.last = update
        self.book = update.book
        return update

    def version(self, contract_version: ContractVersion) -> BookUpdate:
        return self._apply(apply_contract_version(self.book, contract_version, context(f"v{contract_version.version}")))

    def terminate(self, on: str, number: int = 9) -> BookUpdate:
        termination = Termination(contract_id=self.book.contract_id, version=number, effective_date=d(on))
        return self._apply(apply_termination(self.book, termination, context("termination")))

    def entry(self, time_entry: TimeEntry) -> BookUpdate:
        return self._apply(apply_time_entry(self.book, time_entry, context(time_entry.entry_id)))

    def reject_entry(self, entry_id: str, revision: int) -> BookUpdate:
        rejection = EntryRejection(entry_id=entry_id, revision=revision)
        return self._apply(apply_entry_rejection(self.book, rejection, context(f"reject-{entry_id}")))

    def expense(self, item: Expense) -> BookUpdate:
        return self._apply(apply_expense(self.book, item, context(item.expense_id)))

    def complete(self, item: MilestoneCompletion) -> BookUpdate:
        return self._apply(apply_milestone_completion(self.book, item, context(item.milestone_id)))

    def bill(self, period: str) -> Invoice | None:
        return self.bill_outcome(period).invoice

    def bill_outcome(self, period: str) -> BillingOutcome:
        self.runs += 1
        outcome = compose_invoice(
            self.book,
            period=period,
            config=self.billing_config,
            run_id=f"run-{self.runs}",
            context=context(f"run-{self.runs}"),
            master=self.master,
        )
        self._apply(outcome.update)
        return outcome

    def posted(self, proposal_id: str, number: str, tax: str, total: str, on: str = "2026-04-02") -> BookUpdate:
        return self._apply(
            apply_invoice_posted(
                self.book,
                proposal_id=proposal_id,
                invoice_number=number,
                posting_date=d(on),
                tax=D(tax),
                total=D(total),
                context=context(f"posted-{number}"),
            )
        )

    def rejected(self, proposal_id: str, reason: str = "wrong PO") -> BookUpdate:
        return self._apply(
            apply_invoice_rejected(
                self.book, proposal_id=proposal_id, reason=reason, context=context(f"rejected-{proposal_id}")
            )
        )

    def paid(self, proposal_id: str, payment_id: str, amount: str, currency: str = "USD") -> BookUpdate:
        payment = Payment(payment_id=payment_id, amount=D(amount), currency=currency, paid_on=d("2026-05-01"))
        return self._apply(
            apply_payment(self.book, proposal_id=proposal_id, payment=payment, context=context(payment_id))
        )

    def approve(self, exception_id: str) -> BookUpdate:
        return self._apply(approve_exception(self.book, exception_id, reason="agreed", context=context("ops")))

    def write_off(self, exception_id: str) -> BookUpdate:
        return self._apply(write_off_exception(self.book, exception_id, reason="not billable", context=context("ops")))

    # --- reading ------------------------------------------------------------

    def invoice(self, proposal_id: str) -> Invoice:
        return self.book.invoices[proposal_id]

    def lines(self, kind: str = "time", ref: str | None = None) -> list[BillingLine]:
        return sorted(
            (line for line in self.book.lines.values() if line.kind == kind and (ref is None or line.ref == ref)),
            key=lambda line: line.order_key,
        )

    def unbilled(self, kind: str = "time") -> list[BillingLine]:
        return [line for line in self.lines(kind) if not self.billed(line)]

    def billed(self, line: BillingLine) -> bool:
        if line.invoice_id is None:
            return False
        invoice = self.book.invoices.get(line.invoice_id)
        return invoice is None or invoice.counts

    def exceptions(
        self, exception_type: ExceptionType | None = None, state: ExceptionState | None = None
    ) -> list[BillingException]:
        return [
            e
            for e in self.book.exceptions.values()
            if (exception_type is None or e.type is exception_type) and (state is None or e.state is state)
        ]

    def exception(self, exception_type: ExceptionType) -> BillingException:
        found = self.exceptions(exception_type)
        assert len(found) == 1, f"expected one {exception_type.value}, got {found}"
        return found[0]


def amounts(lines: Iterable[BillingLine]) -> list[Decimal]:
    return [line.amount for line in lines]


def kinds(invoice: Invoice) -> list[tuple[str, str, Decimal]]:
    return [(line.kind, line.ref, line.amount) for line in invoice.lines]
