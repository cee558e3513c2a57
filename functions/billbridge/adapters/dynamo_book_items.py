"""How a contract book is cut into DynamoDB items, and put back together
(see docs/decisions/0003-ledger-storage-at-scale.md).

Every item of a contract lives in the partition `CONTRACT#{id}`; none grows
with the contract's history:

- `HEAD`: the contract's terms (versions, termination) and whatever else of
  the book is not one of the collections below; `epoch` counts its changes.
- `IN#{kind}#{ref}`: one input (a time entry's latest revision, an expense, a
  milestone completion) with everything keyed by it: its lines, the
  exceptions raised about it, the re-rate records of its lines, its write-off.
- `LINE#{line_id}`: a line of no input (fees, retainer drawdowns, adjustments).
- `EXC#{exception_id}`: an exception of no input (a version conflict, a cap
  held per period, a retroactive change, a rejected invoice).
- `RR#{cause_version}#{line_id}`: a re-rate record of a line of no input.
- `INV#{proposal_id}`: an invoice without its lines; `INVL#{proposal_id}#{n}`:
  its lines as proposed, `INVOICE_LINES_PER_ITEM` to an item.

Bodies are JSON (zlib-compressed when that makes the item smaller); the same
book always cuts into the same bytes, so comparing bodies tells what changed.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from pydantic import TypeAdapter

from billbridge.domain.model import (
    BillingException,
    BillingLine,
    ContractBook,
    Expense,
    Invoice,
    MilestoneCompletion,
    RerateRecord,
    TimeEntry,
    WorkDay,
)

HEAD = "HEAD"
LOCK = "LOCK"
KNOWN = "KNOWN"
LEGACY_BOOK = "BOOK"
INPUT_PREFIX = "IN#"
LINE_PREFIX = "LINE#"
EXCEPTION_PREFIX = "EXC#"
RERATE_PREFIX = "RR#"
INVOICE_PREFIX = "INV#"
INVOICE_LINES_PREFIX = "INVL#"
RERATING = "RERATING"
"""An amendment applied in pages: the versions still being applied and the last input reached
(docs/decisions/0024-amendments-in-pages.md)."""
INPUTS_END = "IN$"
"""Just after every `IN#` sort key ('$' follows '#'): inputs are the range [IN#, IN$)."""
INVOICE_LINES_END = "INVL$"
INVOICE_LINES_PER_ITEM = 100
"""Proposed lines per `INVL#` item: ~100 x 700 B of JSON, ~15 KB compressed."""
INPUT_KINDS = ("time", "expense", "milestone")
COMPRESS_FROM_BYTES = 200


def contract_pk(contract_id: str) -> str:
    return f"CONTRACT#{contract_id}"


def input_sk(kind: str, ref: str) -> str:
    return f"{INPUT_PREFIX}{kind}#{ref}"


@dataclass(frozen=True, slots=True)
class InputGroup:
    """One input and everything keyed by it: the `IN#` item's body."""

    kind: str
    ref: str
    entry: TimeEntry | None = None
    expense: Expense | None = None
    completion: MilestoneCompletion | None = None
    lines: tuple[BillingLine, ...] = ()
    exceptions: tuple[BillingException, ...] = ()
    rerates: tuple[RerateRecord, ...] = ()
    written_off: bool = False
    written_off_days: tuple[WorkDay, ...] | None = None


@dataclass(frozen=True, slots=True)
class InvoiceLines:
    lines: tuple[BillingLine, ...]


BOOK_ADAPTER: TypeAdapter[ContractBook] = TypeAdapter(ContractBook)
GROUP_ADAPTER: TypeAdapter[InputGroup] = TypeAdapter(InputGroup)
LINE_ADAPTER: TypeAdapter[BillingLine] = TypeAdapter(BillingLine)
EXCEPTION_ADAPTER: TypeAdapter[BillingException] = TypeAdapter(BillingException)
RERATE_ADAPTER: TypeAdapter[RerateRecord] = TypeAdapter(RerateRecord)
INVOICE_ADAPTER: TypeAdapter[Invoice] = TypeAdapter(Invoice)
INVOICE_LINES_ADAPTER: TypeAdapter[InvoiceLines] = TypeAdapter(InvoiceLines)


# --- bodies ------------------------------------------------------------------------


def pack(body: bytes) -> dict[str, Any]:
    """The typed attribute that stores a JSON body (compressed when smaller)."""
    if len(body) >= COMPRESS_FROM_BYTES:
        packed = zlib.compress(body, 6)
        if len(packed) < len(body):
            return {"B": packed}
    return {"S": body.decode()}


def unpack(value: dict[str, Any]) -> bytes:
    if "B" in value:
        return zlib.decompress(value["B"])
    return str(value["S"]).encode()


def exception_key(exception: BillingException, contract_id: str) -> str | None:
    """The key an exception was raised for (`{type}:{contract}:{key}`)."""
    prefix = f"{exception.type.value}:{contract_id}:"
    return exception.exception_id[len(prefix) :] if exception.exception_id.startswith(prefix) else None


def cut_book(book: ContractBook) -> dict[str, bytes]:
    """The book as `sk -> JSON body`, one entry per item."""
    inputs: dict[tuple[str, str], dict[str, Any]] = {}
    for entry_id, entry in book.entries.items():
        inputs[("time", entry_id)] = {"entry": entry}
    for expense_id, expense in book.expenses.items():
        inputs[("expense", expense_id)] = {"expense": expense}
    for milestone_id, completion in book.completions.items():
        inputs[("milestone", milestone_id)] = {"completion": completion}

    def owner(kind: str, ref: str) -> tuple[str, str] | None:
        return (kind, ref) if (kind, ref) in inputs else None

    def owner_of_key(key: str | None) -> tuple[str, str] | None:
        if key is None:
            return None
        for kind in INPUT_KINDS:
            if (kind, key) in inputs:
                return (kind, key)
        return None

    items: dict[str, bytes] = {}
    for line in book.lines.values():
        group = owner(line.kind, line.ref)
        if group is None:
            items[LINE_PREFIX + line.line_id] = LINE_ADAPTER.dump_json(line)
        else:
            inputs[group].setdefault("lines", []).append(line)
    for exception in book.exceptions.values():
        group = owner_of_key(exception_key(exception, book.contract_id))
        if group is None:
            items[EXCEPTION_PREFIX + exception.exception_id] = EXCEPTION_ADAPTER.dump_json(exception)
        else:
            inputs[group].setdefault("exceptions", []).append(exception)
    for record in book.rerates:
        group = owner("time", record.ref)
        if group is None:
            items[f"{RERATE_PREFIX}{record.cause_version:06d}#{record.line_id}"] = RERATE_ADAPTER.dump_json(record)
        else:
            inputs[group].setdefault("rerates", []).append(record)
    leftover_refs = set()
    for ref in book.written_off_refs:
        group = owner_of_key(ref)
        if group is None:
            leftover_refs.add(ref)
        else:
            inputs[group]["written_off"] = True
    leftover_days = {}
    for ref, days in book.written_off_days.items():
        group = owner("time", ref)
        if group is None:
            leftover_days[ref] = days
        else:
            inputs[group]["written_off_days"] = days
    for (kind, ref), parts in inputs.items():
        group_body = InputGroup(
            kind=kind,
            ref=ref,
            entry=parts.get("entry"),
            expense=parts.get("expense"),
            completion=parts.get("completion"),
            lines=tuple(sorted(parts.get("lines", ()), key=lambda line: line.line_id)),
            exceptions=tuple(sorted(parts.get("exceptions", ()), key=lambda e: e.exception_id)),
            rerates=tuple(parts.get("rerates", ())),
            written_off=bool(parts.get("written_off", False)),
            written_off_days=parts.get("written_off_days"),
        )
        items[input_sk(kind, ref)] = GROUP_ADAPTER.dump_json(group_body)
    for proposal_id, invoice in book.invoices.items():
        items[INVOICE_PREFIX + proposal_id] = INVOICE_ADAPTER.dump_json(replace(invoice, lines=()))
        for part, start in enumerate(range(0, len(invoice.lines), INVOICE_LINES_PER_ITEM)):
            chunk = InvoiceLines(invoice.lines[start : start + INVOICE_LINES_PER_ITEM])
            items[f"{INVOICE_LINES_PREFIX}{proposal_id}#{part:05d}"] = INVOICE_LINES_ADAPTER.dump_json(chunk)
    items[HEAD] = BOOK_ADAPTER.dump_json(head_of(book, leftover_refs, leftover_days))
    return items


def head_of(book: ContractBook, written_off_refs: Iterable[str] = (), written_off_days: Any = None) -> ContractBook:
    """The book less its per-item collections: what the `HEAD` item holds."""
    return replace(
        book,
        entries={},
        expenses={},
        completions={},
        lines={},
        invoices={},
        exceptions={},
        rerates=(),
        written_off_refs=frozenset(written_off_refs),
        written_off_days=dict(written_off_days or {}),
    )


def is_empty_head(body: bytes, contract_id: str) -> bool:
    return body == BOOK_ADAPTER.dump_json(ContractBook(contract_id=contract_id))


def assemble(contract_id: str, bodies: dict[str, bytes]) -> ContractBook:
    """The book (or the view) that `bodies` (`sk -> JSON body`) hold."""
    head = BOOK_ADAPTER.validate_json(bodies[HEAD]) if HEAD in bodies else ContractBook(contract_id=contract_id)
    entries: dict[str, TimeEntry] = {}
    expenses: dict[str, Expense] = {}
    completions: dict[str, MilestoneCompletion] = {}
    lines: dict[str, BillingLine] = {}
    exceptions: dict[str, BillingException] = {}
    rerates: list[tuple[str, RerateRecord]] = []
    invoices: dict[str, Invoice] = {}
    invoice_lines: dict[str, list[tuple[str, tuple[BillingLine, ...]]]] = {}
    written_off_refs = set(head.written_off_refs)
    written_off_days = dict(head.written_off_days)
    for sk in sorted(bodies):
        body = bodies[sk]
        if sk.startswith(INPUT_PREFIX):
            group = GROUP_ADAPTER.validate_json(body)
            if group.entry is not None:
                entries[group.ref] = group.entry
            if group.expense is not None:
                expenses[group.ref] = group.expense
            if group.completion is not None:
                completions[group.ref] = group.completion
            for line in group.lines:
                lines[line.line_id] = line
            for exception in group.exceptions:
                exceptions[exception.exception_id] = exception
            rerates.extend(
                (f"{record.cause_version:06d}#{group.ref}#{i:04d}", record) for i, record in enumerate(group.rerates)
            )
            if group.written_off:
                written_off_refs.add(group.ref)
            if group.written_off_days is not None:
                written_off_days[group.ref] = group.written_off_days
        elif sk.startswith(LINE_PREFIX):
            line = LINE_ADAPTER.validate_json(body)
            lines[line.line_id] = line
        elif sk.startswith(EXCEPTION_PREFIX):
            exception = EXCEPTION_ADAPTER.validate_json(body)
            exceptions[exception.exception_id] = exception
        elif sk.startswith(RERATE_PREFIX):
            record = RERATE_ADAPTER.validate_json(body)
            rerates.append((f"{record.cause_version:06d}#{record.ref}#9999", record))
        elif sk.startswith(INVOICE_PREFIX):
            invoice = INVOICE_ADAPTER.validate_json(body)
            invoices[invoice.proposal_id] = invoice
        elif sk.startswith(INVOICE_LINES_PREFIX):
            proposal_id, part = sk[len(INVOICE_LINES_PREFIX) :].rsplit("#", 1)
            invoice_lines.setdefault(proposal_id, []).append((part, INVOICE_LINES_ADAPTER.validate_json(body).lines))
    for proposal_id, parts in invoice_lines.items():
        if proposal_id in invoices:
            invoices[proposal_id] = replace(
                invoices[proposal_id], lines=tuple(line for _, chunk in sorted(parts) for line in chunk)
            )
    return replace(
        head,
        entries=entries,
        expenses=expenses,
        completions=completions,
        lines=lines,
        invoices=invoices,
        exceptions=exceptions,
        rerates=tuple(record for _, record in sorted(rerates, key=lambda pair: pair[0])),
        written_off_refs=frozenset(written_off_refs),
        written_off_days=written_off_days,
    )


def without_orphan_billing(book: ContractBook) -> ContractBook:
    """Lines that name an invoice the book does not hold are unbilled: a save
    that stopped between marking lines and storing their invoice (the invoice
    is stored last) billed nothing."""
    orphans = {
        line_id: line.invoiced_as(None)
        for line_id, line in book.lines.items()
        if line.invoice_id is not None and line.invoice_id not in book.invoices
    }
    if not orphans:
        return book
    return replace(book, lines={**book.lines, **orphans})


def invoice_ids_of_lines(bodies: dict[str, bytes]) -> set[str]:
    ids: set[str] = set()
    for sk, body in bodies.items():
        if sk.startswith(INPUT_PREFIX):
            ids.update(line.invoice_id for line in GROUP_ADAPTER.validate_json(body).lines if line.invoice_id)
    return ids


def records_json(records: Iterable[Any]) -> list[dict[str, Any]]:
    return [dataclasses.asdict(record) for record in records]


def iter_chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
