"""`billbridge report` on the local state, read with the standard library.

The KPIs are computed by `billbridge.reporting.kpis.compute_kpis`, one implementation
over records that have the names the KPIs read of a book
(`billbridge.reporting.kpi_records`). The ledger's path hands it the domain's books,
decoded with pydantic (about 20 times a bare `import billbridge`: benchmarks/README.md,
"Operator command wall time"). Here the records are built from the stored items as
`contract_reads.StoredContract` puts them together (`HEAD`, `IN#...`, `LINE#...`,
`EXC#...`, `INV#...`, `INVL#...`; bodies are the JSON dumps of the domain's dataclasses,
so a field is read by its dataclass field's name), with `decimal` and `datetime` for the
values the KPIs compute with. The other inputs are read as the other light commands
read them: each contract's audit trail (`audit_reads.trail_of_contract`), the
command log and its propagation (`contract_reads.propagation_documents`) and the
dead-letter queues' depths (`read_models.dead_letter_rows`).

`local_kpis` answers None, and the command reads through the ledger, when:
- a contract is stored in the single-item layout of decision 1 (`BOOK`);
- a dead-letter queue holds messages: the report samples each message's error type and
  when it was dead-lettered, which the local state does not keep as SQS gives them (the
  stand-in's queue stamps a restored message anew); the full path reads them as the
  deployed stack's `billbridge dlq` does.

tests/integration/operations/test_report_reads.py compares both paths' documents (as
JSON text) and printed reports, on the demo's state and on replayed scenarios.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

from billbridge.local.audit_reads import trail_of_contract
from billbridge.local.contract_reads import LEGACY_LAYOUT, StoredContract, propagation_documents
from billbridge.local.read_models import LEDGER, ReadOnlyStore, _body, _text, commands, dead_letter_rows
from billbridge.reporting.kpis import DeadLetterDepth, compute_kpis, timings_from_audit

TYPE_CHECKING = False  # `typing` costs ~4 ms to import: its names serve annotations only
if TYPE_CHECKING:
    from datetime import datetime, timedelta
    from typing import Any

CONTRACT_PREFIX = "CONTRACT#"
NOT_BOOK_ITEMS = ("LOCK", "KNOWN")


def _optional_date(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def _days(days: list[dict[str, Any]] | None) -> tuple[SimpleNamespace, ...]:
    return tuple(SimpleNamespace(date=date.fromisoformat(d["date"]), hours=Decimal(d["hours"])) for d in days or ())


def _line(line: dict[str, Any]) -> SimpleNamespace:
    """A stored `LineRecord` with the values the KPIs compute with."""
    return SimpleNamespace(
        line_id=line["line_id"],
        kind=line["kind"],
        ref=line["ref"],
        quantity=Decimal(line["quantity"]),
        amount=Decimal(line["amount"]),
        currency=line["currency"],
        line_date=date.fromisoformat(line["line_date"]),
        contract_version=line.get("contract_version"),
        days=_days(line.get("days")),
        source_refs=tuple(line.get("source_refs") or ()),
        invoice_id=line.get("invoice_id"),
    )


class InvoiceRecord:
    """A stored `Invoice` (with its lines), as the KPIs read it."""

    def __init__(self, invoice: dict[str, Any]) -> None:
        self.proposal_id: str = invoice["proposal_id"]
        self.contract_id: str = invoice["contract_id"]
        self.period: str = invoice["period"]
        self.seq = int(invoice["seq"])
        self.currency: str = invoice["currency"]
        self.total = Decimal(invoice["total"])
        self.status: str = invoice.get("status", "proposed")
        self.erp_invoice_number: str | None = invoice.get("erp_invoice_number")
        self.posting_date = _optional_date(invoice.get("posting_date"))
        self.payments = tuple(
            SimpleNamespace(amount=Decimal(p["amount"]), paid_on=date.fromisoformat(p["paid_on"]))
            for p in invoice.get("payments") or ()
        )
        self.lines = tuple(_line(line) for line in invoice.get("lines") or ())

    @property
    def paid_amount(self) -> Decimal:
        """`Invoice.paid_amount`."""
        return sum((payment.amount for payment in self.payments), Decimal(0))

    @property
    def counts(self) -> bool:
        """`Invoice.counts`: a rejected invoice bills nothing."""
        return self.status != "rejected"


def _exception(exception: dict[str, Any]) -> SimpleNamespace:
    decision = exception.get("decision")
    return SimpleNamespace(
        exception_id=exception["exception_id"],
        type=exception["type"],
        state=exception.get("state", "open"),
        contract_id=exception["contract_id"],
        refs=tuple(exception.get("refs") or ()),
        amount=Decimal(exception["amount"]),
        currency=exception.get("currency", ""),
        period=exception.get("period"),
        decision=None if decision is None else SimpleNamespace(decided_at=decision.get("decided_at", "")),
    )


def _version(version: dict[str, Any]) -> SimpleNamespace:
    cap = version.get("cap_amount")
    return SimpleNamespace(
        version=int(version["version"]),
        effective_date=date.fromisoformat(version["effective_date"]),
        legal_entity=version["legal_entity"],
        currency=version["currency"],
        cap_amount=None if cap is None else Decimal(cap),
    )


class BookRecord:
    """A contract's book as the KPIs read it (`billbridge.reporting.kpi_records.BookRecord`),
    from its stored items, in the order `dynamo_book_items.assemble` gives them."""

    def __init__(self, stored: StoredContract) -> None:
        self.contract_id = stored.contract_id
        self.versions = {int(v["version"]): _version(v) for v in (stored.head.get("versions") or {}).values()}
        self.entries = {ref: SimpleNamespace(days=_days(e.get("days"))) for ref, e in stored.inputs["entry"].items()}
        self.expenses = {
            ref: SimpleNamespace(date=date.fromisoformat(e["date"])) for ref, e in stored.inputs["expense"].items()
        }
        self.completions = {
            ref: SimpleNamespace(completed_on=date.fromisoformat(c["completed_on"]))
            for ref, c in stored.inputs["completion"].items()
        }
        self.lines = {line_id: _line(line) for line_id, line in stored.lines.items()}
        self.invoices = {proposal_id: InvoiceRecord(i) for proposal_id, i in stored.invoices.items()}
        self.exceptions = {exception_id: _exception(e) for exception_id, e in stored.exceptions.items()}

    @property
    def is_known(self) -> bool:
        """`ContractBook.is_known`: a version has been approved."""
        return bool(self.versions)

    @property
    def latest_version(self) -> SimpleNamespace | None:
        return self.versions[max(self.versions)] if self.versions else None


def stored_contracts(store: ReadOnlyStore) -> list[StoredContract] | str:
    """Every contract's stored items (the ledger's `books()`: pending contracts included), or
    LEGACY_LAYOUT when one is kept as a single item."""
    found: dict[str, list[tuple[str, dict[str, Any], bytes]]] = {}
    for item in store.items_by_partition_prefix(LEDGER, CONTRACT_PREFIX):
        contract_id, sk = _text(item, "pk")[len(CONTRACT_PREFIX) :], _text(item, "sk")
        if sk == "BOOK":
            return LEGACY_LAYOUT
        items = found.setdefault(contract_id, [])
        body = _body(item)
        if body is not None and sk not in NOT_BOOK_ITEMS:
            items.append((sk, item, body))
    return [StoredContract(contract_id, items) for contract_id, items in sorted(found.items())]


def local_kpis(
    store: ReadOnlyStore, *, as_of: date, now: datetime | None, stale_after: timedelta | None = None
) -> dict[str, Any] | None:
    """The KPIs `billbridge report` computes (before `kpi_document`), or None when the state must
    be read through the ledger (a book in the single-item layout; dead letters waiting)."""
    from datetime import UTC, datetime, time

    from billbridge.reporting.kpis import PROPAGATION_STALE_AFTER

    queues = dead_letter_rows(store)
    if any(queue["messages"] for queue in queues):
        return None
    contracts = stored_contracts(store)
    if isinstance(contracts, str):
        return None
    stale_after = stale_after or PROPAGATION_STALE_AFTER
    moment = now or datetime.combine(as_of, time.max, tzinfo=UTC)
    return compute_kpis(
        [BookRecord(contract) for contract in contracts],
        as_of=as_of,
        timings=timings_from_audit({c.contract_id: trail_of_contract(store, c) for c in contracts}),
        dead_letters=[DeadLetterDepth(queue["workflow"], 0) for queue in queues],
        now=now,
        propagation_stale_after=stale_after,
        propagations=propagation_documents(commands(store), moment, stale_after),
    )
