"""The parts of a lineage document that both readers of the ledger build alike.

`trace_lineage` builds them from the domain's values (a deployed stack, or any
ledger); the local read-only commands (`billbridge.local.trace_reads`,
`exception_reads`) from the stored rows with the standard library. What they
share, over plain dicts, lives here once: the canonical events behind a record
(with their delivery claim and raw payload, each read once) and the trace
document itself. Standard library only: the light commands import it.
"""

from __future__ import annotations

import json

TYPE_CHECKING = False  # `typing` costs ~4 ms to import: its names serve annotations only
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any


class EventDocuments:
    """Canonical events by `source:id`, each with its delivery claim and the element of its raw
    payload (each read once). Subclasses say where a delivery and a raw body are read from."""

    def __init__(self) -> None:
        self._events: dict[str, dict[str, Any]] = {}
        self._bodies: dict[str, Any] = {}

    def delivery(self, source: str, event_id: str) -> Mapping[str, str] | None:
        """The delivery claim's text fields (raw_key, correlation_id, accepted_at), None if none."""
        raise NotImplementedError

    def raw_body(self, raw_key: str) -> str | bytes | None:
        """The raw payload kept under `raw_key`, None when there is none to read."""
        raise NotImplementedError

    def event(self, source_ref: str, correlation_id: str = "") -> dict[str, Any]:
        if source_ref in self._events:
            return self._events[source_ref]
        source, _, event_id = source_ref.partition(":")
        delivery = self.delivery(source, event_id) if event_id else None
        raw_key = (delivery or {}).get("raw_key", "")
        element = self._element(raw_key, event_id)
        document = {
            "ref": source_ref,
            "source": source,
            "id": event_id,
            "type": element.get("type", ""),
            "time": element.get("time", ""),
            "correlation_id": (delivery or {}).get("correlation_id", correlation_id),
            "accepted_at": (delivery or {}).get("accepted_at", ""),
            "raw_key": raw_key,
            "delivery_known": delivery is not None,
        }
        self._events[source_ref] = document
        return document

    def seen(self) -> list[dict[str, Any]]:
        return sorted(self._events.values(), key=lambda e: (e["accepted_at"], e["ref"]))

    def _element(self, raw_key: str, event_id: str) -> dict[str, Any]:
        if not raw_key:
            return {}
        if raw_key not in self._bodies:
            try:
                raw = self.raw_body(raw_key)
                self._bodies[raw_key] = None if raw is None else json.loads(raw)
            except Exception:  # a missing or unreadable payload: the view says so instead of failing
                self._bodies[raw_key] = None
        body = self._bodies[raw_key]
        for element in body if isinstance(body, list) else [body]:
            if isinstance(element, dict) and element.get("id") == event_id:
                return element
        return {}


def trace_document(
    identifier: str,
    matched: str,
    contract_ids: list[str],
    events: EventDocuments,
    lines: list[dict[str, Any]],
    proposals: list[dict[str, Any]],
    correlation_ids: set[str],
    trail_by_correlation: Callable[[str], Iterable[dict[str, Any]]],
    tree: dict[str, Any],
) -> dict[str, Any]:
    """What `trace ID` shows: the lines and proposals in view, the canonical events and raw
    webhooks behind them, and the audit records of every correlation id they carry."""
    correlation_ids = set(correlation_ids)
    for document in lines:
        correlation_ids.add(document["correlation_id"])
        correlation_ids.update(event["correlation_id"] for event in document["source_events"])
    audit: list[dict[str, Any]] = []
    for correlation_id in sorted(c for c in correlation_ids if c):
        audit.extend(trail_by_correlation(correlation_id))
    audit.sort(key=lambda record: (str(record.get("recorded_at", "")), str(record.get("contract_id", ""))))
    canonical = events.seen()
    return {
        "query": identifier,
        "matched": matched,
        "contracts": contract_ids,
        "raw_webhooks": sorted(
            {
                e["raw_key"]: {"raw_key": e["raw_key"], "source": e["source"]} for e in canonical if e["raw_key"]
            }.values(),
            key=lambda raw: raw["raw_key"],
        ),
        "canonical_events": canonical,
        "lines": lines,
        "proposals": proposals,
        "erp_invoices": [p["erp_invoice"] for p in proposals if p["erp_invoice"]],
        "payments": [payment for p in proposals for payment in p["payments"]],
        "audit": audit,
        "tree": tree,
    }


NOT_AN_EVENT = ("adjustment:", "time:", "expense:", "milestone:", "fee:")
"""Source references that name a record of the hub's own, not a canonical event."""


def line_source_events(
    events: EventDocuments, source_refs: Iterable[str], provenance: tuple[str, str] | None
) -> list[dict[str, Any]]:
    """The canonical events behind a line: its source references and its provenance's
    (`(source_ref, correlation_id)`), each once, in that order."""
    refs = list(dict.fromkeys([*source_refs, *([provenance[0]] if provenance else [])]))
    return [
        events.event(ref, provenance[1] if provenance else "")
        for ref in refs
        if ":" in ref and not ref.startswith(NOT_AN_EVENT)
    ]


def contract_terms(
    events: EventDocuments,
    audit: Iterable[dict[str, Any]],
    contract_id: str,
    version: int,
    effective_date: str,
    term: str,
) -> dict[str, Any]:
    """The contract version a line was priced under, with the event that stored it (found in the
    contract's audit trail)."""
    origin = next(
        (
            record
            for record in audit
            if record.get("action") == "version_stored" and record.get("ref") == f"{contract_id}:v{version}"
        ),
        None,
    )
    return {
        "version": version,
        "effective_date": effective_date,
        "term": term,
        "source_event": (
            events.event(str(origin["source_ref"]), str(origin.get("correlation_id", "")))
            if origin and origin.get("source_ref")
            else None
        ),
    }
