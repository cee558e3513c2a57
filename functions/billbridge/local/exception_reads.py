"""`exceptions show` on the local state, read with the standard library.

`billbridge exceptions show ID` prints `billbridge.reporting.trace_lineage.explain_exception`:
the exception, the lines and inputs it concerns, the contract version's terms, the cap
(for `cap_exceeded`), the audit trail of its correlation id, the event that raised it
and how to resolve it. Built that way it decodes the book with pydantic and imports the
domain model and the lineage views (about 19 times a bare import). Here the same document
is built from the stored items with `json`, `zlib` and `decimal`, as the ledger's adapters
lay them out:

- the exceptions inbox (`read_models.exceptions`) and the book (`contract_reads`);
- the audit trails (`audit_reads`: whole-book audit items and each input's saves);
- delivery claims `DELIVERY#{source}#{id}` / `DELIVERY` and the raw bodies they keep
  (`raw_body`, zlib when `raw_encoding` says so) or name in the raw payload bucket
  (`billbridge.adapters.dynamo_delivery_registry`, `s3_raw_payload_store`).

tests/integration/operations/test_show_reads.py compares the document with the full
path's, as JSON text and as printed, for every exception of the demo's state and of
replayed scenarios.
"""

from __future__ import annotations

import zlib
from decimal import Decimal

from billbridge.local.audit_reads import trail_by_correlation, trail_of_contract
from billbridge.local.contract_reads import LEGACY_LAYOUT, StoredContract, line_document, stored_contract
from billbridge.local.read_models import LEDGER, ReadOnlyStore, _text, binary, exceptions
from billbridge.reporting.lineage_documents import EventDocuments

TYPE_CHECKING = False  # `typing` costs ~4 ms to import: its names serve annotations only
if TYPE_CHECKING:
    from typing import Any

INLINE_RAW_KEY_PREFIX = "delivery-claim:"
"""`billbridge.app.ports.INLINE_RAW_KEY_PREFIX` (a test keeps them equal): a raw key naming a delivery claim."""


def _amount(value: Any) -> str:
    return format(Decimal(value), "f")


# --- the event behind a record --------------------------------------------------------------


def _raw_body(store: ReadOnlyStore, raw_key: str) -> bytes | None:
    """`S3RawPayloadStore.load`: a body kept in a delivery claim, or an object of the raw bucket."""
    if raw_key.startswith(INLINE_RAW_KEY_PREFIX):
        source, _, event_id = raw_key[len(INLINE_RAW_KEY_PREFIX) :].partition("/")
        claim = store.item(LEDGER, f"DELIVERY#{source}#{event_id}", "DELIVERY")
        if claim is None or "raw_body" not in claim:
            return None
        body = binary(claim["raw_body"]["B"])
        return zlib.decompress(body) if _text(claim, "raw_encoding") == "zlib" else body
    return store.object_body(raw_key)


class EventResolver(EventDocuments):
    """Canonical events by `source:id`, with their delivery claim and raw payload read from the
    stored rows (`trace_lineage._EventResolver` reads them through the ledger)."""

    def __init__(self, store: ReadOnlyStore) -> None:
        super().__init__()
        self._store = store

    def delivery(self, source: str, event_id: str) -> dict[str, str] | None:
        claim = self._store.item(LEDGER, f"DELIVERY#{source}#{event_id}", "DELIVERY")
        return None if claim is None else {name: value["S"] for name, value in claim.items() if "S" in value}

    def raw_body(self, raw_key: str) -> bytes | None:
        return _raw_body(self._store, raw_key)


# --- the exception's document ---------------------------------------------------------------


def _terms(version: dict[str, Any]) -> dict[str, Any]:
    policy = version.get("expense_policy")
    return {
        "version": version["version"],
        "effective_date": version["effective_date"],
        "term": f"{version['start_date']}..{version['end_date']}",
        "currency": version["currency"],
        "legal_entity": version["legal_entity"],
        "tax_jurisdiction": version["tax_jurisdiction"],
        "rate_card": [
            {
                "line": f"resource_id={r['resource_id']}" if r.get("resource_id") else f"role={r.get('role')}",
                "rate": _amount(r["rate"]),
            }
            for r in version.get("rate_card") or ()
        ],
        "cap_amount": None if version.get("cap_amount") is None else _amount(version["cap_amount"]),
        "cost_centers": list(version.get("cost_centers") or ()),
        "milestones": [
            {"milestone_id": m["milestone_id"], "name": m["name"], "amount": _amount(m["amount"])}
            for m in version.get("milestones") or ()
        ],
        "expense_policy": (
            None
            if policy is None
            else {
                "billable_categories": list(policy.get("billable_categories") or ()),
                "markup_pct": _amount(policy.get("markup_pct", "0")),
            }
        ),
    }


def _cap(contract: StoredContract, exception: dict[str, Any]) -> dict[str, Any]:
    """`_cap_document`: the cap against the time billed on invoices that count."""
    latest = contract.latest_version
    cap = None if latest is None or latest.get("cap_amount") is None else Decimal(latest["cap_amount"])
    invoiced = sum(
        (
            Decimal(line["amount"])
            for invoice in contract.invoices.values()
            if invoice.get("status", "proposed") != "rejected"
            for line in invoice.get("lines") or ()
            if line["kind"] == "time"
        ),
        Decimal("0"),
    )
    return {
        "cap_amount": None if cap is None else format(cap, "f"),
        "cap_version": latest["version"] if latest else None,
        "invoiced_time": format(invoiced, "f"),
        "remaining": None if cap is None else format(max(cap - invoiced, Decimal(0)), "f"),
        "held": _amount(exception["amount"]),
    }


def _lines(contract: StoredContract, exception: dict[str, Any]) -> list[dict[str, Any]]:
    """`_lines_of_exception`: the lines it holds or concerns, else the lines of its refs, in cap order."""
    line_ids = list(exception.get("line_ids") or ())
    found: dict[str, dict[str, Any]] = {}
    for line_id in line_ids:
        if line_id in contract.lines:
            found[line_id] = contract.lines[line_id]
    for invoice in contract.invoices.values():
        for line in invoice.get("lines") or ():
            if line["line_id"] in line_ids and line["line_id"] not in found:
                found[line["line_id"]] = line
    if not found:
        refs = list(exception.get("refs") or ())
        for line in contract.lines.values():
            if line["ref"] in refs:
                found[line["line_id"]] = line
    ordered = sorted(
        found.values(),
        key=lambda line: (
            line.get("first_date") or line["line_date"],
            line["ref"],
            int(line.get("split_position") or 0),
        ),
    )
    return [
        {
            **line_document(line),
            "line_date": line["line_date"],
            "invoice_id": line.get("invoice_id"),
            "state": "invoiced"
            if line.get("invoice_id")
            else ("held" if not line.get("cap_released", False) else "released"),
        }
        for line in ordered
    ]


def _source_ref(item: dict[str, Any] | None) -> str:
    provenance = (item or {}).get("provenance")
    return provenance["source_ref"] if provenance else ""


def _inputs(contract: StoredContract, exception: dict[str, Any]) -> list[dict[str, Any]]:
    """`_inputs_of`: the entries, expenses, milestone completions and invoices it refers to."""
    entries, expenses, completions = (contract.inputs[kind] for kind in ("entry", "expense", "completion"))
    inputs: list[dict[str, Any]] = []
    for ref in exception.get("refs") or ():
        if ref in entries:
            entry = entries[ref]
            days = entry.get("days") or []
            inputs.append(
                {
                    "kind": "time_entry",
                    "ref": ref,
                    "revision": entry["revision"],
                    "resource_id": entry.get("resource_id"),
                    "role": entry.get("role"),
                    "cost_center": entry.get("cost_center"),
                    "bill_rate": None if entry.get("bill_rate") is None else _amount(entry["bill_rate"]),
                    "hours": format(sum((Decimal(day["hours"]) for day in days), Decimal(0)), "f"),
                    "dates": f"{days[0]['date']}..{days[-1]['date']}" if days else "",
                    "rejected": entry.get("rejected", False),
                    "source_ref": _source_ref(entry),
                }
            )
        elif ref in expenses:
            expense = expenses[ref]
            inputs.append(
                {
                    "kind": "expense",
                    "ref": ref,
                    "date": expense["date"],
                    "category": expense["category"],
                    "amount": _amount(expense["amount"]),
                    "currency": expense["currency"],
                    "source_ref": _source_ref(expense),
                }
            )
        elif ref in completions:
            completion = completions[ref]
            inputs.append(
                {
                    "kind": "milestone_completion",
                    "ref": ref,
                    "completed_on": completion["completed_on"],
                    "source_ref": _source_ref(completion),
                }
            )
        elif ref in contract.invoices:
            invoice = contract.invoices[ref]
            inputs.append(
                {
                    "kind": "invoice",
                    "ref": ref,
                    "status": invoice.get("status", "proposed"),
                    "total": _amount(invoice["total"]),
                    "rejection_reason": invoice.get("rejection_reason"),
                }
            )
    return inputs


def explain_exception(store: ReadOnlyStore, exception_id: str) -> dict[str, Any] | str | None:
    """What `exceptions show ID` prints (without the command of a sync exception); None when the
    inbox holds no such exception, LEGACY_LAYOUT when its book must be read through the ledger."""
    from billbridge.reporting.resolution_hints import RESOLUTION_HINTS_BY_TYPE

    exception = next((e for e in exceptions(store) if e["exception_id"] == exception_id), None)
    if exception is None:
        return None
    contract = stored_contract(store, exception["contract_id"])
    if isinstance(contract, str):
        return LEGACY_LAYOUT
    versions = contract.head.get("versions") or {}
    pinned = exception.get("contract_version")
    version = versions[str(pinned)] if pinned is not None and str(pinned) in versions else contract.latest_version
    correlation_id = exception["correlation_id"]
    trail = trail_by_correlation(store, correlation_id) if correlation_id else []
    decisions = [
        record
        for record in trail_of_contract(store, contract)
        if record.get("ref") == exception_id and record not in trail
    ]
    raised = next((r for r in trail if r.get("action") == "exception_raised" and r.get("ref") == exception_id), None)
    raised_from = str(raised.get("source_ref", "")) if raised else ""
    decision = exception.get("decision")
    return {
        "exception_id": exception_id,
        "type": exception["type"],
        "state": exception.get("state", "open"),
        "contract_id": exception["contract_id"],
        "refs": list(exception.get("refs") or ()),
        "amount": _amount(exception["amount"]),
        "currency": exception.get("currency") or (version["currency"] if version else None),
        "period": exception.get("period"),
        "detail": exception.get("detail", ""),
        "correlation_id": correlation_id,
        "raised_by": exception.get("raised_by", "billbridge"),
        "raised_at": raised.get("recorded_at") if raised else None,
        "decision": (
            None
            if decision is None
            else {"actor": decision["actor"], "reason": decision["reason"], "decided_at": decision["decided_at"]}
        ),
        "how_to_resolve": RESOLUTION_HINTS_BY_TYPE.get(exception["type"], ""),
        "contract_version": _terms(version) if version else None,
        "cap": _cap(contract, exception) if exception["type"] == "cap_exceeded" else None,
        "lines": _lines(contract, exception),
        "inputs": _inputs(contract, exception),
        "source_event": (
            EventResolver(store).event(raised_from, correlation_id)
            if raised and ":" in raised_from and not raised_from.startswith(("billing-run", "connector:"))
            else None
        ),
        "correlation_trail": [*trail, *decisions],
    }
