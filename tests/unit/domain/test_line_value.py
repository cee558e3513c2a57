"""A billing line holds what identifies and prices it; its texts are derived when shown."""

from __future__ import annotations

from billbridge.domain.billing_run import split_line_at
from billbridge.domain.model import BillingLine, RateCardBasis, StatedBasis
from billbridge.domain.rating import rate_time_entry

from tests.unit.domain.builders import D, entry, timeline, version

AMENDED = timeline(
    version(1, cost_centers=["CC-1"], resources={"R-7": "150.00"}),
    version(2, effective="2026-03-04", cost_centers=["CC-1"], resources={"R-7": "165.50"}),
)
SPLIT_ENTRY = entry(
    "TE-9",
    {"2026-02-27": "7.5", "2026-03-02": "8", "2026-03-05": "4.25"},
    role="architect",
    resource_id="R-7",
    cost_center="CC-1",
)


def test_a_rated_time_line_shows_its_rate_rule_rules_and_description() -> None:
    first, _, third = rate_time_entry(SPLIT_ENTRY, AMENDED).lines
    assert first.rate_rule == "rate_card[resource_id=R-7]"
    assert first.rules == (
        "version 1 applies from 2026-01-01",
        "rate card resource_id=R-7 at 150.00",
        "split 1 of 3 by contract version and month",
        "cost center CC-1 allowed",
    )
    assert first.description == (
        "Time: architect R-7, 7.5 h on 2026-02-27..2026-02-27 at 150.00 USD/h (contract version 1)"
    )
    assert third.rules[0] == "version 2 applies from 2026-03-04"
    assert third.description == (
        "Time: architect R-7, 4.25 h on 2026-03-05..2026-03-05 at 165.50 USD/h (contract version 2)"
    )


def test_an_unsplit_line_without_cost_centers_has_two_rules_and_names_the_role() -> None:
    (line,) = rate_time_entry(entry("TE-1", {"2026-03-02": "8", "2026-03-03": "6.5"}), timeline(version())).lines
    assert line.rules == ("version 1 applies from 2026-01-01", "rate card role=consultant at 100.00")
    assert line.description == (
        "Time: consultant, 14.5 h on 2026-03-02..2026-03-03 at 100.00 USD/h (contract version 1)"
    )


def test_lines_of_one_rate_card_line_share_one_basis_and_splits_say_their_place() -> None:
    line_timeline = timeline(version())
    (one,) = rate_time_entry(entry("TE-1"), line_timeline).lines
    (other,) = rate_time_entry(entry("TE-2", {"2026-03-09": "3"}), line_timeline).lines
    assert isinstance(one.basis, RateCardBasis)
    assert one.basis is other.basis
    splits = [line.basis for line in rate_time_entry(SPLIT_ENTRY, AMENDED).lines]
    assert [(basis.split_index, basis.split_count) for basis in splits] == [(0, 3), (1, 3), (2, 3)]


def test_a_line_read_back_from_its_record_equals_the_rated_line() -> None:
    for line in rate_time_entry(SPLIT_ENTRY, AMENDED).lines:
        stored = BillingLine.from_record(line.record())
        assert isinstance(stored.basis, StatedBasis)
        assert stored == line
        assert (stored != line) is False
        assert hash(stored) == hash(line)
        assert stored.record() == line.record()


def test_lines_that_show_other_texts_are_not_equal() -> None:
    (line,) = rate_time_entry(entry("TE-1"), timeline(version())).lines
    other_text = line.record().__class__(**{**_fields(line.record()), "description": "Time: someone else"})
    assert BillingLine.from_record(other_text) != line
    assert line._replace(amount=D("1.00")) != line


def test_cap_split_parts_keep_the_line_texts_and_add_their_own_rule() -> None:
    (line,) = rate_time_entry(entry("TE-1", {"2026-03-02": "8"}), timeline(version())).lines
    billed, held = split_line_at(line, D("300.00"))
    assert billed.rate_rule == held.rate_rule == "rate_card[role=consultant]"
    assert billed.rules == (*line.rules, "split at the not-to-exceed cap: billed part")
    assert billed.description == f"{line.description}; billed up to the not-to-exceed cap: 3.00 of 8 h"
    assert held.description == f"{line.description}; held past the not-to-exceed cap: 5.00 of 8 h"


def test_a_line_on_an_invoice_keeps_its_texts() -> None:
    line = rate_time_entry(SPLIT_ENTRY, AMENDED).lines[0]
    invoiced = line.invoiced_as("SOW-1-2026-03-1")
    assert invoiced.invoice_id == "SOW-1-2026-03-1"
    assert (invoiced.rules, invoiced.description) == (line.rules, line.description)
    assert invoiced.invoiced_as(None) == line


def _fields(record: object) -> dict[str, object]:
    return {name: getattr(record, name) for name in record.__dataclass_fields__}  # type: ignore[attr-defined]


def test_the_basis_is_the_last_field_so_equality_and_hash_cover_every_other_one() -> None:
    assert BillingLine._fields[-1] == "basis"
    (line,) = rate_time_entry(entry("TE-1"), timeline(version())).lines
    for name in BillingLine._fields[:-1]:
        changed = line._replace(**{name: object()})
        assert changed != line, name
