"""`trace ID` on the local state, read with the standard library.

`billbridge trace ID` prints `billbridge.reporting.trace_lineage.trace_lineage`: from an ERP
invoice number, a proposal, an entry (expense, milestone, line, exception) or a correlation
id, the chain raw webhook -> canonical event -> ledger lines (contract version, rate rule,
rules) -> proposal -> ERP invoice -> payments, with the audit records of every correlation
id on the way. Here the same document is built from the stored items (`contract_reads` for
the books, `exception_reads` for audit trails, delivery claims and raw payloads) and the
lookups the ledger keeps: `INVOICE#{number}` / `PROPOSAL` (`dynamo_lookups`),
`PROPOSAL#{id}` and `ENTRY#{id}` / `CONTRACT` (`dynamo_book_store`), the contracts' index.
The tree is drawn by the same `billbridge.reporting.lineage_tree` as on the full path.

tests/integration/operations/test_show_reads.py compares the document with the full
path's, as JSON text and as printed, for every invoice number, proposal, entry and
correlation id of the demo's state and of replayed scenarios.
"""

from __future__ import annotations

from decimal import Decimal

from billbridge.local.audit_reads import trail_by_correlation, trail_of_contract
from billbridge.local.contract_reads import LEGACY_LAYOUT, StoredContract, line_document, stored_contract
from billbridge.local.exception_reads import EventResolver
from billbridge.local.read_models import LEDGER, ReadOnlyStore, _text, contract_ids
from billbridge.reporting.lineage_documents import contract_terms, line_source_events, trace_document
from billbridge.reporting.lineage_tree import lineage_tree

TYPE_CHECKING = False  # `typing` costs ~4 ms to import: its names serve annotations only
if TYPE_CHECKING:
    from typing import Any

Line = dict  # a stored line (the JSON of a `BillingLine`)
"""Source refs that name the hub's own records, not a delivered event."""


class UnknownIdentifierError(LookupError):
    """The id is none of: ERP invoice number, proposal, entry, expense, milestone, line, exception, correlation."""


class _LegacyLayoutError(Exception):
    """A book in the single-item layout: the trace is read through the ledger."""


def _amount(value: Any) -> str:
    return format(Decimal(value), "f")


class _Books:
    def __init__(self, store: ReadOnlyStore) -> None:
        self._store = store
        self._books: dict[str, StoredContract] = {}

    def __call__(self, contract_id: str) -> StoredContract:
        if contract_id not in self._books:
            contract = stored_contract(self._store, contract_id)
            if isinstance(contract, str):
                raise _LegacyLayoutError(contract_id)
            self._books[contract_id] = contract
        return self._books[contract_id]


class _Scope:
    def __init__(self, matched: str, contract_ids: list[str]) -> None:
        self.matched = matched
        self.contract_ids = contract_ids
        self.lines: list[tuple[str, Line]] = []
        self.proposals: list[tuple[str, str]] = []
        self.correlation_ids: set[str] = set()


def _lookup(store: ReadOnlyStore, pk: str, sk: str, attribute: str) -> str | None:
    item = store.item(LEDGER, pk, sk)
    return None if item is None else _text(item, attribute)


def _provenance_of(contract: StoredContract, line: Line) -> dict[str, Any] | None:
    for kind, inputs in (("time", "entry"), ("expense", "expense"), ("milestone", "completion")):
        if line["kind"] == kind and line["ref"] in contract.inputs[inputs]:
            provenance: dict[str, Any] | None = contract.inputs[inputs][line["ref"]].get("provenance")
            return provenance
    return None


def _line_order(line: Line) -> tuple[str, str, int]:
    return (line["line_date"], line["ref"], int(line.get("split_position") or 0))


def _scope_of_lines(matched: str, contract_id: str, contract: StoredContract, lines: list[Line]) -> _Scope:
    lines = sorted(lines, key=_line_order)
    scope = _Scope(matched, [contract_id])
    scope.lines = [(contract_id, line) for line in lines]
    billed = {line.get("invoice_id") for line in lines}
    scope.proposals = [(contract_id, p) for p in sorted(i for i in billed if i and i in contract.invoices)]
    return scope


def _scope_of_refs(matched: str, contract_id: str, contract: StoredContract, refs: set[str]) -> _Scope:
    lines = [line for line in contract.lines.values() if line["ref"] in refs]
    known = {line["line_id"] for line in lines}
    for invoice in contract.invoices.values():
        lines.extend(
            line for line in invoice.get("lines") or () if line["ref"] in refs and line["line_id"] not in known
        )
    return _scope_of_lines(matched, contract_id, contract, lines)


def _scope_of_correlation(correlation_id: str, trail: list[dict[str, Any]], books: _Books) -> _Scope:
    scope = _Scope("correlation", [])
    scope.correlation_ids.add(correlation_id)
    for contract_id in sorted({str(record["contract_id"]) for record in trail}):
        scope.contract_ids.append(contract_id)
        contract = books(contract_id)
        refs = {str(record["ref"]) for record in trail if record["contract_id"] == contract_id}
        for line in sorted(contract.lines.values(), key=lambda line: (line["line_date"], line["ref"])):
            source = _provenance_of(contract, line)
            if (
                line.get("correlation_id", "") == correlation_id
                or line["line_id"] in refs
                or (source is not None and source["correlation_id"] == correlation_id)
            ):
                scope.lines.append((contract_id, line))
        billed = {line.get("invoice_id") for cid, line in scope.lines if cid == contract_id}
        for invoice in sorted(contract.invoices.values(), key=lambda i: (i["period"], int(i["seq"]))):
            if (
                invoice["correlation_id"] == correlation_id
                or invoice["proposal_id"] in refs
                or invoice["proposal_id"] in billed
            ):
                scope.proposals.append((contract_id, invoice["proposal_id"]))
    return scope


def _resolve(store: ReadOnlyStore, identifier: str, books: _Books) -> _Scope:
    """`trace_lineage._resolve`: what the identifier names, tried in the same order."""
    proposal_id = _lookup(store, f"INVOICE#{identifier}", "PROPOSAL", "proposal_id")
    matched = "erp_invoice"
    if proposal_id is None and _lookup(store, f"PROPOSAL#{identifier}", "CONTRACT", "contract_id") is not None:
        proposal_id, matched = identifier, "proposal"
    if proposal_id is not None:
        contract_id = _lookup(store, f"PROPOSAL#{proposal_id}", "CONTRACT", "contract_id")
        if contract_id is None:
            raise UnknownIdentifierError(f"invoice {identifier} refers to unknown proposal {proposal_id}")
        invoice = books(contract_id).invoices[proposal_id]
        scope = _Scope(matched, [contract_id])
        scope.lines = [(contract_id, line) for line in invoice.get("lines") or ()]
        scope.proposals = [(contract_id, proposal_id)]
        return scope
    contract_id = _lookup(store, f"ENTRY#{identifier}", "CONTRACT", "contract_id")
    if contract_id is not None:
        return _scope_of_refs("entry", contract_id, books(contract_id), {identifier})
    trail = trail_by_correlation(store, identifier)
    if trail:
        return _scope_of_correlation(identifier, trail, books)
    for contract_id in contract_ids(store):
        contract = books(contract_id)
        if identifier in contract.inputs["expense"]:
            return _scope_of_refs("expense", contract_id, contract, {identifier})
        if identifier in contract.inputs["completion"]:
            return _scope_of_refs("milestone", contract_id, contract, {identifier})
        if identifier in contract.lines:
            return _scope_of_lines("line", contract_id, contract, [contract.lines[identifier]])
        if identifier in contract.exceptions:
            refs = set(contract.exceptions[identifier].get("refs") or ()) | {identifier}
            return _scope_of_refs("exception", contract_id, contract, refs)
    raise UnknownIdentifierError(
        f"{identifier!r} is not a known ERP invoice number, proposal, entry, expense, milestone, "
        "line, exception or correlation id"
    )


def _line_lineage(
    contract: StoredContract, line: Line, audit: list[dict[str, Any]], events: EventResolver
) -> dict[str, Any]:
    provenance = _provenance_of(contract, line)
    source_events = line_source_events(
        events,
        line.get("source_refs") or (),
        (provenance["source_ref"], provenance["correlation_id"]) if provenance else None,
    )
    terms = None
    versions = contract.head.get("versions") or {}
    pinned = line.get("contract_version")
    if pinned is not None and str(pinned) in versions:
        version = versions[str(pinned)]
        terms = contract_terms(
            events,
            audit,
            contract.contract_id,
            version["version"],
            version["effective_date"],
            f"{version['start_date']}..{version['end_date']}",
        )
    return {
        **line_document(line),
        "contract_id": contract.contract_id,
        "line_date": line["line_date"],
        "currency": line["currency"],
        "invoice_id": line.get("invoice_id"),
        "source_events": source_events,
        "contract_terms": terms,
    }


def _proposal_document(invoice: dict[str, Any]) -> dict[str, Any]:
    number = invoice.get("erp_invoice_number")
    erp_invoice = None
    if number:
        erp_invoice = {
            "invoice_number": number,
            "proposal_id": invoice["proposal_id"],
            "erp_instance": invoice["erp_instance"],
            "posting_date": invoice.get("posting_date"),
            "tax": _amount(invoice["tax"]),
            "total": _amount(invoice["total"]),
        }
    return {
        "proposal_id": invoice["proposal_id"],
        "contract_id": invoice["contract_id"],
        "period": invoice["period"],
        "status": invoice.get("status", "proposed"),
        "currency": invoice["currency"],
        "subtotal": _amount(invoice["subtotal"]),
        "tax": _amount(invoice["tax"]),
        "total": _amount(invoice["total"]),
        "correlation_id": invoice["correlation_id"],
        "run_id": invoice["run_id"],
        "rejection_reason": invoice.get("rejection_reason"),
        "erp_invoice": erp_invoice,
        "payments": [
            {
                "payment_id": payment["payment_id"],
                "invoice_number": number,
                "amount": _amount(payment["amount"]),
                "currency": payment["currency"],
                "paid_on": payment["paid_on"],
            }
            for payment in invoice.get("payments") or ()
        ],
    }


def trace(store: ReadOnlyStore, identifier: str) -> dict[str, Any] | str:
    """What `trace ID` prints; LEGACY_LAYOUT when a book on the way must be read through the ledger.
    Raises UnknownIdentifierError (with the full path's message) when the id names nothing."""
    books = _Books(store)
    try:
        scope = _resolve(store, identifier, books)
        events = EventResolver(store)
        audits = {contract_id: trail_of_contract(store, books(contract_id)) for contract_id in scope.contract_ids}
        lines_doc: list[dict[str, Any]] = []
        by_proposal: dict[str | None, list[dict[str, Any]]] = {}
        for contract_id, line in scope.lines:
            document = _line_lineage(books(contract_id), line, audits.get(contract_id, []), events)
            lines_doc.append(document)
            by_proposal.setdefault(line.get("invoice_id"), []).append(document)
        proposals_doc = []
        for contract_id, proposal_id in scope.proposals:
            invoice = books(contract_id).invoices[proposal_id]
            proposals_doc.append(_proposal_document(invoice))
            scope.correlation_ids.add(invoice["correlation_id"])
    except _LegacyLayoutError:
        return LEGACY_LAYOUT
    return trace_document(
        identifier,
        scope.matched,
        scope.contract_ids,
        events,
        lines_doc,
        proposals_doc,
        scope.correlation_ids,
        lambda correlation_id: trail_by_correlation(store, correlation_id),
        lineage_tree(scope.matched, identifier, proposals_doc, by_proposal),
    )
