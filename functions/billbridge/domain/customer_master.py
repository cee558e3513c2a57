"""Customer and legal-entity master data, and the rules a contract is checked by
against it (docs/spec/billing.md, "Customer master").

Master records are kept like contracts: each delivery is a full snapshot at a
version with an effective date; the version that applies on a date is the
highest version whose effective date is on or before it. A repeated version
changes nothing; an older version arriving late is kept but does not override
a higher one.

The checks are pure: the billing run passes in what the master holds for the
contract's customer and legal entity, the period's last day and the grace
period, and gets back one finding (or none).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum, StrEnum
from typing import TypeVar


class MasterStatus(StrEnum):
    """Whether a customer or legal entity may be invoiced (its stored and wire form: `active`, `inactive`)."""

    ACTIVE = "active"
    INACTIVE = "inactive"


@dataclass(frozen=True, slots=True)
class Address:
    line1: str = ""
    city: str = ""
    postal_code: str = ""
    country: str = ""


@dataclass(frozen=True, slots=True)
class TaxExemption:
    """A tax exemption certificate: the customer owes no tax while it is valid."""

    certificate_id: str
    valid_from: dt.date
    valid_to: dt.date | None = None
    """Last day of validity (inclusive); None: open-ended."""

    def valid_on(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True, slots=True)
class CustomerVersion:
    """A full snapshot of a customer at one version (`customer.upserted`)."""

    customer_id: str
    version: int
    effective_date: dt.date
    name: str
    status: MasterStatus
    billing_currencies: tuple[str, ...]
    """Currencies the customer may be invoiced in."""
    tax_jurisdiction: str
    payment_terms_days: int
    parent_customer_id: str | None = None
    bill_to: Address = field(default_factory=Address)
    ship_to: Address | None = None
    tax_exemptions: tuple[TaxExemption, ...] = ()
    erp_customer_ids: tuple[tuple[str, str], ...] = ()
    """(ERP instance, the customer's id in that instance), sorted by instance."""
    crm_account_id: str | None = None
    psa_client_id: str | None = None
    source: str = ""
    """The system of record the snapshot came from (`erp` or `crm`)."""

    @property
    def active(self) -> bool:
        return self.status == MasterStatus.ACTIVE

    def erp_customer_id(self, erp_instance: str) -> str | None:
        for instance, customer_id in self.erp_customer_ids:
            if instance == erp_instance:
                return customer_id
        return None

    def exemption_on(self, day: dt.date) -> TaxExemption | None:
        """The exemption valid on `day` (the latest-starting one when several are)."""
        valid = [e for e in self.tax_exemptions if e.valid_on(day)]
        return max(valid, key=lambda e: (e.valid_from, e.certificate_id)) if valid else None


@dataclass(frozen=True, slots=True)
class LegalEntityVersion:
    """A full snapshot of one of the firm's own legal entities (`legal_entity.upserted`)."""

    legal_entity: str
    version: int
    effective_date: dt.date
    name: str
    erp_instance: str
    country: str
    functional_currency: str
    status: MasterStatus = MasterStatus.ACTIVE
    source: str = ""

    @property
    def active(self) -> bool:
        return self.status == MasterStatus.ACTIVE


V = TypeVar("V", CustomerVersion, LegalEntityVersion)


class MasterChange(str, Enum):
    NEW = "new"
    """A version not seen before."""
    SAME = "same"
    """The version is known with the same content: nothing changes."""
    CONFLICT = "conflict"
    """The version is known with other content: the first one stays."""


def version_on(versions: Mapping[int, V], day: dt.date) -> V | None:
    """The highest version whose effective date is on or before `day` (None before the first)."""
    applicable = [v for v in versions.values() if v.effective_date <= day]
    return max(applicable, key=lambda v: v.version) if applicable else None


def latest_of(versions: Mapping[int, V]) -> V | None:
    return versions[max(versions)] if versions else None


def earliest_of(versions: Mapping[int, V]) -> V | None:
    """The first version: what applies before any effective date is reached."""
    return versions[min(versions, key=lambda n: (versions[n].effective_date, n))] if versions else None


def classify_version(versions: Mapping[int, V], incoming: V) -> MasterChange:
    known = versions.get(incoming.version)
    if known is None:
        return MasterChange.NEW
    return MasterChange.SAME if replace(known, source=incoming.source) == incoming else MasterChange.CONFLICT


# --- validation of a contract against the master --------------------------------


DEFAULT_GRACE_DAYS = 30


@dataclass(frozen=True, slots=True)
class MasterPolicy:
    """How a deployment uses the customer master (the billing configuration's `customer_master`)."""

    enforced: bool = False
    """Off: contracts are billed on their own terms, as before the master existed."""
    grace_days: int = DEFAULT_GRACE_DAYS
    """A contract whose customer is unknown stays pending this many days after its start."""

    def __post_init__(self) -> None:
        if self.grace_days < 0:
            raise ValueError("customer_master.grace_days must not be negative")


class MasterFindingKind(str, Enum):
    PENDING_CUSTOMER = "pending_customer"
    UNKNOWN_CUSTOMER = "unknown_customer"
    CUSTOMER_INACTIVE = "customer_inactive"
    CUSTOMER_CURRENCY_MISMATCH = "customer_currency_mismatch"
    LEGAL_ENTITY_NOT_CONFIGURED = "legal_entity_not_configured"


@dataclass(frozen=True, slots=True)
class MasterFinding:
    kind: MasterFindingKind
    detail: str

    @property
    def is_exception(self) -> bool:
        """Pending is not an error: it raises no exception, the lines simply wait."""
        return self.kind is not MasterFindingKind.PENDING_CUSTOMER


@dataclass(frozen=True, slots=True)
class MasterFacts:
    """What the master holds for one contract, read before the billing run composes its invoice."""

    policy: MasterPolicy
    customer: Mapping[int, CustomerVersion] = field(default_factory=dict)
    legal_entity: Mapping[int, LegalEntityVersion] = field(default_factory=dict)
    legal_entities_mastered: bool = False
    """Whether any legal entity is held in the master: if none is, the billing
    configuration's legal entity routes stay the only check."""


def check_contract_against_master(
    *,
    facts: MasterFacts,
    customer_id: str,
    legal_entity: str,
    currency: str,
    contract_start: dt.date,
    on: dt.date,
) -> MasterFinding | None:
    """The first finding, in this order: customer unknown (pending, then
    `unknown_customer` once the grace period is over), customer inactive,
    currency not billable to the customer, legal entity not configured."""
    if not facts.policy.enforced:
        return None
    customer = version_on(facts.customer, on) or earliest_of(facts.customer)
    if customer is None:
        deadline = contract_start + dt.timedelta(days=facts.policy.grace_days)
        if on < deadline:
            return MasterFinding(
                MasterFindingKind.PENDING_CUSTOMER,
                f"customer {customer_id!r} is not in the customer master yet; "
                f"the contract waits for it until {deadline.isoformat()}",
            )
        return MasterFinding(
            MasterFindingKind.UNKNOWN_CUSTOMER,
            f"customer {customer_id!r} is not in the customer master "
            f"{facts.policy.grace_days} day(s) after the contract's start; invoice held",
        )
    if not customer.active:
        return MasterFinding(
            MasterFindingKind.CUSTOMER_INACTIVE,
            f"customer {customer_id!r} is {customer.status} (master version {customer.version}); invoice held",
        )
    if currency not in customer.billing_currencies:
        return MasterFinding(
            MasterFindingKind.CUSTOMER_CURRENCY_MISMATCH,
            f"the contract bills in {currency} but customer {customer_id!r} may be invoiced in "
            f"{', '.join(customer.billing_currencies) or 'no currency'}; invoice held",
        )
    if facts.legal_entities_mastered:
        entity = version_on(facts.legal_entity, on)
        if entity is None or not entity.active:
            state = "not in the legal-entity master" if entity is None else f"{entity.status}"
            return MasterFinding(
                MasterFindingKind.LEGAL_ENTITY_NOT_CONFIGURED,
                f"legal entity {legal_entity!r} is {state} on {on.isoformat()}; invoice held",
            )
    return None


def tax_exemption_for(facts: MasterFacts | None, on: dt.date) -> TaxExemption | None:
    """The exemption of the contract's customer valid on the period's last day (master enforced only)."""
    if facts is None or not facts.policy.enforced:
        return None
    customer = version_on(facts.customer, on) or earliest_of(facts.customer)
    return None if customer is None else customer.exemption_on(on)
