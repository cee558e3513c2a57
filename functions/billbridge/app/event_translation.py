"""Canonical event `data` (validated at the edge) into domain value objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from billbridge.domain.customer_master import (
    DEFAULT_GRACE_DAYS,
    Address,
    CustomerVersion,
    LegalEntityVersion,
    MasterPolicy,
    MasterStatus,
    TaxExemption,
)
from billbridge.domain.model import (
    BillingConfig,
    BillingContact,
    ContractVersion,
    EntryRejection,
    Expense,
    ExpensePolicy,
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


class UntranslatableEventError(ValueError):
    """The event's data cannot become a domain object (a field is missing or malformed)."""


@dataclass(frozen=True, slots=True)
class IngestedEvent:
    """A canonical event as the consumers receive it from the bus."""

    event_type: str
    data: Mapping[str, Any]
    correlation_id: str
    source: str
    event_id: str
    subject: str | None = None

    @property
    def source_ref(self) -> str:
        return f"{self.source}:{self.event_id}"

    @property
    def provenance(self) -> Provenance:
        return Provenance(source_ref=self.source_ref, correlation_id=self.correlation_id)

    @classmethod
    def from_detail(cls, detail_type: str, detail: Mapping[str, Any]) -> IngestedEvent:
        event = detail.get("event") or {}
        return cls(
            event_type=str(event.get("type") or detail_type),
            data=event.get("data") or {},
            correlation_id=str(detail.get("correlationid") or event.get("correlationid") or ""),
            source=str(event.get("source") or (detail.get("delivery") or {}).get("source") or ""),
            event_id=str(event.get("id") or (detail.get("delivery") or {}).get("id") or ""),
            subject=event.get("subject"),
        )


def decimal_field(value: Any, field: str) -> Decimal:
    if isinstance(value, float):
        raise UntranslatableEventError(f"{field}: money and hours are decimal strings, not floats")
    try:
        return Decimal(str(value))
    except Exception as error:  # decimal.InvalidOperation and friends
        raise UntranslatableEventError(f"{field}: not a decimal: {value!r}") from error


def optional_decimal_field(value: Any, field: str) -> Decimal | None:
    return None if value is None else decimal_field(value, field)


def date_field(value: Any, field: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as error:
        raise UntranslatableEventError(f"{field}: not a YYYY-MM-DD date: {value!r}") from error


def _required(data: Mapping[str, Any], field: str) -> Any:
    if field not in data or data[field] is None:
        raise UntranslatableEventError(f"data.{field}: required")
    return data[field]


def contract_version_from(data: Mapping[str, Any]) -> ContractVersion:
    policy = data.get("expense_policy")
    contact = data.get("billing_contact")
    return ContractVersion(
        contract_id=str(_required(data, "contract_id")),
        version=int(_required(data, "version")),
        effective_date=date_field(_required(data, "effective_date"), "data.effective_date"),
        customer_id=str(_required(data, "customer_id")),
        legal_entity=str(_required(data, "legal_entity")),
        currency=str(_required(data, "currency")),
        tax_jurisdiction=str(_required(data, "tax_jurisdiction")),
        start_date=date_field(_required(data, "start_date"), "data.start_date"),
        end_date=date_field(_required(data, "end_date"), "data.end_date"),
        rate_card=tuple(
            RateCardLine(
                rate=decimal_field(line.get("rate"), f"data.rate_card[{i}].rate"),
                role=line.get("role"),
                resource_id=line.get("resource_id"),
            )
            for i, line in enumerate(_required(data, "rate_card"))
        ),
        cap_amount=optional_decimal_field(data.get("cap_amount"), "data.cap_amount"),
        retainer_amount=optional_decimal_field(data.get("retainer_amount"), "data.retainer_amount"),
        milestones=tuple(
            Milestone(
                milestone_id=str(m["milestone_id"]),
                name=str(m.get("name", "")),
                amount=decimal_field(m.get("amount"), f"data.milestones[{i}].amount"),
            )
            for i, m in enumerate(data.get("milestones") or ())
        ),
        recurring_fees=tuple(
            RecurringFee(
                fee_id=str(f["fee_id"]),
                description=str(f.get("description", "")),
                amount=decimal_field(f.get("amount"), f"data.recurring_fees[{i}].amount"),
                start_date=date_field(f.get("start_date"), f"data.recurring_fees[{i}].start_date"),
                end_date=date_field(f["end_date"], f"data.recurring_fees[{i}].end_date") if f.get("end_date") else None,
            )
            for i, f in enumerate(data.get("recurring_fees") or ())
        ),
        expense_policy=(
            ExpensePolicy(
                billable_categories=tuple(policy.get("billable_categories") or ()),
                markup_pct=decimal_field(policy.get("markup_pct", "0"), "data.expense_policy.markup_pct"),
            )
            if policy
            else None
        ),
        cost_centers=tuple(data.get("cost_centers") or ()),
        billing_contact=(
            BillingContact(name=str(contact.get("name", "")), email=str(contact.get("email", ""))) if contact else None
        ),
    )


def termination_from(data: Mapping[str, Any]) -> Termination:
    return Termination(
        contract_id=str(_required(data, "contract_id")),
        version=int(_required(data, "version")),
        effective_date=date_field(_required(data, "effective_date"), "data.effective_date"),
    )


def time_entry_from(data: Mapping[str, Any], provenance: Provenance | None = None) -> TimeEntry:
    if data.get("days"):
        days = tuple(
            WorkDay(
                date=date_field(day.get("date"), f"data.days[{i}].date"),
                hours=decimal_field(day.get("hours"), f"data.days[{i}].hours"),
            )
            for i, day in enumerate(data["days"])
        )
    else:
        days = (
            WorkDay(
                date=date_field(_required(data, "work_date"), "data.work_date"),
                hours=decimal_field(_required(data, "hours"), "data.hours"),
            ),
        )
    return TimeEntry(
        entry_id=str(_required(data, "entry_id")),
        revision=int(data.get("revision", 1)),
        contract_id=str(_required(data, "contract_id")),
        resource_id=data.get("resource_id"),
        role=data.get("role"),
        billable=bool(data.get("billable", True)),
        days=days,
        cost_center=data.get("cost_center"),
        bill_rate=optional_decimal_field(data.get("bill_rate"), "data.bill_rate"),
        provenance=provenance,
    )


def entry_rejection_from(data: Mapping[str, Any], provenance: Provenance | None = None) -> EntryRejection:
    return EntryRejection(
        entry_id=str(_required(data, "entry_id")),
        revision=int(_required(data, "revision")),
        provenance=provenance,
    )


def expense_from(data: Mapping[str, Any], provenance: Provenance | None = None) -> Expense:
    return Expense(
        expense_id=str(_required(data, "expense_id")),
        contract_id=str(_required(data, "contract_id")),
        date=date_field(_required(data, "date"), "data.date"),
        category=str(_required(data, "category")),
        amount=decimal_field(_required(data, "amount"), "data.amount"),
        currency=str(_required(data, "currency")),
        billable=bool(data.get("billable", True)),
        cost_center=data.get("cost_center"),
        provenance=provenance,
    )


def milestone_completion_from(data: Mapping[str, Any], provenance: Provenance | None = None) -> MilestoneCompletion:
    return MilestoneCompletion(
        contract_id=str(_required(data, "contract_id")),
        milestone_id=str(_required(data, "milestone_id")),
        completed_on=date_field(_required(data, "completed_on"), "data.completed_on"),
        provenance=provenance,
    )


def payment_from(data: Mapping[str, Any]) -> Payment:
    return Payment(
        payment_id=str(_required(data, "payment_id")),
        amount=decimal_field(_required(data, "amount"), "data.amount"),
        currency=str(_required(data, "currency")),
        paid_on=date_field(_required(data, "paid_on"), "data.paid_on"),
    )


def billing_config_from(data: Mapping[str, Any]) -> BillingConfig:
    """The hub's configuration document (the same schema as a scenario's `config`)."""
    return BillingConfig(
        tax_rates=tuple(
            TaxRate(
                jurisdiction=str(t["jurisdiction"]),
                rate=decimal_field(t["rate"], f"tax_rates[{i}].rate"),
                effective_from=date_field(t["effective_from"], f"tax_rates[{i}].effective_from"),
            )
            for i, t in enumerate(data.get("tax_rates") or ())
        ),
        legal_entities=tuple(
            LegalEntityRoute(legal_entity=str(r["legal_entity"]), erp_instance=str(r["erp_instance"]))
            for r in data.get("legal_entities") or ()
        ),
        customer_master=master_policy_from(data.get("customer_master")),
    )


def master_policy_from(data: Any) -> MasterPolicy:
    """The configuration's `customer_master` ({"enforced": true, "grace_days": 30}); absent: not enforced."""
    if data is None:
        return MasterPolicy()
    if not isinstance(data, Mapping):
        raise UntranslatableEventError("customer_master: must be an object")
    enforced = data.get("enforced", False)
    grace = data.get("grace_days", DEFAULT_GRACE_DAYS)
    if not isinstance(enforced, bool):
        raise UntranslatableEventError("customer_master.enforced: must be true or false")
    if not isinstance(grace, int) or isinstance(grace, bool) or grace < 0:
        raise UntranslatableEventError("customer_master.grace_days: must be a whole number of days, 0 or more")
    return MasterPolicy(enforced=enforced, grace_days=grace)


def billing_config_to_document(config: BillingConfig) -> dict[str, Any]:
    return {
        "tax_rates": [
            {
                "jurisdiction": t.jurisdiction,
                "rate": str(t.rate),
                "effective_from": t.effective_from.isoformat(),
            }
            for t in config.tax_rates
        ],
        "legal_entities": [
            {"legal_entity": r.legal_entity, "erp_instance": r.erp_instance} for r in config.legal_entities
        ],
        **(
            {
                "customer_master": {
                    "enforced": config.customer_master.enforced,
                    "grace_days": config.customer_master.grace_days,
                }
            }
            if config.customer_master != MasterPolicy()
            else {}
        ),
    }


def _address(data: Mapping[str, Any] | None) -> Address | None:
    if not data:
        return None
    return Address(
        line1=str(data.get("line1", "")),
        city=str(data.get("city", "")),
        postal_code=str(data.get("postal_code", "")),
        country=str(data.get("country", "")),
    )


def customer_version_from(data: Mapping[str, Any], source: str = "") -> CustomerVersion:
    """`customer.upserted` data (validated at the edge) -> the customer at a version."""
    tax = _required(data, "tax_profile")
    exemption = tax.get("exemption")
    currency = str(_required(data, "currency"))
    extra = tuple(str(c) for c in data.get("additional_currencies") or () if str(c) != currency)
    return CustomerVersion(
        customer_id=str(_required(data, "customer_id")),
        version=int(_required(data, "version")),
        effective_date=date_field(_required(data, "effective_date"), "data.effective_date"),
        name=str(_required(data, "name")),
        status=MasterStatus(str(_required(data, "status"))),
        billing_currencies=(currency, *extra),
        tax_jurisdiction=str(_required(tax, "jurisdiction")),
        payment_terms_days=int(_required(_required(data, "payment_terms"), "net_days")),
        parent_customer_id=data.get("parent_customer_id"),
        bill_to=_address(_required(data, "bill_to")) or Address(),
        ship_to=_address(data.get("ship_to")),
        tax_exemptions=(
            (
                TaxExemption(
                    certificate_id=str(_required(exemption, "certificate_id")),
                    valid_from=date_field(_required(exemption, "valid_from"), "data.tax_profile.exemption.valid_from"),
                    valid_to=(
                        date_field(exemption["valid_to"], "data.tax_profile.exemption.valid_to")
                        if exemption.get("valid_to")
                        else None
                    ),
                ),
            )
            if exemption
            else ()
        ),
        erp_customer_ids=tuple(
            sorted((str(i["erp_instance"]), str(i["customer_id"])) for i in data.get("erp_customer_ids") or ())
        ),
        crm_account_id=data.get("crm_account_id"),
        psa_client_id=data.get("psa_client_id"),
        source=source,
    )


def legal_entity_version_from(data: Mapping[str, Any], source: str = "") -> LegalEntityVersion:
    """`legal_entity.upserted` data (validated at the edge) -> the legal entity at a version."""
    return LegalEntityVersion(
        legal_entity=str(_required(data, "legal_entity")),
        version=int(_required(data, "version")),
        effective_date=date_field(_required(data, "effective_date"), "data.effective_date"),
        name=str(_required(data, "name")),
        erp_instance=str(_required(data, "erp_instance")),
        country=str(_required(data, "country")),
        functional_currency=str(_required(data, "functional_currency")),
        status=MasterStatus(str(data.get("status", MasterStatus.ACTIVE))),
        source=source,
    )


def contract_id_of_proposal(proposal_id: str) -> str:
    """`{contract_id}-{YYYY}-{MM}-{seq}` -> contract_id (contract ids may hold dashes)."""
    parts = proposal_id.rsplit("-", 3)
    if len(parts) != 4 or not all(p.isdigit() for p in parts[1:]):
        raise UntranslatableEventError(f"data.proposal_id: not a proposal id: {proposal_id!r}")
    return parts[0]
