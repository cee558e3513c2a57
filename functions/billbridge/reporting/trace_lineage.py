"""Where a figure comes from, and why an exception holds it.

`trace_lineage(identifier, ...)` follows one id (an ERP invoice number, a
proposal id, an entry / expense / milestone id or a correlation id) along the
chain the hub keeps:

    raw webhook (S3 key) -> canonical event (delivery record) -> ledger lines
    (contract version, rate rule, rules) -> proposal -> ERP invoice -> payments

`explain_exception(exception_id, ...)` gathers what an operator needs to decide
on an exception: the lines and inputs it refers to, the contract version's
terms, the cap remaining (cap_exceeded) and the audit trail of its correlation id.

Both return JSON-ready documents (amounts as decimal strings); the tree in
`trace["tree"]` is what the CLI draws.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from billbridge.app.ledger import StoredBook
from billbridge.domain.model import (
    BillingException,
    BillingLine,
    ContractBook,
    ContractVersion,
    ExceptionType,
    Invoice,
    Provenance,
)
from billbridge.domain.money import format_amount
from billbridge.reporting.kpis import invoiced_time_amount
from billbridge.reporting.lineage_documents import EventDocuments, contract_terms, line_source_events, trace_document
from billbridge.reporting.lineage_tree import lineage_tree
from billbridge.reporting.replay_report import line_document
from billbridge.reporting.resolution_hints import RESOLUTION_HINTS_BY_TYPE


class LineageLedger(Protocol):
    def load(self, contract_id: str) -> StoredBook: ...

    def contract_ids(self) -> list[str]: ...

    def contract_of_entry(self, entry_id: str) -> str | None: ...

    def contract_of_proposal(self, proposal_id: str) -> str | None: ...

    def proposal_for_invoice_number(self, invoice_number: str) -> str | None: ...

    def audit_trail_of_contract(self, contract_id: str) -> list[dict[str, Any]]: ...

    def audit_trail_by_correlation(self, correlation_id: str) -> list[dict[str, Any]]: ...

    def delivery(self, source: str, event_id: str) -> dict[str, str] | None: ...

    def exceptions(self) -> Iterable[BillingException]: ...


class RawPayloadReader(Protocol):
    def load(self, key: str) -> bytes: ...


class UnknownIdentifierError(LookupError):
    """The id is none of: ERP invoice number, proposal, entry, expense, milestone, exception, correlation."""


RESOLUTION_HINTS: dict[ExceptionType, str] = {
    ExceptionType(type_): hint for type_, hint in RESOLUTION_HINTS_BY_TYPE.items()
}


# --- trace ------------------------------------------------------------------------------------


@dataclass
class _Scope:
    """What the identifier points at: the contracts, lines and proposals in view."""

    matched: str
    contract_ids: list[str]
    lines: list[tuple[str, BillingLine]] = field(default_factory=list)
    proposals: list[tuple[str, str]] = field(default_factory=list)
    correlation_ids: set[str] = field(default_factory=set)


def trace_lineage(
    identifier: str, ledger: LineageLedger, raw_payloads: RawPayloadReader | None = None
) -> dict[str, Any]:
    books: dict[str, ContractBook] = {}

    def book_of(contract_id: str) -> ContractBook:
        if contract_id not in books:
            books[contract_id] = ledger.load(contract_id).book
        return books[contract_id]

    scope = _resolve(identifier, ledger, book_of)
    events = _EventResolver(ledger, raw_payloads)
    audits = {contract_id: ledger.audit_trail_of_contract(contract_id) for contract_id in scope.contract_ids}

    lines_doc: list[dict[str, Any]] = []
    by_proposal: dict[str | None, list[dict[str, Any]]] = {}
    for contract_id, line in scope.lines:
        book = book_of(contract_id)
        document = _line_lineage(book, line, audits.get(contract_id, []), events)
        lines_doc.append(document)
        by_proposal.setdefault(line.invoice_id, []).append(document)
    proposals_doc = []
    for contract_id, proposal_id in scope.proposals:
        invoice = book_of(contract_id).invoices[proposal_id]
        proposals_doc.append(_proposal_document(invoice))
        scope.correlation_ids.add(invoice.correlation_id)
    return trace_document(
        identifier,
        scope.matched,
        scope.contract_ids,
        events,
        lines_doc,
        proposals_doc,
        scope.correlation_ids,
        ledger.audit_trail_by_correlation,
        lineage_tree(scope.matched, identifier, proposals_doc, by_proposal),
    )


def _resolve(identifier: str, ledger: LineageLedger, book_of: Any) -> _Scope:
    proposal_id = ledger.proposal_for_invoice_number(identifier)
    matched = "erp_invoice"
    if proposal_id is None and ledger.contract_of_proposal(identifier) is not None:
        proposal_id, matched = identifier, "proposal"
    if proposal_id is not None:
        contract_id = ledger.contract_of_proposal(proposal_id)
        if contract_id is None:
            raise UnknownIdentifierError(f"invoice {identifier} refers to unknown proposal {proposal_id}")
        invoice = book_of(contract_id).invoices[proposal_id]
        return _Scope(
            matched=matched,
            contract_ids=[contract_id],
            lines=[(contract_id, line) for line in invoice.lines],
            proposals=[(contract_id, proposal_id)],
        )
    contract_id = ledger.contract_of_entry(identifier)
    if contract_id is not None:
        return _scope_of_refs("entry", contract_id, book_of(contract_id), {identifier})
    trail = ledger.audit_trail_by_correlation(identifier)
    if trail:
        return _scope_of_correlation(identifier, trail, book_of)
    for contract_id in ledger.contract_ids():
        book = book_of(contract_id)
        if identifier in book.expenses:
            return _scope_of_refs("expense", contract_id, book, {identifier})
        if identifier in book.completions:
            return _scope_of_refs("milestone", contract_id, book, {identifier})
        if identifier in book.lines:
            return _scope_of_lines("line", contract_id, book, [book.lines[identifier]])
        if identifier in book.exceptions:
            exception = book.exceptions[identifier]
            return _scope_of_refs("exception", contract_id, book, set(exception.refs) | {identifier})
    raise UnknownIdentifierError(
        f"{identifier!r} is not a known ERP invoice number, proposal, entry, expense, milestone, "
        "line, exception or correlation id"
    )


def _scope_of_refs(matched: str, contract_id: str, book: ContractBook, refs: set[str]) -> _Scope:
    lines = [line for line in book.lines.values() if line.ref in refs]
    known = {line.line_id for line in lines}
    for invoice in book.invoices.values():
        lines.extend(line for line in invoice.lines if line.ref in refs and line.line_id not in known)
    return _scope_of_lines(matched, contract_id, book, lines)


def _scope_of_lines(matched: str, contract_id: str, book: ContractBook, lines: list[BillingLine]) -> _Scope:
    lines = sorted(lines, key=lambda line: (line.line_date, line.ref, line.split_position))
    proposals = sorted({line.invoice_id for line in lines if line.invoice_id and line.invoice_id in book.invoices})
    return _Scope(
        matched=matched,
        contract_ids=[contract_id],
        lines=[(contract_id, line) for line in lines],
        proposals=[(contract_id, proposal_id) for proposal_id in proposals],
    )


def _scope_of_correlation(correlation_id: str, trail: list[dict[str, Any]], book_of: Any) -> _Scope:
    scope = _Scope(matched="correlation", contract_ids=[], correlation_ids={correlation_id})
    for contract_id in sorted({str(record["contract_id"]) for record in trail}):
        scope.contract_ids.append(contract_id)
        book: ContractBook = book_of(contract_id)
        refs = {str(record["ref"]) for record in trail if record["contract_id"] == contract_id}
        for line in sorted(book.lines.values(), key=lambda line: (line.line_date, line.ref)):
            source = _provenance_of(book, line)
            if (
                line.correlation_id == correlation_id
                or line.line_id in refs
                or (source is not None and source.correlation_id == correlation_id)
            ):
                scope.lines.append((contract_id, line))
        billed = {line.invoice_id for cid, line in scope.lines if cid == contract_id}
        for invoice in sorted(book.invoices.values(), key=lambda i: (i.period, i.seq)):
            if invoice.correlation_id == correlation_id or invoice.proposal_id in refs or invoice.proposal_id in billed:
                scope.proposals.append((contract_id, invoice.proposal_id))
    return scope


def _provenance_of(book: ContractBook, line: BillingLine) -> Provenance | None:
    if line.kind == "time" and line.ref in book.entries:
        return book.entries[line.ref].provenance
    if line.kind == "expense" and line.ref in book.expenses:
        return book.expenses[line.ref].provenance
    if line.kind == "milestone" and line.ref in book.completions:
        return book.completions[line.ref].provenance
    return None


class _EventResolver(EventDocuments):
    """Canonical events by `source:id`, with their delivery record (the ledger's) and raw payload."""

    def __init__(self, ledger: LineageLedger, raw_payloads: RawPayloadReader | None) -> None:
        super().__init__()
        self._ledger = ledger
        self._raw_payloads = raw_payloads

    def delivery(self, source: str, event_id: str) -> Mapping[str, str] | None:
        return self._ledger.delivery(source, event_id)

    def raw_body(self, raw_key: str) -> str | bytes | None:
        return None if self._raw_payloads is None else self._raw_payloads.load(raw_key)


def _line_lineage(
    book: ContractBook, line: BillingLine, audit: list[dict[str, Any]], events: _EventResolver
) -> dict[str, Any]:
    provenance = _provenance_of(book, line)
    source_events = line_source_events(
        events, line.source_refs, (provenance.source_ref, provenance.correlation_id) if provenance else None
    )
    terms = None
    if line.contract_version is not None and line.contract_version in book.versions:
        version = book.versions[line.contract_version]
        terms = contract_terms(
            events,
            audit,
            book.contract_id,
            version.version,
            version.effective_date.isoformat(),
            f"{version.start_date.isoformat()}..{version.end_date.isoformat()}",
        )
    return {
        **line_document(line),
        "contract_id": book.contract_id,
        "line_date": line.line_date.isoformat(),
        "currency": line.currency,
        "invoice_id": line.invoice_id,
        "source_events": source_events,
        "contract_terms": terms,
    }


def _proposal_document(invoice: Invoice) -> dict[str, Any]:
    erp_invoice = None
    if invoice.erp_invoice_number:
        erp_invoice = {
            "invoice_number": invoice.erp_invoice_number,
            "proposal_id": invoice.proposal_id,
            "erp_instance": invoice.erp_instance,
            "posting_date": invoice.posting_date.isoformat() if invoice.posting_date else None,
            "tax": format_amount(invoice.tax),
            "total": format_amount(invoice.total),
        }
    return {
        "proposal_id": invoice.proposal_id,
        "contract_id": invoice.contract_id,
        "period": invoice.period,
        "status": invoice.status.value,
        "currency": invoice.currency,
        "subtotal": format_amount(invoice.subtotal),
        "tax": format_amount(invoice.tax),
        "total": format_amount(invoice.total),
        "correlation_id": invoice.correlation_id,
        "run_id": invoice.run_id,
        "rejection_reason": invoice.rejection_reason,
        "erp_invoice": erp_invoice,
        "payments": [
            {
                "payment_id": payment.payment_id,
                "invoice_number": invoice.erp_invoice_number,
                "amount": format_amount(payment.amount),
                "currency": payment.currency,
                "paid_on": payment.paid_on.isoformat(),
            }
            for payment in invoice.payments
        ],
    }


# --- exceptions -------------------------------------------------------------------------------


def explain_exception(
    exception_id: str, ledger: LineageLedger, raw_payloads: RawPayloadReader | None = None
) -> dict[str, Any]:
    exception = next((e for e in ledger.exceptions() if e.exception_id == exception_id), None)
    if exception is None:
        raise UnknownIdentifierError(f"no exception {exception_id!r}")
    book = ledger.load(exception.contract_id).book
    events = _EventResolver(ledger, raw_payloads)
    version = _version_of(book, exception)
    lines = _lines_of_exception(book, exception)
    trail = ledger.audit_trail_by_correlation(exception.correlation_id) if exception.correlation_id else []
    decisions = [
        record
        for record in ledger.audit_trail_of_contract(exception.contract_id)
        if record.get("ref") == exception.exception_id and record not in trail
    ]
    raised = next((r for r in trail if r.get("action") == "exception_raised" and r.get("ref") == exception_id), None)
    source_event = (
        events.event(str(raised["source_ref"]), exception.correlation_id)
        if raised
        and ":" in str(raised.get("source_ref", ""))
        and not str(raised["source_ref"]).startswith(("billing-run", "connector:"))
        else None
    )
    return {
        "exception_id": exception.exception_id,
        "type": exception.type.value,
        "state": exception.state.value,
        "contract_id": exception.contract_id,
        "refs": list(exception.refs),
        "amount": format_amount(exception.amount),
        "currency": exception.currency or (version.currency if version else None),
        "period": exception.period,
        "detail": exception.detail,
        "correlation_id": exception.correlation_id,
        "raised_by": exception.raised_by,
        "raised_at": raised.get("recorded_at") if raised else None,
        "decision": (
            None
            if exception.decision is None
            else {
                "actor": exception.decision.actor,
                "reason": exception.decision.reason,
                "decided_at": exception.decision.decided_at,
            }
        ),
        "how_to_resolve": RESOLUTION_HINTS.get(exception.type, ""),
        "contract_version": _terms_document(version) if version else None,
        "cap": _cap_document(book, exception) if exception.type is ExceptionType.CAP_EXCEEDED else None,
        "lines": lines,
        "inputs": _inputs_of(book, exception),
        "source_event": source_event,
        "correlation_trail": [*trail, *decisions],
    }


def _version_of(book: ContractBook, exception: BillingException) -> ContractVersion | None:
    if exception.contract_version is not None and exception.contract_version in book.versions:
        return book.versions[exception.contract_version]
    return book.latest_version


def _terms_document(version: ContractVersion) -> dict[str, Any]:
    return {
        "version": version.version,
        "effective_date": version.effective_date.isoformat(),
        "term": f"{version.start_date.isoformat()}..{version.end_date.isoformat()}",
        "currency": version.currency,
        "legal_entity": version.legal_entity,
        "tax_jurisdiction": version.tax_jurisdiction,
        "rate_card": [{"line": r.label, "rate": format_amount(r.rate)} for r in version.rate_card],
        "cap_amount": None if version.cap_amount is None else format_amount(version.cap_amount),
        "cost_centers": list(version.cost_centers),
        "milestones": [
            {"milestone_id": m.milestone_id, "name": m.name, "amount": format_amount(m.amount)}
            for m in version.milestones
        ],
        "expense_policy": (
            None
            if version.expense_policy is None
            else {
                "billable_categories": list(version.expense_policy.billable_categories),
                "markup_pct": format_amount(version.expense_policy.markup_pct),
            }
        ),
    }


def _cap_document(book: ContractBook, exception: BillingException) -> dict[str, Any]:
    latest = book.latest_version
    cap = latest.cap_amount if latest else None
    invoiced = invoiced_time_amount(book)
    return {
        "cap_amount": None if cap is None else format_amount(cap),
        "cap_version": latest.version if latest else None,
        "invoiced_time": format_amount(invoiced),
        "remaining": None if cap is None else format_amount(max(cap - invoiced, Decimal(0))),
        "held": format_amount(exception.amount),
    }


def _lines_of_exception(book: ContractBook, exception: BillingException) -> list[dict[str, Any]]:
    found: dict[str, BillingLine] = {}
    for line_id in exception.line_ids:
        if line_id in book.lines:
            found[line_id] = book.lines[line_id]
    for invoice in book.invoices.values():
        for line in invoice.lines:
            if line.line_id in exception.line_ids and line.line_id not in found:
                found[line.line_id] = line
    if not found:
        for line in book.lines.values():
            if line.ref in exception.refs:
                found[line.line_id] = line
    return [
        {
            **line_document(line),
            "line_date": line.line_date.isoformat(),
            "invoice_id": line.invoice_id,
            "state": "invoiced" if line.invoice_id else ("held" if not line.cap_released else "released"),
        }
        for line in sorted(found.values(), key=lambda line: line.order_key)
    ]


def _inputs_of(book: ContractBook, exception: BillingException) -> list[dict[str, Any]]:
    inputs: list[dict[str, Any]] = []
    for ref in exception.refs:
        if ref in book.entries:
            entry = book.entries[ref]
            inputs.append(
                {
                    "kind": "time_entry",
                    "ref": ref,
                    "revision": entry.revision,
                    "resource_id": entry.resource_id,
                    "role": entry.role,
                    "cost_center": entry.cost_center,
                    "bill_rate": None if entry.bill_rate is None else format_amount(entry.bill_rate),
                    "hours": format_amount(entry.hours),
                    "dates": f"{entry.days[0].date}..{entry.days[-1].date}" if entry.days else "",
                    "rejected": entry.rejected,
                    "source_ref": entry.provenance.source_ref if entry.provenance else "",
                }
            )
        elif ref in book.expenses:
            expense = book.expenses[ref]
            inputs.append(
                {
                    "kind": "expense",
                    "ref": ref,
                    "date": expense.date.isoformat(),
                    "category": expense.category,
                    "amount": format_amount(expense.amount),
                    "currency": expense.currency,
                    "source_ref": expense.provenance.source_ref if expense.provenance else "",
                }
            )
        elif ref in book.completions:
            completion = book.completions[ref]
            inputs.append(
                {
                    "kind": "milestone_completion",
                    "ref": ref,
                    "completed_on": completion.completed_on.isoformat(),
                    "source_ref": completion.provenance.source_ref if completion.provenance else "",
                }
            )
        elif ref in book.invoices:
            invoice = book.invoices[ref]
            inputs.append(
                {
                    "kind": "invoice",
                    "ref": ref,
                    "status": invoice.status.value,
                    "total": format_amount(invoice.total),
                    "rejection_reason": invoice.rejection_reason,
                }
            )
    return inputs
