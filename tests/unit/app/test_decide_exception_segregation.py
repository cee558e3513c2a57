"""Approving an adjustment above the threshold takes a second person."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from billbridge.app.decide_exception import DecideException
from billbridge.app.ledger import apply_to_book
from billbridge.app.segregation_of_duties import SegregationOfDutiesError, SegregationPolicy, decision_request
from billbridge.domain.book_draft import RuleContext
from billbridge.domain.model import ExceptionState

from tests.fakes.hub import CoreHub
from tests.scenarios.catalog import load_scenario


class FixedClock:
    def now(self) -> datetime:
        return datetime(2026, 4, 30, 12, 0, tzinfo=UTC)


RETROACTIVE = "retroactive_change:SOW-200:v3"


def hub_with_retroactive_change() -> CoreHub:
    scenario, _ = load_scenario("02-amendment-split")
    hub = CoreHub(scenario["config"])
    hub.run_scenario(scenario)
    return hub


def request_decision(hub: CoreHub, requester: str) -> None:
    apply_to_book(
        hub.ledger,
        "SOW-200",
        lambda book: decision_request(
            book, RETROACTIVE, requester=requester, reason="customer agreed", context=RuleContext(correlation_id="c")
        ),
    )


def test_the_requester_of_an_adjustment_cannot_approve_it_and_the_refusal_is_audited() -> None:
    hub = hub_with_retroactive_change()
    request_decision(hub, "alice")
    use_case = DecideException(hub.ledger, FixedClock(), policy=SegregationPolicy(threshold=Decimal("500")))
    with pytest.raises(SegregationOfDutiesError):
        use_case.approve(RETROACTIVE, actor="alice", reason="ok")
    assert hub.ledger.load("SOW-200").book.exceptions[RETROACTIVE].state is ExceptionState.OPEN
    assert any(r["action"] == "decision_refused" for r in hub.ledger.audit_of_contract("SOW-200"))

    decided = use_case.approve(RETROACTIVE, actor="bob", reason="second pair of eyes")
    assert decided.exception.state is ExceptionState.APPROVED
    assert decided.exception.decision is not None and decided.exception.decision.actor == "bob"
    assert [line.amount for line in decided.added_lines] == [Decimal("960.00")]


def test_below_the_threshold_one_person_may_decide() -> None:
    hub = hub_with_retroactive_change()
    request_decision(hub, "alice")
    use_case = DecideException(hub.ledger, FixedClock(), policy=SegregationPolicy(threshold=Decimal("5000")))
    assert use_case.approve(RETROACTIVE, actor="alice", reason="small").exception.state is ExceptionState.APPROVED


def test_an_anonymous_actor_cannot_approve_above_the_threshold() -> None:
    hub = hub_with_retroactive_change()
    use_case = DecideException(hub.ledger, FixedClock(), policy=SegregationPolicy(threshold=Decimal("500")))
    with pytest.raises(SegregationOfDutiesError):
        use_case.approve(RETROACTIVE, actor="root", reason="ok")


def test_the_requester_of_a_write_off_cannot_write_it_off_and_the_refusal_is_audited() -> None:
    hub = hub_with_retroactive_change()
    request_decision(hub, "alice")
    use_case = DecideException(hub.ledger, FixedClock(), policy=SegregationPolicy(threshold=Decimal("500")))
    with pytest.raises(SegregationOfDutiesError):
        use_case.write_off(RETROACTIVE, actor="alice", reason="customer will not pay")
    assert hub.ledger.load("SOW-200").book.exceptions[RETROACTIVE].state is ExceptionState.OPEN
    assert any(r["action"] == "decision_refused" for r in hub.ledger.audit_of_contract("SOW-200"))
    decided = use_case.write_off(RETROACTIVE, actor="bob", reason="second pair of eyes")
    assert decided.exception.state is ExceptionState.WRITTEN_OFF


def test_an_anonymous_actor_cannot_write_off_a_held_entry_above_the_threshold() -> None:
    scenario, _ = load_scenario("01-time-and-materials")
    hub = CoreHub(scenario["config"])
    hub.run_scenario(scenario)
    held = next(e for e in hub.ledger.exceptions() if e.state is ExceptionState.OPEN and abs(e.amount) >= 1)
    use_case = DecideException(hub.ledger, FixedClock(), policy=SegregationPolicy(threshold=Decimal("1")))
    with pytest.raises(SegregationOfDutiesError):
        use_case.write_off(held.exception_id, actor="root", reason="no")
    assert use_case.write_off(held.exception_id, actor="carol", reason="agreed").exception.state is (
        ExceptionState.WRITTEN_OFF
    )
