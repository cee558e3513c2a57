"""Personal data in transit: the billing contact of a contract event is sealed
at the webhook edge, before the event reaches the bus, its archive, the queues
and their dead-letter queues, and opened again only by the contracts consumer.

Sealing uses the same tokens as the ledger's field encryption (bound to the
contract, the version and the field), so a sealed contact can be stored as is.
The raw webhook body (the claim-check copy in S3, encrypted at rest) keeps the
bytes the sender signed.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Protocol

from billbridge.app.canonical_events import ContractSnapshotData

CONTACT_FIELDS = ("name", "email")
CONTRACT_SNAPSHOT_TYPES = ("contract.approved", "contract.amended")


class PersonalDataVault(Protocol):
    def seal(self, contract_id: str, version: int, contact: Mapping[str, str]) -> dict[str, str]:
        """The contact with each clear field replaced by a token."""
        ...

    def open(self, contract_id: str, version: int, contact: Mapping[str, str]) -> dict[str, str]:
        """The contact with each token replaced by its clear value."""
        ...


def seal_contract_event(event: Mapping[str, Any], vault: PersonalDataVault | None) -> dict[str, Any]:
    """A copy of a CloudEvent whose `data.billing_contact` is sealed (contract snapshots only)."""
    sealed = dict(event)
    if vault is None or event.get("type") not in CONTRACT_SNAPSHOT_TYPES:
        return sealed
    data = event.get("data")
    if not isinstance(data, Mapping) or not isinstance(data.get("billing_contact"), Mapping):
        return sealed
    new_data = copy.deepcopy(dict(data))
    new_data["billing_contact"] = vault.seal(
        str(data["contract_id"]), int(data["version"]), _contact_fields(data["billing_contact"])
    ) | {k: v for k, v in data["billing_contact"].items() if k not in CONTACT_FIELDS}
    sealed["data"] = new_data
    return sealed


def open_contract_data(data: ContractSnapshotData, vault: PersonalDataVault | None) -> ContractSnapshotData:
    """The contract snapshot with its contact opened (unchanged without a vault)."""
    contact = data.billing_contact
    if vault is None or contact is None:
        return data
    sealed = {"name": contact.name, "email": contact.email}
    opened = vault.open(data.contract_id, data.version, _contact_fields(sealed))
    return data.model_copy(update={"billing_contact": contact.model_copy(update=opened)})


def _contact_fields(contact: Mapping[str, Any]) -> dict[str, str]:
    return {field: str(contact[field]) for field in CONTACT_FIELDS if contact.get(field)}
