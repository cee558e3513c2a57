"""Value objects of the billing domain.

All are immutable and safe to share between book snapshots: frozen dataclasses
with slots, except the billing line, a named tuple because rating builds one per
entry (decision record 19).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import Enum
from typing import Any, Literal, NamedTuple, Protocol

from billbridge.domain.customer_master import MasterPolicy

LineKind = Literal["time", "expense", "milestone", "fee", "retainer", "adjustment"]


class ExceptionType(str, Enum):
    NO_RATE = "no_rate"
    INVALID_COST_CENTER = "invalid_cost_center"
    OUTSIDE_TERM = "outside_term"
    CURRENCY_MISMATCH = "currency_mismatch"
    RATE_MISMATCH = "rate_mismatch"
    UNKNOWN_MILESTONE = "unknown_milestone"
    VERSION_CONFLICT = "version_conflict"
    RETROACTIVE_CHANGE = "retroactive_change"
    INVOICED_ENTRY_CHANGED = "invoiced_entry_changed"
    CAP_EXCEEDED = "cap_exceeded"
    UNKNOWN_TAX_JURISDICTION = "unknown_tax_jurisdiction"
    UNKNOWN_LEGAL_ENTITY = "unknown_legal_entity"
    TAX_VARIANCE = "tax_variance"
    INVOICE_REJECTED = "invoice_rejected"
    BILLING_FAILED = "billing_failed"
    UNKNOWN_CUSTOMER = "unknown_customer"
    CUSTOMER_INACTIVE = "customer_inactive"
    CUSTOMER_CURRENCY_MISMATCH = "customer_currency_mismatch"
    SYNC_REFUSED = "sync_refused"
    """A downstream system (PSA, ERP) refused a command."""
    SYNC_FAILED = "sync_failed"
    """A command got no usable answer from a downstream system after the connector's retries."""


class ExceptionState(str, Enum):
    OPEN = "open"
    APPROVED = "approved"
    WRITTEN_OFF = "written_off"
    RESOLVED = "resolved"
    """What it held was billed later (set by the hub)."""
    WITHDRAWN = "withdrawn"
    """What it held went away: the input was rejected, a revision failed another
    check, or a later exception superseded it (set by the hub)."""


class InvoiceStatus(str, Enum):
    PROPOSED = "proposed"
    POSTED = "posted"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    REJECTED = "rejected"


# --- contracts -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RateCardLine:
    rate: Decimal
    role: str | None = None
    resource_id: str | None = None

    @property
    def label(self) -> str:
        return f"resource_id={self.resource_id}" if self.resource_id else f"role={self.role}"


@dataclass(frozen=True, slots=True)
class Milestone:
    milestone_id: str
    name: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class RecurringFee:
    fee_id: str
    description: str
    amount: Decimal
    start_date: dt.date
    end_date: dt.date | None = None
    frequency: Literal["monthly"] = "monthly"


@dataclass(frozen=True, slots=True)
class ExpensePolicy:
    billable_categories: tuple[str, ...] = ()
    markup_pct: Decimal = Decimal("0")


@dataclass(frozen=True, slots=True)
class BillingContact:
    name: str = ""
    email: str = ""


@dataclass(frozen=True, slots=True)
class ContractVersion:
    """A full snapshot of a contract at one approved version."""

    contract_id: str
    version: int
    effective_date: dt.date
    customer_id: str
    legal_entity: str
    currency: str
    tax_jurisdiction: str
    start_date: dt.date
    end_date: dt.date
    rate_card: tuple[RateCardLine, ...]
    cap_amount: Decimal | None = None
    retainer_amount: Decimal | None = None
    milestones: tuple[Milestone, ...] = ()
    recurring_fees: tuple[RecurringFee, ...] = ()
    expense_policy: ExpensePolicy | None = None
    cost_centers: tuple[str, ...] = ()
    billing_contact: BillingContact | None = None

    def rate_for(self, resource_id: str | None, role: str | None) -> RateCardLine | None:
        """A `resource_id` line beats a `role` line."""
        by_role: RateCardLine | None = None
        for line in self.rate_card:
            if resource_id is not None and line.resource_id == resource_id:
                return line
            if by_role is None and role is not None and line.role == role and line.resource_id is None:
                by_role = line
        return by_role

    def milestone(self, milestone_id: str) -> Milestone | None:
        for milestone in self.milestones:
            if milestone.milestone_id == milestone_id:
                return milestone
        return None


@dataclass(frozen=True, slots=True)
class Termination:
    contract_id: str
    version: int
    effective_date: dt.date


# --- actuals -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkDay:
    date: dt.date
    hours: Decimal


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where an input came from: the delivery identity and its correlation id."""

    source_ref: str
    correlation_id: str


@dataclass(frozen=True, slots=True)
class TimeEntry:
    entry_id: str
    revision: int
    contract_id: str
    resource_id: str | None
    role: str | None
    billable: bool
    days: tuple[WorkDay, ...]
    cost_center: str | None = None
    bill_rate: Decimal | None = None
    provenance: Provenance | None = None
    rejected: bool = False

    @property
    def hours(self) -> Decimal:
        return sum((day.hours for day in self.days), Decimal(0))


@dataclass(frozen=True, slots=True)
class EntryRejection:
    entry_id: str
    revision: int
    provenance: Provenance | None = None


@dataclass(frozen=True, slots=True)
class Expense:
    expense_id: str
    contract_id: str
    date: dt.date
    category: str
    amount: Decimal
    currency: str
    billable: bool
    cost_center: str | None = None
    provenance: Provenance | None = None


@dataclass(frozen=True, slots=True)
class MilestoneCompletion:
    contract_id: str
    milestone_id: str
    completed_on: dt.date
    provenance: Provenance | None = None


# --- billing -------------------------------------------------------------------


class LineBasis(Protocol):
    """What priced a line, which is what its texts say: the rate-card line or
    contract clause (`rate_rule`), the rule outcomes that shaped the line
    (`rules`) and the sentence a reader sees (`description`)."""

    def rate_rule_of(self, line: BillingLine) -> str: ...

    def rules_of(self, line: BillingLine) -> tuple[str, ...]: ...

    def description_of(self, line: BillingLine) -> str: ...


@dataclass(frozen=True, slots=True)
class StatedBasis:
    """Texts written out when the line was made: lines priced by a contract
    clause (expenses, milestones, fees, retainers, adjustments), the parts of a
    line split at the cap, and every line read back from the ledger."""

    rate_rule: str = ""
    rules: tuple[str, ...] = ()
    description: str = ""

    def rate_rule_of(self, line: BillingLine) -> str:
        return self.rate_rule

    def rules_of(self, line: BillingLine) -> tuple[str, ...]:
        return self.rules

    def description_of(self, line: BillingLine) -> str:
        return self.description


NO_TEXTS = StatedBasis()


@dataclass(frozen=True, slots=True)
class RateCardBasis:
    """A time line priced by one rate-card line of one contract version: the
    rule's identity (version, rate-card key) and the few facts its texts need.
    One value serves every line of a contract priced by the same rate-card line
    for the same resource and role; a line split by version or month has its own,
    which says its place among the splits."""

    contract_version: int
    effective_date: dt.date
    currency: str
    rate_card_key: str
    """`role=...` or `resource_id=...`: the rate-card line that matched."""
    rate: Decimal
    who: str
    """The entry's role and resource, as the description names them."""
    cost_center: str | None = None
    """The entry's cost center, when the version lists the allowed ones."""
    split_index: int = 0
    split_count: int = 1

    def rate_rule_of(self, line: BillingLine) -> str:
        return f"rate_card[{self.rate_card_key}]"

    def rules_of(self, line: BillingLine) -> tuple[str, ...]:
        rules: tuple[str, ...] = (
            f"version {self.contract_version} applies from {self.effective_date.isoformat()}",
            f"rate card {self.rate_card_key} at {self.rate}",
        )
        if self.split_count > 1:
            rules += (f"split {self.split_index + 1} of {self.split_count} by contract version and month",)
        if self.cost_center is not None:
            rules += (f"cost center {self.cost_center} allowed",)
        return rules

    def description_of(self, line: BillingLine) -> str:
        first_date = line.first_date or line.line_date
        return (
            f"Time: {self.who}, {line.quantity} h on {first_date.isoformat()}..{line.line_date.isoformat()} "
            f"at {line.rate} {line.currency}/h (contract version {self.contract_version})"
        ).replace(" ,", ",")

    def split(self, index: int, count: int) -> RateCardBasis:
        return replace(self, split_index=index, split_count=count)


class BillingLine(NamedTuple):
    """One line of billing: what identifies and prices it, and what priced it
    (`basis`), from which its texts are derived when shown (`rate_rule`,
    `rules`, `description`). Two lines are equal when they price the same and
    show the same texts, however their texts are held.

    A named tuple, not a frozen dataclass: as immutable, and built about three
    times faster (a frozen dataclass sets each of its eighteen fields through
    `object.__setattr__`); rating builds one per entry. Change one with
    `_replace`.
    """

    line_id: str
    kind: LineKind
    ref: str
    quantity: Decimal
    amount: Decimal
    currency: str
    line_date: dt.date
    """The date that decides the billing period (the last day of a time line)."""
    rate: Decimal | None = None
    contract_version: int | None = None
    first_date: dt.date | None = None
    days: tuple[WorkDay, ...] = ()
    split_position: int = 0
    revision: int | None = None
    source_refs: tuple[str, ...] = ()
    correlation_id: str = ""
    invoice_id: str | None = None
    cap_released: bool = False
    basis: LineBasis = NO_TEXTS

    @property
    def rate_rule(self) -> str:
        """The rate-card line (or contract clause) that priced the line."""
        return self.basis.rate_rule_of(self)

    @property
    def rules(self) -> tuple[str, ...]:
        """The rule outcomes that shaped the line, in order."""
        return self.basis.rules_of(self)

    @property
    def description(self) -> str:
        return self.basis.description_of(self)

    @property
    def order_key(self) -> tuple[dt.date, str, int]:
        """Cap order: (first date, entry id, split position)."""
        return (self.first_date or self.line_date, self.ref, self.split_position)

    def invoiced_as(self, invoice_id: str | None) -> BillingLine:
        """The same line, on an invoice (or back to unbilled with None)."""
        return self._replace(invoice_id=invoice_id)

    def stated(self, *, rules: tuple[str, ...], description: str, **changes: Any) -> BillingLine:
        """A line made from this one (`changes` to its fields) with texts of its
        own: its rate rule, these rules and this description."""
        basis = StatedBasis(rate_rule=self.rate_rule, rules=rules, description=description)
        return self._replace(basis=basis, **changes)

    def record(self) -> LineRecord:
        """The line with its texts written out, as the ledger stores it."""
        return LineRecord(**self.written_out())  # type: ignore[arg-type]

    def written_out(self) -> dict[str, object]:
        """The fields of the line's `LineRecord`, in their stored order (what a codec writes)."""
        return {
            "line_id": self.line_id,
            "kind": self.kind,
            "ref": self.ref,
            "quantity": self.quantity,
            "amount": self.amount,
            "currency": self.currency,
            "line_date": self.line_date,
            "rate": self.rate,
            "contract_version": self.contract_version,
            "first_date": self.first_date,
            "days": self.days,
            "split_position": self.split_position,
            "revision": self.revision,
            "rate_rule": self.rate_rule,
            "rules": self.rules,
            "source_refs": self.source_refs,
            "correlation_id": self.correlation_id,
            "description": self.description,
            "invoice_id": self.invoice_id,
            "cap_released": self.cap_released,
        }

    @classmethod
    def from_record(cls, record: LineRecord) -> BillingLine:
        """A stored line, its texts kept as they were written."""
        return cls(
            line_id=record.line_id,
            kind=record.kind,
            ref=record.ref,
            quantity=record.quantity,
            amount=record.amount,
            currency=record.currency,
            line_date=record.line_date,
            rate=record.rate,
            contract_version=record.contract_version,
            first_date=record.first_date,
            days=record.days,
            split_position=record.split_position,
            revision=record.revision,
            source_refs=record.source_refs,
            correlation_id=record.correlation_id,
            invoice_id=record.invoice_id,
            cap_released=record.cap_released,
            basis=StatedBasis(rate_rule=record.rate_rule, rules=record.rules, description=record.description),
        )

    def _priced(self) -> tuple[object, ...]:
        """Every field but the basis (the last): what identifies and prices the line."""
        return self[:-1]

    def _texts(self) -> tuple[str, tuple[str, ...], str]:
        return (self.rate_rule, self.rules, self.description)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BillingLine):
            return NotImplemented
        if self is other:
            return True
        return self._priced() == other._priced() and (self.basis == other.basis or self._texts() == other._texts())

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        return hash(self._priced())

    @classmethod
    def __get_pydantic_core_schema__(cls, source: object, handler: Callable[[object], object]) -> dict[str, object]:
        """How a line is validated and serialised by a codec that asks (the
        protocol pydantic documents for types that say how they are stored): read
        as a `LineRecord`, written as its fields (`written_out`, the same bytes
        without building the record), so that stored items and outputs keep every
        text. Plain data: the domain imports nothing to say it."""
        return {
            "type": "function-after",
            "function": {"type": "no-info", "function": cls.from_record},
            "schema": handler(LineRecord),
            "serialization": {"type": "function-plain", "function": cls.written_out},
        }


@dataclass(frozen=True, slots=True)
class LineRecord:
    """A billing line with its texts written out: what the ledger stores and
    what outputs show. The fields and their order are the stored form."""

    line_id: str
    kind: LineKind
    ref: str
    quantity: Decimal
    amount: Decimal
    currency: str
    line_date: dt.date
    rate: Decimal | None = None
    contract_version: int | None = None
    first_date: dt.date | None = None
    days: tuple[WorkDay, ...] = ()
    split_position: int = 0
    revision: int | None = None
    rate_rule: str = ""
    rules: tuple[str, ...] = ()
    source_refs: tuple[str, ...] = ()
    correlation_id: str = ""
    description: str = ""
    invoice_id: str | None = None
    cap_released: bool = False


@dataclass(frozen=True, slots=True)
class RerateRecord:
    ref: str
    line_id: str
    from_version: int | None
    to_version: int
    old_rate: Decimal | None
    new_rate: Decimal
    old_amount: Decimal
    new_amount: Decimal
    cause_version: int
    correlation_id: str


@dataclass(frozen=True, slots=True)
class Payment:
    payment_id: str
    amount: Decimal
    currency: str
    paid_on: dt.date


@dataclass(frozen=True, slots=True)
class Invoice:
    proposal_id: str
    contract_id: str
    period: str
    seq: int
    currency: str
    legal_entity: str
    erp_instance: str
    tax_jurisdiction: str
    tax_rate: Decimal
    customer_id: str
    contract_version: int
    lines: tuple[BillingLine, ...]
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    correlation_id: str
    run_id: str
    status: InvoiceStatus = InvoiceStatus.PROPOSED
    erp_invoice_number: str | None = None
    posting_date: dt.date | None = None
    estimated_tax: Decimal | None = None
    payments: tuple[Payment, ...] = ()
    rejection_reason: str | None = None
    submitted_to_erp: bool = False
    erp_reference: str | None = None
    tax_exemption_certificate: str | None = None
    """The customer's exemption certificate that made the tax 0 (customer master enforced)."""

    @property
    def paid_amount(self) -> Decimal:
        return sum((payment.amount for payment in self.payments), Decimal(0))

    @property
    def counts(self) -> bool:
        """Rejected invoices bill nothing: their lines went back to unbilled."""
        return self.status is not InvoiceStatus.REJECTED


@dataclass(frozen=True, slots=True)
class Decision:
    actor: str
    reason: str
    decided_at: str


@dataclass(frozen=True, slots=True)
class BillingException:
    exception_id: str
    type: ExceptionType
    contract_id: str
    refs: tuple[str, ...]
    amount: Decimal
    correlation_id: str
    state: ExceptionState = ExceptionState.OPEN
    detail: str = ""
    contract_version: int | None = None
    period: str | None = None
    raised_by: str = "billbridge"
    decision: Decision | None = None
    line_ids: tuple[str, ...] = ()
    """Lines the exception holds or concerns (held cap lines, affected invoiced lines)."""
    repriced: tuple[tuple[str, Decimal], ...] = ()
    """For a retroactive change: each affected invoiced line's amount under the new terms."""
    currency: str = ""
    """The currency of `amount` (an expense's own currency for `currency_mismatch`);
    empty only on exceptions recorded before amounts carried their currency."""


# --- configuration -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaxRate:
    jurisdiction: str
    rate: Decimal
    effective_from: dt.date


@dataclass(frozen=True, slots=True)
class LegalEntityRoute:
    legal_entity: str
    erp_instance: str


@dataclass(frozen=True, slots=True)
class BillingConfig:
    """The hub's configuration: tax table and legal entity -> ERP instance."""

    tax_rates: tuple[TaxRate, ...] = ()
    legal_entities: tuple[LegalEntityRoute, ...] = ()
    customer_master: MasterPolicy = field(default_factory=MasterPolicy)
    """Whether contracts are checked against the customer master (off unless configured)."""

    def tax_rate_on(self, jurisdiction: str, on: dt.date) -> Decimal | None:
        best: TaxRate | None = None
        for tax in self.tax_rates:
            applies = tax.jurisdiction == jurisdiction and tax.effective_from <= on
            if applies and (best is None or tax.effective_from > best.effective_from):
                best = tax
        return None if best is None else best.rate

    def erp_instance_for(self, legal_entity: str) -> str | None:
        for route in self.legal_entities:
            if route.legal_entity == legal_entity:
                return route.erp_instance
        return None


# --- the book ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """What changed in the ledger and why."""

    action: str
    ref: str
    correlation_id: str
    source_ref: str = ""
    contract_version: int | None = None
    rule: str = ""
    detail: str = ""


@dataclass(frozen=True, slots=True)
class DomainEvent:
    """An event the hub publishes; the app layer puts it on the bus."""

    context: str
    """`contracts`, `actuals`, `billing`, `operations`: the event source is `billbridge.<context>`."""
    detail_type: str
    detail: dict[str, object]
    correlation_id: str


@dataclass(frozen=True, slots=True)
class ContractBook:
    """Everything the hub knows about one contract: the unit of consistency."""

    contract_id: str
    versions: dict[int, ContractVersion] = field(default_factory=dict)
    termination: Termination | None = None
    entries: dict[str, TimeEntry] = field(default_factory=dict)
    expenses: dict[str, Expense] = field(default_factory=dict)
    completions: dict[str, MilestoneCompletion] = field(default_factory=dict)
    lines: dict[str, BillingLine] = field(default_factory=dict)
    invoices: dict[str, Invoice] = field(default_factory=dict)
    exceptions: dict[str, BillingException] = field(default_factory=dict)
    rerates: tuple[RerateRecord, ...] = ()
    written_off_refs: frozenset[str] = frozenset()
    written_off_days: dict[str, tuple[WorkDay, ...]] = field(default_factory=dict)
    """Hours of an entry written off (held past the cap): never rated again."""

    @property
    def is_known(self) -> bool:
        """A contract is known once a version has been approved."""
        return bool(self.versions)

    @property
    def latest_version(self) -> ContractVersion | None:
        if not self.versions:
            return None
        return self.versions[max(self.versions)]


@dataclass(frozen=True, slots=True)
class BookUpdate:
    """The result of applying one input to a book."""

    book: ContractBook
    audit: tuple[AuditRecord, ...] = ()
    events: tuple[DomainEvent, ...] = ()
    changed: bool = True

    @classmethod
    def unchanged(cls, book: ContractBook, audit: tuple[AuditRecord, ...] = ()) -> BookUpdate:
        return cls(book=book, audit=audit, events=(), changed=False)
