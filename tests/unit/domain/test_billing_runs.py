"""Billing runs: what a period gathers, supplementary invoices, idempotency."""

from __future__ import annotations

import pytest
from billbridge.app.ledger import ConcurrentUpdateError, apply_to_book
from billbridge.domain.billing_run import InvalidPeriodError, compose_invoice

from tests.fakes.memory_ledger import InMemoryLedger
from tests.unit.domain.builders import (
    CONTRACT,
    D,
    Desk,
    completion,
    config,
    context,
    entry,
    expense,
    fee,
    version,
)


def test_run_gathers_time_expenses_milestones_and_fees_up_to_the_end_of_the_period() -> None:
    desk = Desk()
    desk.version(version(categories=["travel"], milestones={"M1": "500.00"}, fees=[fee("F1", "310.00")]))
    desk.entry(entry("TE-1", {"2026-02-27": "1"}))
    desk.entry(entry("TE-2", {"2026-03-31": "1"}))
    desk.entry(entry("TE-3", {"2026-04-01": "1"}))
    desk.expense(expense("EX-1", on="2026-03-31"))
    desk.expense(expense("EX-2", on="2026-04-01"))
    desk.complete(completion("M1", on="2026-03-15"))
    invoice = desk.bill("2026-03")
    assert invoice is not None
    assert [(line.kind, line.ref) for line in invoice.lines] == [
        ("fee", "F1"),
        ("milestone", "M1"),
        ("time", "TE-1"),
        ("time", "TE-2"),
        ("expense", "EX-1"),
    ]


def test_nothing_to_bill_makes_no_invoice_and_changes_nothing() -> None:
    desk = Desk()
    desk.version(version())
    before = desk.book
    outcome = desk.bill_outcome("2026-03")
    assert outcome.invoice is None
    assert outcome.update.changed is False
    assert desk.book == before


def test_rerunning_a_period_with_nothing_new_changes_nothing() -> None:
    desk = Desk()
    desk.version(version(fees=[fee("F1", "100.00")]))
    desk.entry(entry("TE-1"))
    assert desk.bill("2026-03") is not None
    before = desk.book
    outcome = desk.bill_outcome("2026-03")
    assert outcome.invoice is None
    assert outcome.update.changed is False
    assert desk.book == before


def test_rerun_bills_only_what_is_new_in_a_supplementary_invoice() -> None:
    desk = Desk()
    desk.version(version())
    desk.entry(entry("TE-1"))
    first = desk.bill("2026-03")
    desk.entry(entry("TE-2", {"2026-03-20": "2"}))
    second = desk.bill("2026-03")
    desk.entry(entry("TE-3", {"2026-03-21": "3"}))
    third = desk.bill("2026-03")
    assert first is not None and second is not None and third is not None
    assert [first.proposal_id, second.proposal_id, third.proposal_id] == [
        "SOW-1-2026-03-1",
        "SOW-1-2026-03-2",
        "SOW-1-2026-03-3",
    ]
    assert [line.ref for line in second.lines] == ["TE-2"]
    assert [line.ref for line in third.lines] == ["TE-3"]
    assert (second.seq, third.seq) == (2, 3)


def test_seq_counts_invoices_per_period_from_one() -> None:
    desk = Desk()
    desk.version(version())
    desk.entry(entry("TE-1", {"2026-03-02": "1"}))
    desk.bill("2026-03")
    desk.entry(entry("TE-2", {"2026-04-02": "1"}))
    april = desk.bill("2026-04")
    assert april is not None
    assert april.proposal_id == f"{CONTRACT}-2026-04-1"


def test_composing_the_same_book_twice_gives_the_same_proposal() -> None:
    desk = Desk()
    desk.version(version())
    desk.entry(entry("TE-1"))
    first = compose_invoice(desk.book, period="2026-03", config=config(), run_id="r", context=context("r"))
    again = compose_invoice(desk.book, period="2026-03", config=config(), run_id="r", context=context("r"))
    assert first.invoice == again.invoice
    assert first.update.book == again.update.book


def test_two_concurrent_runs_of_the_same_period_bill_nothing_twice() -> None:
    ledger = InMemoryLedger(config())
    desk = Desk()
    desk.version(version())
    desk.entry(entry("TE-1"))
    ledger.save(ledger.load(CONTRACT), desk.last)  # type: ignore[arg-type]
    stored = ledger.load(CONTRACT)
    run_a = compose_invoice(stored.book, period="2026-03", config=config(), run_id="a", context=context("a"))
    run_b = compose_invoice(stored.book, period="2026-03", config=config(), run_id="b", context=context("b"))
    ledger.save(stored, run_a.update)
    with pytest.raises(ConcurrentUpdateError):
        ledger.save(stored, run_b.update)
    retried = apply_to_book(
        ledger,
        CONTRACT,
        lambda book: compose_invoice(book, period="2026-03", config=config(), run_id="b", context=context("b")).update,
    )
    assert retried.changed is False
    (invoice,) = ledger.load(CONTRACT).book.invoices.values()
    assert invoice.run_id == "a"
    assert invoice.subtotal == D("800.00")


@pytest.mark.parametrize("period", ["2026-3", "2026-13", "26-03", "2026/03", "march"])
def test_period_must_be_a_calendar_month(period: str) -> None:
    desk = Desk()
    desk.version(version())
    with pytest.raises(InvalidPeriodError):
        desk.bill(period)


def test_contract_not_known_yet_is_not_billed() -> None:
    desk = Desk()
    desk.entry(entry("TE-1"))
    outcome = desk.bill_outcome("2026-03")
    assert outcome.invoice is None
    assert outcome.update.changed is False
