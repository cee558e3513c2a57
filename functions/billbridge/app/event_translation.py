"""Typed canonical events (validated at the edge, `canonical_events`) into domain value objects.

The models of `canonical_events` are the one set of rules for an event's fields: the
webhook validates a delivery with them, the queue consumers type the bus event's
`data` with them (`IngestedEvent.from_detail`), and the functions here only map the
typed data to the domain's values (docs/decisions/0016-one-event-model.md). A plain
mapping given to them (a test's, a benchmark's, a parked event read back from the
ledger) is typed by the same model first: there is no second set of rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from billbridge.app.canonical_events import (
    AddressData,
    BusEventData,
    ContractSnapshotData,
    ContractTerminatedData,
    CustomerUpsertedData,
    ExpenseApprovedData,
    LegalEntityUpsertedData,
    MilestoneCompletedData,
    PaymentAppliedData,
    TimeEntryApprovedData,
    TimeEntryRejectedData,
    parse_bus_event_data,
)
from billbridge.domain.customer_master import (
    Address,
    CustomerVersion,
    LegalEntityVersion,
    MasterStatus,
    TaxExemption,
)
from billbridge.domain.model import (
    BillingContact,
    ContractVersion,
    EntryRejection,
    Expense,
    ExpensePolicy,
    Milestone,
    MilestoneCompletion,
    Payment,
    Provenance,
    RateCardLine,
    RecurringFee,
    Termination,
    TimeEntry,
    WorkDay,
)

_Model = TypeVar("_Model", bound=BaseModel)


class UntranslatableEventError(ValueError):
    """The event cannot become a domain object (not an event of this use case, or a
    configuration document that is malformed)."""


@dataclass(frozen=True, slots=True)
class IngestedEvent:
    """A canonical event as the consumers receive it from the bus, its `data` typed by the
    edge's model. Built from a plain mapping, the data is typed by that model on creation
    (InvalidEventError, a ValueError, names the field when it breaks the contract)."""

    event_type: str
    data: BusEventData
    correlation_id: str
    source: str
    event_id: str
    subject: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.data, BaseModel):
            object.__setattr__(self, "data", parse_bus_event_data(self.event_type, self.data))

    @property
    def source_ref(self) -> str:
        return f"{self.source}:{self.event_id}"

    @property
    def provenance(self) -> Provenance:
        return Provenance(source_ref=self.source_ref, correlation_id=self.correlation_id)

    def data_document(self) -> dict[str, Any]:
        """The data as JSON (what the webhook published): for keeping the event in the ledger."""
        return self.data.model_dump(mode="json", exclude_unset=True)

    def parkable(self) -> dict[str, object]:
        """The event as a document the ledger keeps until what it waits for arrives;
        `IngestedEvent(**document)` makes it again."""
        return {
            "event_type": self.event_type,
            "data": self.data_document(),
            "correlation_id": self.correlation_id,
            "source": self.source,
            "event_id": self.event_id,
            "subject": self.subject,
        }

    @classmethod
    def from_detail(cls, detail_type: str, detail: Mapping[str, Any]) -> IngestedEvent:
        """The bus event's detail (`docs/spec/events.md`, "Packed bus entries"), its data typed."""
        event = detail.get("event") or {}
        delivery = detail.get("delivery") or {}
        event_type = str(event.get("type") or detail_type)
        return cls(
            event_type=event_type,
            data=parse_bus_event_data(event_type, event.get("data") or {}),
            correlation_id=str(detail.get("correlationid") or event.get("correlationid") or ""),
            source=str(event.get("source") or delivery.get("source") or ""),
            event_id=str(event.get("id") or delivery.get("id") or ""),
            subject=event.get("subject"),
        )


def _typed(data: _Model | Mapping[str, Any], model: type[_Model], event_type: str) -> _Model:
    if isinstance(data, model):
        return data
    if isinstance(data, BaseModel):
        raise UntranslatableEventError(f"type: {type(data).__name__} is not the data of {event_type}")
    return parse_bus_event_data(event_type, data)  # type: ignore[return-value]  # the model of event_type


def contract_version_from(data: ContractSnapshotData | Mapping[str, Any]) -> ContractVersion:
    contract = _typed(data, ContractSnapshotData, "contract.approved")
    policy = contract.expense_policy
    contact = contract.billing_contact
    return ContractVersion(
        contract_id=contract.contract_id,
        version=contract.version,
        effective_date=contract.effective_date,
        customer_id=contract.customer_id,
        legal_entity=contract.legal_entity,
        currency=contract.currency,
        tax_jurisdiction=contract.tax_jurisdiction,
        start_date=contract.start_date,
        end_date=contract.end_date,
        rate_card=tuple(
            RateCardLine(rate=line.rate, role=line.role, resource_id=line.resource_id) for line in contract.rate_card
        ),
        cap_amount=contract.cap_amount,
        retainer_amount=contract.retainer_amount,
        milestones=tuple(
            Milestone(milestone_id=m.milestone_id, name=m.name, amount=m.amount) for m in contract.milestones
        ),
        recurring_fees=tuple(
            RecurringFee(
                fee_id=f.fee_id,
                description=f.description,
                amount=f.amount,
                start_date=f.start_date,
                end_date=f.end_date,
            )
            for f in contract.recurring_fees
        ),
        expense_policy=(
            ExpensePolicy(billable_categories=policy.billable_categories, markup_pct=policy.markup_pct)
            if policy is not None
            else None
        ),
        cost_centers=contract.cost_centers,
        billing_contact=(BillingContact(name=contact.name, email=contact.email) if contact is not None else None),
    )


def termination_from(data: ContractTerminatedData | Mapping[str, Any]) -> Termination:
    termination = _typed(data, ContractTerminatedData, "contract.terminated")
    return Termination(
        contract_id=termination.contract_id,
        version=termination.version,
        effective_date=termination.effective_date,
    )


def time_entry_from(data: TimeEntryApprovedData | Mapping[str, Any], provenance: Provenance | None = None) -> TimeEntry:
    entry = _typed(data, TimeEntryApprovedData, "time_entry.approved")
    return TimeEntry(
        entry_id=entry.entry_id,
        revision=entry.revision,
        contract_id=entry.contract_id,
        resource_id=entry.resource_id,
        role=entry.role,
        billable=entry.billable,
        days=tuple(WorkDay(date=day.date, hours=day.hours) for day in entry.days),
        cost_center=entry.cost_center,
        bill_rate=entry.bill_rate,
        provenance=provenance,
    )


def entry_rejection_from(
    data: TimeEntryRejectedData | Mapping[str, Any], provenance: Provenance | None = None
) -> EntryRejection:
    rejection = _typed(data, TimeEntryRejectedData, "time_entry.rejected")
    return EntryRejection(entry_id=rejection.entry_id, revision=rejection.revision, provenance=provenance)


def expense_from(data: ExpenseApprovedData | Mapping[str, Any], provenance: Provenance | None = None) -> Expense:
    expense = _typed(data, ExpenseApprovedData, "expense.approved")
    return Expense(
        expense_id=expense.expense_id,
        contract_id=expense.contract_id,
        date=expense.date,
        category=expense.category,
        amount=expense.amount,
        currency=expense.currency,
        billable=expense.billable,
        cost_center=expense.cost_center,
        provenance=provenance,
    )


def milestone_completion_from(
    data: MilestoneCompletedData | Mapping[str, Any], provenance: Provenance | None = None
) -> MilestoneCompletion:
    completion = _typed(data, MilestoneCompletedData, "milestone.completed")
    return MilestoneCompletion(
        contract_id=completion.contract_id,
        milestone_id=completion.milestone_id,
        completed_on=completion.completed_on,
        provenance=provenance,
    )


def payment_from(data: PaymentAppliedData | Mapping[str, Any]) -> Payment:
    payment = _typed(data, PaymentAppliedData, "payment.applied")
    return Payment(
        payment_id=payment.payment_id,
        amount=payment.amount,
        currency=payment.currency,
        paid_on=payment.paid_on,
    )


def _address(address: AddressData) -> Address:
    return Address(line1=address.line1, city=address.city, postal_code=address.postal_code, country=address.country)


def customer_version_from(data: CustomerUpsertedData | Mapping[str, Any], source: str = "") -> CustomerVersion:
    """`customer.upserted` data -> the customer at a version."""
    customer = _typed(data, CustomerUpsertedData, "customer.upserted")
    exemption = customer.tax_profile.exemption
    extra = tuple(c for c in customer.additional_currencies if c != customer.currency)
    return CustomerVersion(
        customer_id=customer.customer_id,
        version=customer.version,
        effective_date=customer.effective_date,
        name=customer.name,
        status=MasterStatus(customer.status),
        billing_currencies=(customer.currency, *extra),
        tax_jurisdiction=customer.tax_profile.jurisdiction,
        payment_terms_days=customer.payment_terms.net_days,
        parent_customer_id=customer.parent_customer_id,
        bill_to=_address(customer.bill_to),
        ship_to=_address(customer.ship_to) if customer.ship_to is not None else None,
        tax_exemptions=(
            (
                TaxExemption(
                    certificate_id=exemption.certificate_id,
                    valid_from=exemption.valid_from,
                    valid_to=exemption.valid_to,
                ),
            )
            if exemption is not None
            else ()
        ),
        erp_customer_ids=tuple(sorted((i.erp_instance, i.customer_id) for i in customer.erp_customer_ids)),
        crm_account_id=customer.crm_account_id,
        psa_client_id=customer.psa_client_id,
        source=source,
    )


def legal_entity_version_from(
    data: LegalEntityUpsertedData | Mapping[str, Any], source: str = ""
) -> LegalEntityVersion:
    """`legal_entity.upserted` data -> the legal entity at a version."""
    entity = _typed(data, LegalEntityUpsertedData, "legal_entity.upserted")
    return LegalEntityVersion(
        legal_entity=entity.legal_entity,
        version=entity.version,
        effective_date=entity.effective_date,
        name=entity.name,
        erp_instance=entity.erp_instance,
        country=entity.country,
        functional_currency=entity.functional_currency,
        status=MasterStatus(entity.status),
        source=source,
    )


def contract_id_of_proposal(proposal_id: str) -> str:
    """`{contract_id}-{YYYY}-{MM}-{seq}` -> contract_id (contract ids may hold dashes)."""
    parts = proposal_id.rsplit("-", 3)
    if len(parts) != 4 or not all(p.isdigit() for p in parts[1:]):
        raise UntranslatableEventError(f"data.proposal_id: not a proposal id: {proposal_id!r}")
    return parts[0]
