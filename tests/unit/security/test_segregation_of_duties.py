"""Four eyes on exception decisions above an amount: raiser vs decider, requests and refusals audited."""

from __future__ import annotations

from decimal import Decimal

import pytest
from billbridge.app.segregation_of_duties import (
    REFUSAL_ACTION,
    REQUEST_ACTION,
    SegregationOfDutiesError,
    SegregationPolicy,
    check_segregation,
    decision_request,
    raiser_of,
    refused_decision,
    requester_from_audit,
    segregation_policy_from,
)
from billbridge.domain.book_draft import RuleContext
from billbridge.domain.model import BillingException, ContractBook, ExceptionType

POLICY = SegregationPolicy(threshold=Decimal("1000.00"))


def exception(amount: str, raised_by: str = "billbridge", currency: str = "USD") -> BillingException:
    return BillingException(
        exception_id="EXC-1",
        type=ExceptionType.RETROACTIVE_CHANGE,
        contract_id="SOW-1001",
        refs=("TE-1",),
        amount=Decimal(amount),
        correlation_id="corr-1",
        raised_by=raised_by,
        contract_version=2,
        currency=currency,
    )


def test_below_the_threshold_one_person_may_raise_and_decide() -> None:
    check_segregation(exception("999.99", raised_by="alice"), "alice", POLICY)


def test_at_the_threshold_the_raiser_cannot_decide() -> None:
    with pytest.raises(SegregationOfDutiesError, match="another person"):
        check_segregation(exception("1000.00", raised_by="alice"), "Alice", POLICY)
    check_segregation(exception("1000.00", raised_by="alice"), "bob", POLICY)


def test_negative_adjustments_count_by_their_size() -> None:
    with pytest.raises(SegregationOfDutiesError):
        check_segregation(exception("-5000.00", raised_by="alice"), "alice", POLICY)


def test_for_a_system_raised_exception_the_requester_is_the_raiser() -> None:
    system_raised = exception("5000.00")
    assert raiser_of(system_raised, POLICY) is None
    assert raiser_of(system_raised, POLICY, requested_by="alice") == "alice"
    with pytest.raises(SegregationOfDutiesError):
        check_segregation(system_raised, "alice", POLICY, requested_by="alice")
    check_segregation(system_raised, "bob", POLICY, requested_by="alice")


def test_a_system_raised_exception_nobody_requested_needs_one_named_approver() -> None:
    check_segregation(exception("5000.00"), "bob", POLICY)
    for anonymous in ("", "operator", "billbridge"):
        with pytest.raises(SegregationOfDutiesError, match="named actor"):
            check_segregation(exception("5000.00"), anonymous, POLICY)


def test_an_assumed_role_session_is_the_same_identity_as_its_session_name() -> None:
    arn = "arn:aws:sts::111111111111:assumed-role/ApproverRole/alice"
    with pytest.raises(SegregationOfDutiesError):
        check_segregation(exception("5000.00", raised_by="alice"), arn, POLICY)


def test_the_threshold_is_configurable() -> None:
    strict = SegregationPolicy(threshold=Decimal("0"))
    with pytest.raises(SegregationOfDutiesError):
        check_segregation(exception("0.01", raised_by="alice"), "alice", strict)
    with pytest.raises(ValueError):
        SegregationPolicy(threshold=Decimal("-1"))


def test_a_request_and_a_refusal_land_in_the_audit_trail_and_the_request_names_the_raiser() -> None:
    book = ContractBook(contract_id="SOW-1001", exceptions={"EXC-1": exception("5000.00")})
    context = RuleContext(correlation_id="corr-9", actor="alice", decided_at="2026-03-16T12:00:00+00:00")

    request = decision_request(book, "EXC-1", requester="alice", reason="rate was wrong", context=context)
    assert request.changed and request.book is book
    (record,) = request.audit
    assert (record.action, record.ref, record.correlation_id) == (REQUEST_ACTION, "EXC-1", "corr-1")
    trail = [{"action": r.action, "ref": r.ref, "source_ref": r.source_ref} for r in request.audit]
    assert requester_from_audit(trail, "EXC-1") == "alice"
    assert requester_from_audit(trail, "EXC-2") is None

    error = SegregationOfDutiesError("EXC-1: alice raised or requested this decision")
    refusal = refused_decision(book, "EXC-1", actor="alice", error=error, context=context)
    (refused,) = refusal.audit
    assert refused.action == REFUSAL_ACTION and refused.rule == "segregation_of_duties"
    assert "by alice" in refused.detail


def test_the_threshold_is_read_in_the_amounts_own_currency() -> None:
    policy = segregation_policy_from("1000.00", "JPY=150000, bhd=400")
    assert policy.threshold_for("JPY") == Decimal("150000") and policy.threshold_for("BHD") == Decimal("400")
    check_segregation(exception("5000", raised_by="alice", currency="JPY"), "alice", policy)
    with pytest.raises(SegregationOfDutiesError, match="150000 JPY another person"):
        check_segregation(exception("150000", raised_by="alice", currency="JPY"), "alice", policy)
    with pytest.raises(SegregationOfDutiesError):
        check_segregation(exception("400.000", raised_by="alice", currency="BHD"), "alice", policy)
    with pytest.raises(SegregationOfDutiesError, match=r"1000\.00 EUR"):
        check_segregation(exception("1000.00", raised_by="alice", currency="EUR"), "alice", policy)


@pytest.mark.parametrize(("default", "per_currency"), [("lots", None), (None, "JPY=many"), ("Infinity", None)])
def test_malformed_threshold_settings_are_refused_by_name(default: str | None, per_currency: str | None) -> None:
    with pytest.raises(ValueError, match="segregation thresholds"):
        segregation_policy_from(default, per_currency)
