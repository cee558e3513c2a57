"""The ledger's audit trails on the local state, read with the standard library.

`billbridge exceptions show`, `trace` and `report` read them as `DynamoLedger` does:
- whole-book audit items: partition `AUDIT#{contract}`, index `CORRELATION#{id}`, the
  records in `records_z` (zlib JSON), `records` or `record`
  (`billbridge.adapters.dynamo_audit_log`);
- each input's audit, the second line of its `IN#` body (a list of saves `{"at", "records"}`),
  found by correlation through index `INPUT_AUDIT#{id}`, either on the input item or on
  its entry's lookup `ENTRY#{entry}` (`billbridge.adapters.dynamo_book_store`).
"""

from __future__ import annotations

import json
import zlib

from billbridge.local.read_models import LEDGER, ReadOnlyStore, _body, _text, binary

TYPE_CHECKING = False  # `typing` costs ~4 ms to import: its names serve annotations only
if TYPE_CHECKING:
    from typing import Any

    from billbridge.local.contract_reads import StoredContract

ENTRY_LOOKUP_PREFIX = "ENTRY#"
"""`billbridge.adapters.dynamo_book_store.ENTRY_LOOKUP_PREFIX` (a test keeps them equal)."""


def records_of(item: dict[str, Any]) -> list[dict[str, Any]]:
    """`billbridge.adapters.dynamo_audit_log.audit_records_of`."""
    if "records_z" in item:
        return list(json.loads(zlib.decompress(binary(item["records_z"]["B"]))))
    if "records" in item:
        return list(json.loads(item["records"]["S"]))
    return [json.loads(item["record"]["S"])]


def _input_saves(item: dict[str, Any]) -> list[dict[str, Any]]:
    """The saves kept in an input item's body, after the input itself."""
    body = _body(item)
    audit = body.partition(b"\n")[2] if body is not None else b""
    return list(json.loads(audit)) if audit else []


def trail_of_contract(store: ReadOnlyStore, contract: StoredContract) -> list[dict[str, Any]]:
    """`DynamoLedger.audit_trail_of_contract`: whole-book records, then each input's, by time."""
    contract_id = contract.contract_id
    trail = [
        {**record, "contract_id": contract_id, "recorded_at": _text(item, "recorded_at")}
        for item in store.items_by_partition(LEDGER, f"AUDIT#{contract_id}")
        for record in records_of(item)
    ]
    for audit in contract.audits.values():
        for save in json.loads(audit) if audit else ():
            trail.extend(
                {**record, "contract_id": contract_id, "recorded_at": save["at"]} for record in save["records"]
            )
    return sorted(trail, key=lambda record: record["recorded_at"])


def trail_by_correlation(store: ReadOnlyStore, correlation_id: str) -> list[dict[str, Any]]:
    """`DynamoLedger.audit_trail_by_correlation`: the records of one correlation id across contracts."""
    trail = []
    for item in store.items_by_index(LEDGER, f"CORRELATION#{correlation_id}"):
        contract_id = _text(item, "pk").removeprefix("AUDIT#")
        trail.extend(
            {**record, "contract_id": contract_id, "recorded_at": _text(item, "recorded_at")}
            for record in records_of(item)
        )
    found = store.items_by_index(LEDGER, f"INPUT_AUDIT#{correlation_id}")
    inputs = [i for i in found if not _text(i, "pk").startswith(ENTRY_LOOKUP_PREFIX)]
    for lookup in (i for i in found if _text(i, "pk").startswith(ENTRY_LOOKUP_PREFIX)):
        entry_id = _text(lookup, "pk")[len(ENTRY_LOOKUP_PREFIX) :]
        item = store.item(LEDGER, f"CONTRACT#{_text(lookup, 'contract_id')}", f"IN#time#{entry_id}")
        if item is not None:
            inputs.append(item)
    unique = {(_text(i, "pk"), _text(i, "sk")): i for i in inputs}
    for item in unique.values():
        contract_id = _text(item, "pk").removeprefix("CONTRACT#")
        trail.extend(
            {**record, "contract_id": contract_id, "recorded_at": save["at"]}
            for save in _input_saves(item)
            for record in save["records"]
            if record.get("correlation_id") in (correlation_id, "")
        )
    return sorted(trail, key=lambda record: (record["recorded_at"], record["contract_id"]))
