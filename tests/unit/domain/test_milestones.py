"""Milestones: billed once at the version applicable on completion."""

from __future__ import annotations

from billbridge.domain.model import ExceptionState, ExceptionType

from tests.unit.domain.builders import D, Desk, completion, version


def test_milestone_bills_its_amount_once() -> None:
    desk = Desk()
    desk.version(version(milestones={"M1": "5000.00"}))
    desk.complete(completion("M1", on="2026-03-15"))
    invoice = desk.bill("2026-03")
    assert invoice is not None
    assert [(line.kind, line.ref, line.amount) for line in invoice.lines] == [("milestone", "M1", D("5000.00"))]
    assert desk.bill("2026-03") is None
    assert desk.bill("2026-04") is None


def test_milestone_completed_twice_is_billed_once() -> None:
    desk = Desk()
    desk.version(version(milestones={"M1": "5000.00"}))
    desk.complete(completion("M1", on="2026-03-15"))
    desk.bill("2026-03")
    update = desk.complete(completion("M1", on="2026-04-02"))
    assert update.changed is False
    assert desk.bill("2026-04") is None
    assert len(desk.lines("milestone")) == 1


def test_milestone_amount_comes_from_the_version_applicable_on_completion() -> None:
    desk = Desk()
    desk.version(version(1, milestones={"M1": "5000.00"}))
    desk.version(version(2, effective="2026-04-01", milestones={"M1": "6000.00"}))
    desk.complete(completion("M1", on="2026-03-31"))
    assert [(line.contract_version, line.amount) for line in desk.lines("milestone")] == [(1, D("5000.00"))]


def test_unknown_milestone_raises_unknown_milestone() -> None:
    desk = Desk()
    desk.version(version(milestones={"M1": "5000.00"}))
    desk.complete(completion("M9"))
    assert desk.lines("milestone") == []
    unknown = desk.exception(ExceptionType.UNKNOWN_MILESTONE)
    assert unknown.refs == ("M9",)
    assert desk.bill("2026-03") is None


def test_unknown_milestone_resolves_when_a_version_adds_it() -> None:
    desk = Desk()
    desk.version(version(milestones={"M1": "5000.00"}))
    desk.complete(completion("M9"))
    desk.version(version(2, milestones={"M1": "5000.00", "M9": "750.00"}))
    assert [line.amount for line in desk.lines("milestone")] == [D("750.00")]
    assert desk.exception(ExceptionType.UNKNOWN_MILESTONE).state is ExceptionState.RESOLVED


def test_milestone_completed_after_the_period_waits_for_its_month() -> None:
    desk = Desk()
    desk.version(version(milestones={"M1": "5000.00"}))
    desk.complete(completion("M1", on="2026-04-01"))
    assert desk.bill("2026-03") is None
    assert desk.bill("2026-04") is not None


def test_completion_before_the_contract_is_rated_when_it_arrives() -> None:
    desk = Desk()
    desk.complete(completion("M1"))
    desk.version(version(milestones={"M1": "5000.00"}))
    assert [line.amount for line in desk.lines("milestone")] == [D("5000.00")]
