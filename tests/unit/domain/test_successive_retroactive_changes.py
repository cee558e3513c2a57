"""Successive retroactive amendments of the same invoiced lines bill each
change once: measured from what the lines are already worth."""

from __future__ import annotations

import copy
from decimal import Decimal

from billbridge.domain.book_draft import RuleContext
from billbridge.domain.exception_decisions import approve_exception
from billbridge.domain.model import ExceptionState

from tests.fakes.hub import CoreHub
from tests.scenarios.catalog import load_scenario

V3 = "retroactive_change:SOW-200:v3"
V4 = "retroactive_change:SOW-200:v4"


def scenario_02_hub() -> tuple[CoreHub, dict]:
    scenario, _ = load_scenario("02-amendment-split")
    hub = CoreHub(scenario["config"])
    hub.run_scenario(scenario)
    amendment = next(
        step["deliver"] for step in scenario["steps"] if "deliver" in step and step["deliver"]["id"] == "clm-0006"
    )
    return hub, amendment


def fourth_version(amendment: dict, rate: str) -> dict:
    event = copy.deepcopy(amendment)
    event["id"] = "clm-v4"
    event["data"]["version"] = 4
    event["data"]["rate_card"] = [{"role": "consultant", "rate": rate}]
    return event


def test_a_later_amendment_supersedes_an_open_retroactive_change_of_the_same_lines() -> None:
    hub, amendment = scenario_02_hub()
    assert hub.ledger.load("SOW-200").book.exceptions[V3].amount == Decimal("960.00")
    hub.deliver(fourth_version(amendment, "140.00"))
    exceptions = hub.ledger.load("SOW-200").book.exceptions
    assert exceptions[V3].state is ExceptionState.WITHDRAWN
    assert exceptions[V4].amount == Decimal("1440.00"), "48 h at 140 minus the 5280.00 invoiced"


def test_after_an_approved_change_the_next_one_bills_only_its_own_difference() -> None:
    hub, amendment = scenario_02_hub()
    book = hub.ledger.load("SOW-200")
    hub.ledger.save(book, approve_exception(book.book, V3, reason="agreed", context=RuleContext(correlation_id="c")))
    hub.deliver(fourth_version(amendment, "140.00"))
    exceptions = hub.ledger.load("SOW-200").book.exceptions
    assert exceptions[V3].state is ExceptionState.APPROVED
    assert exceptions[V4].amount == Decimal("480.00"), "48 h from 130 to 140; the 960.00 is already adjusted"
