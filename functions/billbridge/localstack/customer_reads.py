"""`customers list` on the local state, read with the standard library.

The rows `billbridge customers list` prints are `billbridge.app.customer_view.customer_rows`
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

from billbridge.localstack.read_models import LEDGER, ReadOnlyStore, _body, _text

TYPE_CHECKING = False  # `typing` costs ~4 ms to import: its names serve annotations only
if TYPE_CHECKING:
    from typing import Any

LEGACY_LAYOUT = "legacy-layout"
"""`customer_rows`' answer when a contract book is stored as one `BOOK` item: read them through the ledger."""


def _latest_customer(store: ReadOnlyStore, customer_id: str) -> dict[str, Any] | None:
    """The latest stored version of a customer (`customer_versions` then `latest_of`), with its source."""
    versions: dict[int, dict[str, Any]] = {}
    for item in store.items_by_partition(LEDGER, f"MASTER#customer#{customer_id}"):
        if _text(item, "sk").startswith("V#"):
            document = json.loads(_text(item, "document"))
            versions[int(document["data"]["version"])] = document
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
