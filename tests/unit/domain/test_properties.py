"""Invariants of the billing core, checked on generated books."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from billbridge.domain.actuals import apply_time_entry
from billbridge.domain.contract_changes import apply_contract_version
from billbridge.domain.model import BillingLine, ContractBook, ExceptionType, TimeEntry, WorkDay
from billbridge.domain.money import minor_unit_quantum, round_money
from billbridge.domain.rating import rate_time_entry
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.domain.builders import CONTRACT, Desk, context, fee, timeline, version

SETTINGS = settings(max_examples=60, deadline=None)
FIRST_DAY = date(2026, 1, 1)
PERIODS = ("2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06")

hours = st.decimals(min_value="0.25", max_value="12", places=2)
rates = st.decimals(min_value="1", max_value="400", places=3).map(lambda rate: rate.normalize())
currencies = st.sampled_from(["USD", "JPY", "BHD", "EUR"])
day_offsets = st.integers(min_value=0, max_value=180)


@st.composite
def time_entries(draw: st.DrawFn, entry_id: str, revision: int = 1) -> TimeEntry:
    start = draw(day_offsets)
    length = draw(st.integers(min_value=1, max_value=7))
    days = tuple(WorkDay(date=FIRST_DAY + timedelta(days=start + i), hours=draw(hours)) for i in range(length))
    return TimeEntry(
        entry_id=entry_id,
        revision=revision,
        contract_id=CONTRACT,
        resource_id=None,
        role="consultant",
        billable=True,
        days=days,
    )


@st.composite
def contract_versions(draw: st.DrawFn, count: int, *, cap: bool = False) -> list:
    """`count` versions numbered 1.., with arbitrary effective dates (retroactive ones too)."""
    currency = draw(currencies)
    versions = []
    for number in range(1, count + 1):
        effective = FIRST_DAY + timedelta(days=0 if number == 1 else draw(day_offsets))
        versions.append(
            version(
                number,
                effective=effective.isoformat(),
                currency=currency,
                roles={"consultant": str(draw(rates))},
                cap=str(draw(st.integers(min_value=0, max_value=20000))) if cap else None,
                fees=[fee("F1", "1000.00")] if draw(st.booleans()) else [],
                retainer=draw(st.sampled_from([None, "500", "5000"])),
            )
        )
    return versions


def invoiced(book: ContractBook) -> dict[str, BillingLine]:
    return {
        line_id: line
        for line_id, line in book.lines.items()
        if line.invoice_id is not None and book.invoices[line.invoice_id].counts
    }


@SETTINGS
@given(
    versions=contract_versions(3),
    entries=st.lists(st.integers(0, 10**6), min_size=1, max_size=6).flatmap(
        lambda ids: st.tuples(*(time_entries(f"TE-{i}") for i in range(len(ids))))
    ),
)
def test_invoice_total_is_subtotal_plus_tax_and_subtotal_is_the_sum_of_lines(versions, entries) -> None:
    desk = Desk()
    for item in versions:
        desk.version(item)
    for item in entries:
        desk.entry(item)
    for period in PERIODS:
        invoice = desk.bill(period)
        if invoice is None:
            continue
        assert invoice.subtotal == sum((line.amount for line in invoice.lines), Decimal(0))
        assert invoice.total == invoice.subtotal + invoice.tax
        assert invoice.tax == round_money(invoice.subtotal * invoice.tax_rate, invoice.currency)
        quantum = minor_unit_quantum(invoice.currency)
        for line in invoice.lines:
            assert line.amount == line.amount.quantize(quantum)


@SETTINGS
@given(versions=contract_versions(3), item=time_entries("TE-1"))
def test_splitting_preserves_hours_and_amounts_within_rounding(versions, item) -> None:
    line = timeline(*versions)
    result = rate_time_entry(item, line)
    in_term = [day for day in item.days if line.applicable_on(day.date) is not None]
    assert sum((rated.quantity for rated in result.lines), Decimal(0)) == sum(
        (day.hours for day in in_term), Decimal(0)
    )
    exact = sum(
        (day.hours * line.applicable_on(day.date).rate_card[0].rate for day in in_term),  # type: ignore[union-attr]
        Decimal(0),
    )
    quantum = minor_unit_quantum(versions[0].currency)
    total = sum((rated.amount for rated in result.lines), Decimal(0))
    assert abs(total - exact) <= quantum / 2 * len(result.lines)
    for rated in result.lines:
        assert rated.amount == round_money(rated.quantity * rated.rate, rated.currency)  # type: ignore[operator]
        months = {(day.date.year, day.date.month) for day in rated.days}
        assert len(months) == 1
        assert rated.line_date == max(day.date for day in rated.days)


@SETTINGS
@given(versions=contract_versions(3), item=time_entries("TE-1"))
def test_rating_is_deterministic(versions, item) -> None:
    assert rate_time_entry(item, timeline(*versions)) == rate_time_entry(item, timeline(*reversed(versions)))
    one, two = Desk(), Desk()
    for desk in (one, two):
        for contract_version in versions:
            desk.version(contract_version)
        desk.entry(item)
    assert one.book == two.book


@SETTINGS
@given(
    versions=contract_versions(2),
    entries=st.lists(st.integers(0, 9), min_size=1, max_size=5).flatmap(
        lambda ids: st.tuples(*(time_entries(f"TE-{i}") for i in range(len(ids))))
    ),
    bill_first=st.booleans(),
)
def test_a_version_identical_in_terms_under_a_new_number_changes_no_amounts(versions, entries, bill_first) -> None:
    desk = Desk()
    for item in versions:
        desk.version(item)
    for item in entries:
        desk.entry(item)
    if bill_first:
        desk.bill("2026-03")
    latest = versions[-1]
    effective = max(v.effective_date for v in versions)
    same_terms = replace(latest, version=latest.version + 1, effective_date=min(latest.effective_date, effective))
    before = desk.book
    desk.version(same_terms)
    after = desk.book

    def priced(book: ContractBook) -> Counter[tuple[object, ...]]:
        return Counter((line.kind, line.quantity, line.rate, line.amount, line.days) for line in book.lines.values())

    assert priced(after) == priced(before)
    assert invoiced(after) == invoiced(before)
    for record in after.rerates[len(before.rerates) :]:
        assert record.old_amount == record.new_amount
    for exception in after.exceptions.values():
        if exception.type is ExceptionType.RETROACTIVE_CHANGE:
            assert exception.amount == 0


@SETTINGS
@given(versions=contract_versions(2), item=time_entries("TE-1"), bill_between=st.booleans())
def test_delivering_the_same_input_twice_changes_nothing(versions, item, bill_between) -> None:
    book = ContractBook(contract_id=CONTRACT)
    for contract_version in versions:
        book = apply_contract_version(book, contract_version, context("v")).book
    once = apply_time_entry(book, item, context("first"))
    desk = Desk(book=once.book)
    if bill_between:
        desk.bill("2026-06")
    twice = apply_time_entry(desk.book, item, context("second"))
    assert twice.changed is False
    assert twice.book == desk.book
    again = apply_contract_version(desk.book, versions[-1], context("again"))
    assert again.changed is False
    assert again.book == desk.book


operations = st.lists(
    st.one_of(
        st.tuples(st.just("entry"), st.integers(0, 6), st.integers(1, 3)),
        st.tuples(st.just("version"), rates, day_offsets),
        st.tuples(st.just("reject"), st.integers(0, 6), st.integers(2, 4)),
        st.tuples(st.just("bill"), st.sampled_from(PERIODS), st.just(0)),
    ),
    min_size=1,
    max_size=14,
)


@SETTINGS
@given(versions=contract_versions(1), ops=operations, data=st.data())
def test_invoiced_lines_never_change_after_later_inputs(versions, ops, data) -> None:
    desk = Desk()
    desk.version(versions[0])
    seen: dict[str, BillingLine] = {}
    for op, a, b in ops:
        if op == "entry":
            desk.entry(data.draw(time_entries(f"TE-{a}", revision=b)))
        elif op == "version":
            number = max(desk.book.versions) + 1
            effective = FIRST_DAY + timedelta(days=b)
            desk.version(
                replace(
                    versions[0],
                    version=number,
                    effective_date=effective,
                    rate_card=(replace(versions[0].rate_card[0], rate=a),),
                )
            )
        elif op == "reject":
            desk.reject_entry(f"TE-{a}", b)
        else:
            desk.bill(a)
        current = invoiced(desk.book)
        for line_id, line in seen.items():
            assert current.get(line_id) == line
        seen.update(current)


@SETTINGS
@given(
    versions=contract_versions(1, cap=True),
    ops=operations,
    data=st.data(),
)
def test_invoiced_time_never_exceeds_the_latest_cap(versions, ops, data) -> None:
    desk = Desk()
    desk.version(versions[0])
    for op, a, b in ops:
        if op == "entry":
            desk.entry(data.draw(time_entries(f"TE-{a}", revision=b)))
        elif op == "version":
            number = max(desk.book.versions) + 1
            cap = Decimal(data.draw(st.integers(min_value=0, max_value=20000)))
            desk.version(
                replace(versions[0], version=number, effective_date=FIRST_DAY + timedelta(days=b), cap_amount=cap)
            )
        elif op == "reject":
            desk.reject_entry(f"TE-{a}", b)
        else:
            before = _invoiced_time(desk.book)
            desk.bill(a)
            latest = desk.book.latest_version
            assert latest is not None and latest.cap_amount is not None
            after = _invoiced_time(desk.book)
            # A run bills time only up to the cap in force; a lowered cap bills no more time.
            assert after <= latest.cap_amount or after == before


def _invoiced_time(book: ContractBook) -> Decimal:
    return sum((line.amount for line in invoiced(book).values() if line.kind == "time"), Decimal(0))
