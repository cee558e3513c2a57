"""A draft finds a book's lines by (kind, ref) through an index that equals a scan of the lines."""

from __future__ import annotations

import pickle
from datetime import date
from decimal import Decimal

from billbridge.domain.book_draft import BookDraft, LineTable, RuleContext
from billbridge.domain.model import BillingLine, ContractBook
from hypothesis import given
from hypothesis import strategies as st

KINDS = ("time", "expense", "fee")
REFS = ("TE-1", "TE-2", "EX-1")


def line(line_id: str, kind: str, ref: str, amount: str = "10.00") -> BillingLine:
    return BillingLine(
        line_id=line_id,
        kind=kind,  # type: ignore[arg-type]
        ref=ref,
        quantity=Decimal("1"),
        amount=Decimal(amount),
        currency="USD",
        line_date=date(2026, 3, 2),
    )


def scanned(lines: dict[str, BillingLine], kind: str, ref: str) -> list[BillingLine]:
    return [candidate for candidate in lines.values() if candidate.kind == kind and candidate.ref == ref]


operations = st.lists(
    st.tuples(
        st.sampled_from(("put", "drop", "freeze")),
        st.sampled_from([f"L{n}" for n in range(6)]),
        st.sampled_from(KINDS),
        st.sampled_from(REFS),
    ),
    max_size=40,
)


@given(operations)
def test_lines_of_equals_a_scan_through_puts_drops_and_successive_drafts(steps: list[tuple[str, ...]]) -> None:
    book = ContractBook(contract_id="SOW-1")
    draft = BookDraft(book, RuleContext(correlation_id="c"))
    for operation, line_id, kind, ref in steps:
        if operation == "put":
            draft.put_line(line(line_id, kind, ref))
        elif operation == "drop":
            draft.drop_line(line_id)
        else:
            book = draft.freeze().book
            draft = BookDraft(book, RuleContext(correlation_id="c"))
        for k in KINDS:
            for r in REFS:
                assert draft.lines_of(k, r) == scanned(draft.lines, k, r)


def test_a_draft_leaves_the_book_it_came_from_and_its_index_unchanged() -> None:
    first = BookDraft(ContractBook(contract_id="SOW-1"), RuleContext(correlation_id="c"))
    first.put_line(line("L1", "time", "TE-1"))
    book = first.freeze().book
    assert first.lines_of("time", "TE-1") == [line("L1", "time", "TE-1")]

    second = BookDraft(book, RuleContext(correlation_id="c"))
    second.put_line(line("L2", "time", "TE-1"))
    second.drop_line("L1")

    again = BookDraft(book, RuleContext(correlation_id="c"))
    assert again.lines_of("time", "TE-1") == [line("L1", "time", "TE-1")]
    assert list(book.lines) == ["L1"]


def test_a_line_that_changes_its_ref_is_found_under_the_new_one_only() -> None:
    draft = BookDraft(ContractBook(contract_id="SOW-1"), RuleContext(correlation_id="c"))
    draft.put_line(line("L1", "time", "TE-1"))
    draft.put_line(line("L2", "time", "TE-2"))
    draft.lines_of("time", "TE-1")
    draft.put_line(line("L1", "time", "TE-2"))
    assert draft.lines_of("time", "TE-1") == []
    assert [found.line_id for found in draft.lines_of("time", "TE-2")] == ["L1", "L2"]


def test_a_book_with_an_index_equals_and_pickles_as_the_same_book_without_one() -> None:
    draft = BookDraft(ContractBook(contract_id="SOW-1"), RuleContext(correlation_id="c"))
    draft.put_line(line("L1", "time", "TE-1"))
    draft.lines_of("time", "TE-1")
    book = draft.freeze().book
    plain = ContractBook(contract_id="SOW-1", lines={"L1": line("L1", "time", "TE-1")})
    assert isinstance(book.lines, LineTable)
    assert book == plain
    copied = pickle.loads(pickle.dumps(book))
    assert copied == plain
    assert BookDraft(copied, RuleContext(correlation_id="c")).lines_of("time", "TE-1") == [line("L1", "time", "TE-1")]
