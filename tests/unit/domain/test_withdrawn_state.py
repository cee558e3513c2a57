"""`withdrawn`: what an exception held went away (not billed later, which is `resolved`)."""

from __future__ import annotations

from billbridge.domain.model import ExceptionState, ExceptionType

from tests.unit.domain.builders import Desk, completion, entry, expense, version


def test_rejected_entry_withdraws_the_exception_that_held_it() -> None:
    desk = Desk()
    desk.version(version(roles={"architect": "150.00"}))
    desk.entry(entry("TE-1", role="designer"))
    desk.reject_entry("TE-1", 2)
    assert desk.exception(ExceptionType.NO_RATE).state is ExceptionState.WITHDRAWN


def test_revision_failing_another_check_withdraws_the_old_exception_and_raises_the_new() -> None:
    desk = Desk()
    desk.version(version(roles={"architect": "150.00"}, cost_centers=("CC-1",)))
    desk.entry(entry("TE-1", role="designer", cost_center="CC-1"))
    desk.entry(entry("TE-1", role="designer", cost_center="CC-9", revision=2))
    assert desk.exception(ExceptionType.NO_RATE).state is ExceptionState.WITHDRAWN
    assert desk.exception(ExceptionType.INVALID_COST_CENTER).state is ExceptionState.OPEN


def test_expense_made_non_billable_withdraws_its_currency_mismatch() -> None:
    desk = Desk()
    desk.version(version(categories=("travel",)))
    desk.expense(expense("EX-1", currency="EUR"))
    desk.expense(expense("EX-1", currency="EUR", billable=False))
    assert desk.exception(ExceptionType.CURRENCY_MISMATCH).state is ExceptionState.WITHDRAWN


def test_unknown_milestone_is_not_resolved_by_a_termination_that_bills_nothing() -> None:
    desk = Desk()
    desk.version(version(milestones={"M1": "1000.00"}))
    desk.complete(completion("M9", on="2026-05-10"))
    desk.terminate("2026-04-30")
    states = {e.type: e.state for e in desk.exceptions()}
    assert ExceptionState.RESOLVED not in states.values()


def test_entry_that_now_bills_resolves_its_exception() -> None:
    desk = Desk()
    desk.version(version(roles={"architect": "150.00"}))
    desk.entry(entry("TE-1", role="designer"))
    desk.version(version(number=2, roles={"architect": "150.00", "designer": "90.00"}))
    assert desk.exception(ExceptionType.NO_RATE).state is ExceptionState.RESOLVED


def test_cap_exceeded_whose_held_entry_was_rejected_is_withdrawn() -> None:
    desk = Desk()
    desk.version(version(cap="500.00"))
    desk.entry(entry("TE-1", {"2026-03-02": "5"}))
    desk.entry(entry("TE-2", {"2026-03-03": "3"}))
    desk.bill("2026-03")
    assert desk.exception(ExceptionType.CAP_EXCEEDED).state is ExceptionState.OPEN
    desk.reject_entry("TE-2", 2)
    desk.bill("2026-03")
    assert desk.exception(ExceptionType.CAP_EXCEEDED).state is ExceptionState.WITHDRAWN


def test_hub_states_cannot_be_decided_by_an_operator() -> None:
    import pytest
    from billbridge.domain.exception_decisions import ExceptionDecisionError

    desk = Desk()
    desk.version(version(roles={"architect": "150.00"}))
    desk.entry(entry("TE-1", role="designer"))
    desk.reject_entry("TE-1", 2)
    with pytest.raises(ExceptionDecisionError):
        desk.approve(desk.exception(ExceptionType.NO_RATE).exception_id)
