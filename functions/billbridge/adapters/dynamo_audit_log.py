"""The audit read side of the ledger table, and the shapes of the items it reads.

- `EXCEPTION#{exception_id}` / `EXCEPTION`: the operators' view of each
  exception; lookup index `EXCEPTIONS` / `{state}#{type}#{contract}#{id}`.
- `AUDIT#{contract_id}` / `{recorded at}#{save}`: the audit records of one
  whole-book save (one cause, so one correlation id); lookup index
  `CORRELATION#{id}`; expires (TTL `expires_at`) after the retention period.
  Items written by earlier versions are keyed `{revision}` or `{revision}#{n}`
  and are read the same way.

The book store writes these items in the same transactions as the book
(`exception_item`, `audit_item`); only this module reads them. The audit of
changes to one input is kept with the input (see `dynamo_book_store`), which
answers for it.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable
from typing import Any

from pydantic import TypeAdapter

from billbridge import topology
from billbridge.adapters.dynamo_table import DynamoTable
from billbridge.domain.model import BillingException

AUDIT_TTL_ATTRIBUTE = topology.LEDGER_TABLE.ttl_attribute or "expires_at"
EXCEPTION_ADAPTER: TypeAdapter[BillingException] = TypeAdapter(BillingException)


def exception_item(exception: BillingException) -> dict[str, Any]:
    return {
        "pk": {"S": f"EXCEPTION#{exception.exception_id}"},
        "sk": {"S": "EXCEPTION"},
        "gsi1pk": {"S": "EXCEPTIONS"},
        "gsi1sk": {
            "S": f"{exception.state.value}#{exception.type.value}#{exception.contract_id}#{exception.exception_id}"
        },
        "contract_id": {"S": exception.contract_id},
        "type": {"S": exception.type.value},
        "state": {"S": exception.state.value},
        "exception": {"S": EXCEPTION_ADAPTER.dump_json(exception).decode()},
    }


COMPRESS_RECORDS_ABOVE_BYTES = 16 * 1024
"""A save's records larger than this are stored zlib-compressed (`records_z`)."""
MAX_PART_BYTES = 300 * 1024
"""At most this much (compressed) per audit item: DynamoDB items hold 400 KB."""


def audit_item(
    contract_id: str,
    save_id: str,
    records: list[dict[str, Any]],
    *,
    recorded_at: str,
    expires_at: int,
    part: int = 0,
) -> dict[str, Any]:
    correlation_id = next((r["correlation_id"] for r in records if r.get("correlation_id")), "")
    text = json.dumps(records, default=str)
    sk = f"{recorded_at}#{save_id}" + (f"#{part:04d}" if part else "")
    item: dict[str, Any] = {
        "pk": {"S": f"AUDIT#{contract_id}"},
        "sk": {"S": sk},
        "recorded_at": {"S": recorded_at},
        AUDIT_TTL_ATTRIBUTE: {"N": str(expires_at)},
    }
    if len(text) > COMPRESS_RECORDS_ABOVE_BYTES:
        item["records_z"] = {"B": zlib.compress(text.encode("utf-8"), 6)}
    else:
        item["records"] = {"S": text}
    if part:
        item["save"] = {"S": f"{recorded_at}#{save_id}"}
    if correlation_id:
        item["gsi1pk"] = {"S": f"CORRELATION#{correlation_id}"}
        item["gsi1sk"] = {"S": f"{recorded_at}#{contract_id}#{save_id}" + (f"#{part:04d}" if part else "")}
    return item


def audit_items(
    contract_id: str,
    save_id: str,
    records: list[dict[str, Any]],
    *,
    recorded_at: str,
    expires_at: int,
) -> list[dict[str, Any]]:
    """One save's records as one item, or as several parts (`{save}#0001`, ...) when one item
    would exceed `MAX_PART_BYTES` compressed; all parts are written in one transaction."""
    pending = [records]
    done: list[list[dict[str, Any]]] = []
    while pending:
        chunk = pending.pop(0)
        item = audit_item(contract_id, save_id, chunk, recorded_at=recorded_at, expires_at=expires_at)
        stored = item.get("records_z", {}).get("B") or item.get("records", {}).get("S", "")
        if len(stored) > MAX_PART_BYTES and len(chunk) > 1:
            half = len(chunk) // 2
            pending[:0] = [chunk[:half], chunk[half:]]
            continue
        done.append(chunk)
    return [
        audit_item(contract_id, save_id, chunk, recorded_at=recorded_at, expires_at=expires_at, part=n)
        for n, chunk in enumerate(done)
    ]


def audit_records_of(item: dict[str, Any]) -> list[dict[str, Any]]:
    """The audit records an audit item holds (one save's records, or a part of them)."""
    if "records_z" in item:
        value = item["records_z"]["B"]
        packed: list[dict[str, Any]] = json.loads(zlib.decompress(bytes(value)))
        return packed
    if "records" in item:
        records: list[dict[str, Any]] = json.loads(item["records"]["S"])
        return records
    return [json.loads(item["record"]["S"])]  # an item written one record at a time (older ledgers)


class DynamoAuditReadSide:
    def __init__(self, table: DynamoTable) -> None:
        self._table = table

    def exceptions(self) -> Iterable[BillingException]:
        for item in self._table.query_index("EXCEPTIONS"):
            yield EXCEPTION_ADAPTER.validate_json(item["exception"]["S"])

    def trail_of_contract(self, contract_id: str) -> list[dict[str, Any]]:
        """The contract's whole-book audit records, each with `recorded_at` and `contract_id`."""
        return [
            {**record, "contract_id": contract_id, "recorded_at": item.get("recorded_at", {}).get("S", "")}
            for item in self._table.query_pk(f"AUDIT#{contract_id}")
            for record in audit_records_of(item)
        ]

    def trail_by_correlation(self, correlation_id: str) -> list[dict[str, Any]]:
        trail = []
        for item in self._table.query_index(f"CORRELATION#{correlation_id}"):
            contract_id = item["pk"]["S"].removeprefix("AUDIT#")
            trail.extend(
                {**record, "contract_id": contract_id, "recorded_at": item.get("recorded_at", {}).get("S", "")}
                for record in audit_records_of(item)
            )
        return trail

    def saves_by_correlation(self) -> dict[str, set[str]]:
        """Correlation id -> the whole-book saves whose audit names it (an operations
        and test read: scans the table)."""
        saves: dict[str, set[str]] = {}
        for item in self._table.scan_prefix("AUDIT#"):
            sk = item.get("save", item["sk"])["S"]  # a part of a save names its save
            head = sk.split("#", 1)[0]
            save = item["pk"]["S"] + "/" + (head if head.isdigit() else sk)  # older items: `{revision}#{n}`
            for record in audit_records_of(item):
                saves.setdefault(record.get("correlation_id") or "", set()).add(save)
        return saves
