"""`customers list` on the local state, read with the standard library.

The rows `billbridge customers list` prints are `billbridge.reporting.customer_view.customer_rows`
over the customer master and every contract book; built that way they decode every book
with pydantic, though a row needs only each contract's latest customer. Here the same rows
come from the stored items (`billbridge.adapters.dynamo_master_data`'s layout):

- the customers in the master: partition `MASTERS#customer`, one item per customer id;
- a customer's versions: partition `MASTER#customer#{id}`, items `V#...`, each with the
  `customer.upserted` data as the hub recorded it (`document`), read as
  `billbridge.app.event_translation.customer_version_from` reads it;
- contracts waiting for their customer: partition `PENDING#{customer id}`;
- each contract's latest version: its `HEAD` item (`billbridge.adapters.dynamo_book_items`).

tests/integration/operations/test_show_reads.py compares these rows with the full path's on
the demo's state and on replayed scenarios. A ledger holding a book in the single-item
layout of decision 1 is left to the full path (`LEGACY_LAYOUT`).
"""

from __future__ import annotations

import json

from billbridge.local.contract_reads import stored_contract
from billbridge.local.read_models import LEDGER, ReadOnlyStore, _body, _text

TYPE_CHECKING = False  # `typing` costs ~4 ms to import: its names serve annotations only
if TYPE_CHECKING:
    from typing import Any

LEGACY_LAYOUT = "legacy-layout"
"""`customer_rows`' answer when a contract book is stored as one `BOOK` item: read them through the ledger."""


def _customer_versions(store: ReadOnlyStore, customer_id: str) -> dict[int, dict[str, Any]]:
    """The stored versions of a customer by number (`customer_versions`), each with its source."""
    versions: dict[int, dict[str, Any]] = {}
    for item in store.items_by_partition(LEDGER, f"MASTER#customer#{customer_id}"):
        if _text(item, "sk").startswith("V#"):
            document = json.loads(_text(item, "document"))
            versions[int(document["data"]["version"])] = document
    return versions


def _latest_customer(store: ReadOnlyStore, customer_id: str) -> dict[str, Any] | None:
    versions = _customer_versions(store, customer_id)
    return versions[max(versions)] if versions else None


def _currencies(data: dict[str, Any]) -> list[str]:
    currency = str(data["currency"])
    return [currency, *(str(c) for c in data.get("additional_currencies") or () if str(c) != currency)]


def _pending_contracts(store: ReadOnlyStore, customer_id: str) -> list[str]:
    return sorted(_text(item, "sk") for item in store.items_by_partition(LEDGER, f"PENDING#{customer_id}"))


def _contracts_by_customer(store: ReadOnlyStore) -> dict[str, list[str]]:
    """Contract ids by their latest version's customer (contracts with no version are in none)."""
    grouped: dict[str, list[str]] = {}
    for item in store.items_by_sort_key(LEDGER, "CONTRACT#", "HEAD"):
        body = _body(item)
        versions = (json.loads(body).get("versions") or {}) if body is not None else {}
        if versions:
            latest = versions[max(versions, key=int)]
            grouped.setdefault(latest["customer_id"], []).append(_text(item, "pk").removeprefix("CONTRACT#"))
    return grouped


def customer_rows(store: ReadOnlyStore) -> list[dict[str, Any]] | str:
    """What `customers list` prints: one row per customer in the master or named by a contract."""
    if store.items_by_sort_key(LEDGER, "CONTRACT#", "BOOK"):
        return LEGACY_LAYOUT
    grouped = _contracts_by_customer(store)
    in_master = [_text(item, "sk") for item in store.items_by_partition(LEDGER, "MASTERS#customer")]
    rows = []
    for customer_id in sorted(set(in_master) | set(grouped)):
        latest = _latest_customer(store, customer_id)
        data = latest["data"] if latest else {}
        exemption = (data.get("tax_profile") or {}).get("exemption") if latest else None
        rows.append(
            {
                "customer_id": customer_id,
                "name": str(data["name"]) if latest else "",
                "in_master": latest is not None,
                "status": str(data["status"]) if latest else "not in master",
                "version": int(data["version"]) if latest else None,
                "currencies": _currencies(data) if latest else [],
                "tax_exemption": str(exemption["certificate_id"]) if exemption else "",
                "source": str(latest.get("source", "")) if latest else "",
                "contracts": sorted(grouped.get(customer_id, [])),
                "pending_contracts": _pending_contracts(store, customer_id),
            }
        )
    return rows


def _iso_date(value: Any) -> str:
    from datetime import date

    return date.fromisoformat(str(value)).isoformat()


def _customer_ids(data: dict[str, Any]) -> dict[str, Any]:
    """`billbridge.app.customer_master.customer_id_map` of the stored data."""
    ids: dict[str, Any] = {"customer_id": str(data["customer_id"])}
    if data.get("crm_account_id"):
        ids["crm_account_id"] = data["crm_account_id"]
    if data.get("psa_client_id"):
        ids["psa_client_id"] = data["psa_client_id"]
    for instance, erp_id in sorted(
        (str(i["erp_instance"]), str(i["customer_id"])) for i in data.get("erp_customer_ids") or ()
    ):
        ids[f"erp_customer_id@{instance}"] = erp_id
    return ids


def customer_summary(store: ReadOnlyStore, customer_id: str) -> dict[str, Any] | None:
    """`billbridge.app.customer_master.customer_summary`: the customer's latest version as stored."""
    versions = _customer_versions(store, customer_id)
    if not versions:
        return None
    latest = versions[max(versions)]
    data = latest["data"]
    exemption = data["tax_profile"].get("exemption")
    bill_to = data["bill_to"] or {}
    return {
        "customer_id": str(data["customer_id"]),
        "name": str(data["name"]),
        "status": str(data["status"]),
        "version": int(data["version"]),
        "versions": sorted(versions),
        "effective_date": _iso_date(data["effective_date"]),
        "parent_customer_id": data.get("parent_customer_id"),
        "currencies": _currencies(data),
        "tax_jurisdiction": str(data["tax_profile"]["jurisdiction"]),
        "tax_exemptions": (
            [
                {
                    "certificate_id": str(exemption["certificate_id"]),
                    "valid_from": _iso_date(exemption["valid_from"]),
                    "valid_to": _iso_date(exemption["valid_to"]) if exemption.get("valid_to") else None,
                }
            ]
            if exemption
            else []
        ),
        "payment_terms_days": int(data["payment_terms"]["net_days"]),
        "bill_to": {name: str(bill_to.get(name, "")) for name in ("line1", "city", "postal_code", "country")},
        "source": str(latest.get("source", "")),
        "ids": _customer_ids(data),
        "pending_contracts": _pending_contracts(store, customer_id),
    }


def customer_detail(store: ReadOnlyStore, customer_id: str) -> dict[str, Any] | str | None:
    """What `customers show ID` prints (`billbridge.reporting.customer_view.customer_detail`); None when
    neither the master nor a contract knows the customer."""
    if store.items_by_sort_key(LEDGER, "CONTRACT#", "BOOK"):
        return LEGACY_LAYOUT
    summary = customer_summary(store, customer_id)
    contract_ids = sorted(_contracts_by_customer(store).get(customer_id, []))
    if summary is None and not contract_ids:
        return None
    pending = set(_pending_contracts(store, customer_id))
    rows = []
    for contract_id in contract_ids:
        contract = stored_contract(store, contract_id)
        assert not isinstance(contract, str) and contract.latest_version is not None
        latest = contract.latest_version
        rows.append(
            {
                "contract_id": contract_id,
                "version": latest["version"],
                "currency": latest["currency"],
                "legal_entity": latest["legal_entity"],
                "master_status": "pending_customer" if contract_id in pending else "",
                "invoices": len(contract.invoices),
                "open_exceptions": sum(1 for e in contract.exceptions.values() if e.get("state", "open") == "open"),
            }
        )
    return {
        "customer_id": customer_id,
        "in_master": summary is not None,
        **(summary or {"status": "not in master", "ids": {"customer_id": customer_id}}),
        "contracts": rows,
    }
