"""Rating a contract's entries in one pass gives what rating them one by one gives.

`rate_time_entries` is what a book's re-rate uses (an amendment, a contract that
arrives after its entries); `rate_time_entry` is what an arriving entry uses. The
lines (ids, amounts, texts, stored form), the held days and the rate mismatches
must be the same, and so must the books they make.
"""

from __future__ import annotations

from datetime import date, timedelta

from billbridge.domain import rating
from billbridge.domain.model import BillingLine, ContractBook, TimeEntry, WorkDay
from billbridge.domain.rating import rate_time_entries, rate_time_entry
from billbridge.domain.versions import VersionTimeline
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.domain.builders import D, Desk, entry, expense, timeline, version, week

AMENDED = timeline(
    version(1, roles={"consultant": "100.00", "analyst": "80.00"}, resources={"R-7": "140.00"}, cap="20000"),
    version(2, effective="2026-03-18", roles={"consultant": "110.00"}, resources={"R-7": "150.00"}, cap="20000"),
)
WITH_COST_CENTERS = timeline(
    version(1, start="2026-02-01", end="2026-05-31", cost_centers=["CC-1", "CC-2"], roles={"consultant": "95.50"}),
    terminated_on="2026-04-20",
)

VARIED = (
    entry("TE-day"),
    entry("TE-week", week("2026-03-02")),
    entry("TE-month-end", week("2026-03-30")),
    entry("TE-amended-mid-week", week("2026-03-16")),
    entry("TE-amended-and-month-end", {"2026-03-17": "2", "2026-03-31": "3", "2026-04-01": "4", "2026-03-16": "1"}),
    entry("TE-named", {"2026-03-20": "7.5"}, resource_id="R-7"),
    entry("TE-no-rate", {"2026-03-04": "3"}, role="architect"),
    entry("TE-no-rate-after-amendment", week("2026-03-16", "2"), role="analyst"),
    entry("TE-before-term", {"2025-12-31": "4", "2026-01-02": "5"}),
    entry("TE-after-term", {"2026-12-31": "4", "2027-01-01": "5"}),
    entry("TE-non-billable", billable=False),
    entry("TE-correction", {"2026-03-03": "6.25"}, revision=2),
    entry("TE-psa-rate", week("2026-03-16", "1.5"), bill_rate="100.00"),
    entry("TE-psa-rate-agrees", bill_rate="100.00"),
    entry("TE-unordered", {"2026-03-19": "1", "2026-03-02": "2", "2026-03-18": "3"}),
    entry("TE-cost-center", {"2026-03-05": "4"}, cost_center="CC-1"),
    entry("TE-wrong-cost-center", {"2026-03-05": "4"}, cost_center="CC-9"),
    entry("TE-terminated", {"2026-04-20": "4", "2026-04-21": "4"}, cost_center="CC-2"),
    entry("TE-before-start", {"2026-01-31": "2", "2026-02-02": "2"}, cost_center="CC-2"),
)


def assert_same_as_one_by_one(entries: tuple[TimeEntry, ...], line: VersionTimeline) -> None:
    rated = rate_time_entries(entries, line)
    one_by_one = [rate_time_entry(item, line) for item in entries]
    assert [rated.result_of(index) for index in range(len(entries))] == one_by_one
    assert rated.lines == [rated_line for result in one_by_one for rated_line in result.lines]
    assert [item.written_out() for item in rated.lines] == [
        rated_line.written_out() for result in one_by_one for rated_line in result.lines
    ]


def test_a_varied_contract_rates_the_same_in_one_pass_and_one_by_one() -> None:
    for line in (AMENDED, WITH_COST_CENTERS):
        assert_same_as_one_by_one(VARIED, line)


def test_the_varied_entries_make_lines_holds_and_mismatches() -> None:
    """The book above exercises what it claims: splits, holds of each kind and a mismatch."""
    rated = rate_time_entries(VARIED, AMENDED)
    by_ref: dict[str, list[BillingLine]] = {}
    for line in rated.lines:
        by_ref.setdefault(line.ref, []).append(line)
    assert [line.split_position for line in by_ref["TE-amended-and-month-end"]] == [0, 1000, 2000]
    assert [line.contract_version for line in by_ref["TE-amended-mid-week"]] == [1, 2]
    assert "TE-non-billable" not in by_ref
    held = {VARIED[index].entry_id: outcome for index, outcome in rated.held.items()}
    assert {issue.type.value for issue in held["TE-no-rate-after-amendment"][0]} == {"no_rate"}
    assert {issue.type.value for issue in held["TE-before-term"][0]} == {"outside_term"}
    assert held["TE-psa-rate"][1] is not None
    assert "TE-psa-rate-agrees" not in held
    terms = rate_time_entries(VARIED, WITH_COST_CENTERS)
    held = {VARIED[index].entry_id: outcome for index, outcome in terms.held.items()}
    assert {issue.type.value for issue in held["TE-wrong-cost-center"][0]} == {"invalid_cost_center"}
    assert {issue.type.value for issue in held["TE-terminated"][0]} == {"outside_term"}


hours = st.decimals(min_value="0.25", max_value="12", places=2)
offsets = st.integers(min_value=-20, max_value=400)


@st.composite
def contract_entries(draw: st.DrawFn) -> tuple[VersionTimeline, tuple[TimeEntry, ...]]:
    count = draw(st.integers(min_value=1, max_value=3))
    first = date(2026, 1, 1)
    centers = draw(st.sampled_from([[], ["CC-1"]]))
    versions = [
        version(
            number,
            effective=(first + timedelta(days=0 if number == 1 else draw(st.integers(0, 300)))).isoformat(),
            start=(first + timedelta(days=draw(st.integers(0, 40)))).isoformat(),
            end=(first + timedelta(days=draw(st.integers(200, 364)))).isoformat(),
            roles={role: str(draw(st.decimals(min_value="1", max_value="300", places=2))) for role in ("consultant",)}
            | ({"analyst": "80"} if draw(st.booleans()) else {}),
            resources={"R-1": "150.00"} if draw(st.booleans()) else {},
            cost_centers=centers,
        )
        for number in range(1, count + 1)
    ]
    terminated = draw(st.sampled_from([None, "2026-06-30"]))
    entries = []
    for index in range(draw(st.integers(min_value=1, max_value=12))):
        start = draw(offsets)
        days = tuple(
            WorkDay(date=first + timedelta(days=start + day), hours=draw(hours))
            for day in draw(st.permutations(range(draw(st.integers(min_value=1, max_value=7)))))
        )
        entries.append(
            TimeEntry(
                entry_id=f"TE-{index}",
                revision=draw(st.integers(min_value=1, max_value=3)),
                contract_id="SOW-1",
                resource_id=draw(st.sampled_from([None, "R-1", "R-2"])),
                role=draw(st.sampled_from(["consultant", "analyst", "architect"])),
                billable=draw(st.sampled_from([True, True, False])),
                rejected=draw(st.sampled_from([False, False, False, True])),
                days=days,
                cost_center=draw(st.sampled_from([None, "CC-1", "CC-2"])),
                bill_rate=draw(st.sampled_from([None, D("100.00")])),
            )
        )
    return timeline(*versions, terminated_on=terminated), tuple(entries)


@settings(max_examples=80, deadline=None)
@given(contract=contract_entries())
def test_rating_in_one_pass_equals_rating_one_by_one(contract) -> None:
    line, entries = contract
    assert_same_as_one_by_one(entries, line)


@settings(max_examples=80, deadline=None)
@given(contract=contract_entries())
def test_the_one_day_shortcut_equals_the_grouping_pass(contract) -> None:
    line, entries = contract
    for item in entries:
        if not item.billable or item.rejected:
            continue  # the grouping pass rates billable entries only (the shortcut's caller checks)
        for day in item.days:
            shortcut: list[BillingLine] = []
            grouped: list[BillingLine] = []
            one_day = (day,)
            assert rating._rate_into(shortcut, item, line, one_day, 0) == rating._rate_in_groups(
                grouped, item, line, one_day, 0
            )
            assert shortcut == grouped
            assert [rated.written_out() for rated in shortcut] == [rated.written_out() for rated in grouped]


def time_lines(book: ContractBook) -> dict[str, dict[str, object]]:
    return {line_id: line.written_out() for line_id, line in book.lines.items()}


BOOK_ENTRIES = (*VARIED[:10], entry("TE-correction", {"2026-03-03": "6.25"}), *VARIED[12:15])
"""The varied entries of one contract (no cost centers), the correction arriving later."""


def fill(desk: Desk) -> None:
    """The entries, a correction (revision 2), a rejection and two expenses (one not billable)."""
    for item in BOOK_ENTRIES:
        desk.entry(item)
    desk.entry(VARIED[11])
    desk.reject_entry("TE-week", 2)
    desk.expense(expense("EX-1"))
    desk.expense(expense("EX-2", category="meals"))


V1 = version(1, roles={"consultant": "100.00", "analyst": "80.00"}, cap="6000", retainer="500", categories=["travel"])
V2 = version(
    2, effective="2026-03-18", roles={"consultant": "110.00"}, cap="6000", retainer="500", categories=["travel"]
)


def test_an_amendment_re_rates_a_book_as_rating_each_entry_under_it_would() -> None:
    """Amended mid-period after the entries arrived (the re-rate rates them in one pass)
    or before they arrived (each rated as it comes): the same lines, byte for byte, and
    the same invoices with the cap and the retainer applied."""
    amended_after, amended_before = Desk(), Desk()
    amended_after.version(V1)
    fill(amended_after)
    amended_after.version(V2)
    amended_before.version(V1)
    amended_before.version(V2)
    fill(amended_before)

    assert amended_after.book.rerates, "the amendment re-rated lines"
    assert time_lines(amended_after.book) == time_lines(amended_before.book)
    after, before = amended_after.bill("2026-03"), amended_before.bill("2026-03")
    assert after is not None and before is not None
    assert [line.written_out() for line in after.lines] == [line.written_out() for line in before.lines]
    assert (after.subtotal, after.total) == (before.subtotal, before.total)
    assert [line.kind for line in after.lines].count("retainer") == 1
    assert any("cap" in " ".join(line.rules) for line in after.lines), "the cap split a line"
    assert amended_after.bill("2026-04") is amended_before.bill("2026-04") is None  # the cap is reached
    assert time_lines(amended_after.book) == time_lines(amended_before.book)


def test_entries_that_arrived_before_their_contract_rate_as_if_it_had_been_there() -> None:
    pending_first, contract_first = Desk(), Desk()
    for item in BOOK_ENTRIES:
        pending_first.entry(item)
    assert not pending_first.book.lines
    pending_first.version(V1)
    contract_first.version(V1)
    for item in BOOK_ENTRIES:
        contract_first.entry(item)
    assert pending_first.book.lines
    assert time_lines(pending_first.book) == time_lines(contract_first.book)
    assert {key: (e.type, e.amount, e.detail) for key, e in pending_first.book.exceptions.items()} == {
        key: (e.type, e.amount, e.detail) for key, e in contract_first.book.exceptions.items()
    }
