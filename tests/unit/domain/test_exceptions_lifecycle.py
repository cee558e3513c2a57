"""Exceptions: one per offending input, states, decisions, never deleted."""

from __future__ import annotations

import pytest
from billbridge.domain.exception_decisions import ExceptionDecisionError
from billbridge.domain.model import ExceptionState, ExceptionType

from tests.unit.domain.builders import D, Desk, entry, version


def test_every_exception_has_type_contract_refs_amount_correlation_and_state() -> None:
    desk = Desk()
    desk.version(version())
    desk.entry(entry("TE-1", role="architect", bill_rate="150.00"))
    exception = desk.exception(ExceptionType.NO_RATE)
    assert exception.contract_id == "SOW-1"
    assert exception.refs == ("TE-1",)
    assert exception.amount == D("1200.00")
    assert exception.correlation_id == "TE-1"
    assert exception.state is ExceptionState.OPEN


def test_the_same_input_delivered_again_does_not_raise_a_second_exception() -> None:
    desk = Desk()
    desk.version(version())
    desk.entry(entry("TE-1", role="architect"))
    desk.entry(entry("TE-1", role="architect", revision=2))
    assert len(desk.exceptions(ExceptionType.NO_RATE)) == 1


def test_one_exception_per_offending_input() -> None:
    desk = Desk()
    desk.version(version())
    desk.entry(entry("TE-1", role="architect"))
    desk.entry(entry("TE-2", role="architect"))
    assert sorted(e.refs for e in desk.exceptions(ExceptionType.NO_RATE)) == [("TE-1",), ("TE-2",)]


def test_resolved_exception_is_kept_not_deleted() -> None:
    desk = Desk()
    desk.version(version())
    desk.entry(entry("TE-1", role="architect"))
    desk.version(version(2, roles={"architect": "150.00"}))
    (exception,) = desk.exceptions()
    assert exception.state is ExceptionState.RESOLVED


def test_approval_records_the_decision() -> None:
    desk = Desk()
    desk.version(version(cap="100.00"))
    desk.entry(entry("TE-1"))
    desk.bill("2026-03")
    exceeded = desk.exception(ExceptionType.CAP_EXCEEDED)
    desk.approve(exceeded.exception_id)
    decided = desk.exception(ExceptionType.CAP_EXCEEDED)
    assert decided.state is ExceptionState.APPROVED
    assert decided.decision is not None
    assert (decided.decision.actor, decided.decision.reason) == ("ops", "agreed")


def test_decided_exception_cannot_be_decided_again() -> None:
    desk = Desk()
    desk.version(version(cap="100.00"))
    desk.entry(entry("TE-1"))
    desk.bill("2026-03")
    exceeded = desk.exception(ExceptionType.CAP_EXCEEDED)
    desk.write_off(exceeded.exception_id)
    with pytest.raises(ExceptionDecisionError):
        desk.approve(exceeded.exception_id)
    with pytest.raises(ExceptionDecisionError):
        desk.write_off("no-such-exception")


def test_written_off_no_rate_entry_is_not_billed_after_a_new_version() -> None:
    desk = Desk()
    desk.version(version())
    desk.entry(entry("TE-1", role="architect"))
    desk.write_off(desk.exception(ExceptionType.NO_RATE).exception_id)
    desk.version(version(2, roles={"architect": "150.00"}))
    assert desk.lines() == []
    assert desk.exception(ExceptionType.NO_RATE).state is ExceptionState.WRITTEN_OFF
    assert desk.bill("2026-03") is None


def test_a_decided_exception_is_not_reopened_by_the_same_input() -> None:
    desk = Desk()
    desk.version(version(categories=["travel"]))
    desk.entry(entry("TE-1", role="architect"))
    no_rate = desk.exception(ExceptionType.NO_RATE)
    desk.write_off(no_rate.exception_id)
    desk.entry(entry("TE-1", role="architect", revision=2))
    assert desk.exception(ExceptionType.NO_RATE).state is ExceptionState.WRITTEN_OFF


def test_new_cap_exceeded_after_a_resolved_one_is_a_new_exception() -> None:
    desk = Desk()
    desk.version(version(cap="1000.00"))
    desk.entry(entry("TE-1", {"2026-03-02": "12"}))
    desk.bill("2026-03")
    desk.version(version(2, effective="2026-04-01", cap="1200.00"))
    desk.bill("2026-04")
    assert desk.exception(ExceptionType.CAP_EXCEEDED).state is ExceptionState.RESOLVED
    desk.entry(entry("TE-2", {"2026-05-04": "1"}))
    desk.bill("2026-05")
    states = sorted(e.state.value for e in desk.exceptions(ExceptionType.CAP_EXCEEDED))
    assert states == ["open", "resolved"]
    assert len(desk.exceptions(ExceptionType.CAP_EXCEEDED, ExceptionState.OPEN)) == 1
