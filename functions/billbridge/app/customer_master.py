"""Customer and legal-entity master data: the store port, reading it as domain
objects, and the use case that records `customer.upserted` and
`legal_entity.upserted` (docs/spec/events.md) and releases the contracts that
waited for their customer.

Each version is written once, on a condition keyed by its business identity
(kind, id, version): a re-delivery changes nothing, and the same version with
other content is refused (the first one stays) with the reason, never
overwritten in silence.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from billbridge.app.canonical_events import CustomerUpsertedData, LegalEntityUpsertedData
from billbridge.app.event_translation import (
    IngestedEvent,
    UntranslatableEventError,
    customer_version_from,
    legal_entity_version_from,
)
from billbridge.domain.customer_master import (
    CustomerVersion,
    LegalEntityVersion,
    MasterChange,
    MasterFacts,
    MasterPolicy,
    classify_version,
    latest_of,
)

MasterKind = Literal["customer", "legal_entity"]


class MasterDataStore(Protocol):
    """Versions of master records as documents (the event's data and its source)."""

    def master_versions(self, kind: MasterKind, key: str) -> list[dict[str, Any]]: ...

    def save_master_version(self, kind: MasterKind, key: str, version: int, document: dict[str, Any]) -> bool:
        """Write the version if it is not stored yet; False when it already was (nothing written)."""
        ...

    def master_keys(self, kind: MasterKind) -> list[str]: ...

    def hold_pending_contract(self, customer_id: str, contract_id: str) -> None:
        """Remember a contract waiting for its customer to arrive in the master."""
        ...

    def pending_contracts(self, customer_id: str) -> list[str]: ...

    def release_pending_contract(self, customer_id: str, contract_id: str) -> None: ...


class MasterVersionConflictError(ValueError):
    """A master version arrived again with other content: the first one stays."""


def customer_versions(store: MasterDataStore, customer_id: str) -> dict[int, CustomerVersion]:
    versions = (
        customer_version_from(doc["data"], str(doc.get("source", "")))
        for doc in store.master_versions("customer", customer_id)
    )
    return {v.version: v for v in versions}


def legal_entity_versions(store: MasterDataStore, legal_entity: str) -> dict[int, LegalEntityVersion]:
    versions = (
        legal_entity_version_from(doc["data"], str(doc.get("source", "")))
        for doc in store.master_versions("legal_entity", legal_entity)
    )
    return {v.version: v for v in versions}


def master_facts(store: MasterDataStore, policy: MasterPolicy, *, customer_id: str, legal_entity: str) -> MasterFacts:
    """What the master holds for one contract's customer and legal entity."""
    return MasterFacts(
        policy=policy,
        customer=customer_versions(store, customer_id),
        legal_entity=legal_entity_versions(store, legal_entity),
        legal_entities_mastered=bool(store.master_keys("legal_entity")),
    )


@dataclass(frozen=True, slots=True)
class MasterUpdate:
    kind: MasterKind
    key: str
    version: int
    change: MasterChange
    released_contracts: tuple[str, ...] = ()


def customer_id_map(customer: CustomerVersion) -> dict[str, str]:
    """The customer's ids in every system: CRM account, ERP customer per instance, PSA client."""
    ids = {"customer_id": customer.customer_id}
    if customer.crm_account_id:
        ids["crm_account_id"] = customer.crm_account_id
    if customer.psa_client_id:
        ids["psa_client_id"] = customer.psa_client_id
    for instance, erp_id in customer.erp_customer_ids:
        ids[f"erp_customer_id@{instance}"] = erp_id
    return ids


@dataclass
class SyncCustomerMaster:
    """Records a customer or legal entity version; a new customer releases the
    contracts that were pending for it (`release` re-sends their downstream upserts)."""

    store: MasterDataStore
    release: Callable[[str, str], None] | None = None
    """(contract id, correlation id) -> re-send the contract's downstream upserts."""

    def handle(self, event: IngestedEvent) -> MasterUpdate:
        data = event.data
        if isinstance(data, LegalEntityUpsertedData):
            entity = legal_entity_version_from(data, event.source)
            change = self._save("legal_entity", entity.legal_entity, entity, event, legal_entity_versions)
            return MasterUpdate("legal_entity", entity.legal_entity, entity.version, change)
        if not isinstance(data, CustomerUpsertedData):
            raise UntranslatableEventError(f"type: {event.event_type!r} is not customer master data")
        customer = customer_version_from(data, event.source)
        change = self._save("customer", customer.customer_id, customer, event, customer_versions)
        released: list[str] = []
        for contract_id in self.store.pending_contracts(customer.customer_id):
            if self.release is not None:
                self.release(contract_id, event.correlation_id)
            self.store.release_pending_contract(customer.customer_id, contract_id)
            released.append(contract_id)
        return MasterUpdate("customer", customer.customer_id, customer.version, change, tuple(released))

    def _save(
        self,
        kind: MasterKind,
        key: str,
        incoming: CustomerVersion | LegalEntityVersion,
        event: IngestedEvent,
        read: Callable[[MasterDataStore, str], Mapping[int, Any]],
    ) -> MasterChange:
        version = incoming.version
        change = classify_version(read(self.store, key), incoming)
        if change is MasterChange.CONFLICT:
            raise MasterVersionConflictError(
                f"{kind} {key} version {version} was already recorded with other content; "
                "send the change as a new version"
            )
        if change is MasterChange.NEW:
            document = {
                "data": event.data_document(),
                "source": event.source,
                "source_ref": event.source_ref,
                "correlation_id": event.correlation_id,
            }
            if not self.store.save_master_version(kind, key, version, document):
                # Written meanwhile by a concurrent delivery: compare with what won.
                if classify_version(read(self.store, key), incoming) is MasterChange.CONFLICT:
                    raise MasterVersionConflictError(f"{kind} {key} version {version} was recorded concurrently")
                change = MasterChange.SAME
        return change


def customer_summary(store: MasterDataStore, customer_id: str) -> dict[str, Any] | None:
    """The customer's latest version as a plain document (for operators' views)."""
    versions = customer_versions(store, customer_id)
    latest = latest_of(versions)
    if latest is None:
        return None
    return {
        "customer_id": latest.customer_id,
        "name": latest.name,
        "status": latest.status,
        "version": latest.version,
        "versions": sorted(versions),
        "effective_date": latest.effective_date.isoformat(),
        "parent_customer_id": latest.parent_customer_id,
        "currencies": list(latest.billing_currencies),
        "tax_jurisdiction": latest.tax_jurisdiction,
        "tax_exemptions": [
            {
                "certificate_id": e.certificate_id,
                "valid_from": e.valid_from.isoformat(),
                "valid_to": e.valid_to.isoformat() if e.valid_to else None,
            }
            for e in latest.tax_exemptions
        ],
        "payment_terms_days": latest.payment_terms_days,
        "bill_to": {
            "line1": latest.bill_to.line1,
            "city": latest.bill_to.city,
            "postal_code": latest.bill_to.postal_code,
            "country": latest.bill_to.country,
        },
        "source": latest.source,
        "ids": customer_id_map(latest),
        "pending_contracts": store.pending_contracts(customer_id),
    }
