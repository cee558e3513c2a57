"""Signed but hostile numbers at the webhook edge: refused with a 400 naming the
field, so nothing is accepted that a consumer, EventBridge or DynamoDB cannot
process; error bodies stay small whatever the batch."""

from __future__ import annotations

import json
from typing import Any

import pytest
from billbridge.entrypoints.api.webhook_http import MAX_LISTED_PROBLEMS, WebhookResponse

from tests.fakes.edge import CLM_SECRET, FixedClock, InMemoryEventPublisher
from tests.unit.app.test_ingest_webhook import BATCH, Hub, approved_entry

LAMBDA_RESPONSE_LIMIT_BYTES = 6 * 1024 * 1024


@pytest.fixture
def hub(clock: FixedClock, webhook_secrets, raw_payloads, deliveries, publisher, ids) -> Hub:  # type: ignore[no-untyped-def]
    return Hub(clock, webhook_secrets, raw_payloads, deliveries, publisher, ids)


def contract(**data: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": "clm-1",
        "source": "clm",
        "type": "contract.approved",
        "time": "2026-01-01T09:00:00Z",
        "data": {
            "contract_id": "SOW-1",
            "version": 1,
            "effective_date": "2026-01-01",
            "customer_id": "CUST-1",
            "legal_entity": "US01",
            "currency": "USD",
            "tax_jurisdiction": "US-NY",
            "start_date": "2026-01-01",
            "end_date": "2026-12-31",
            "rate_card": [{"role": "consultant", "rate": "150.00"}],
        }
        | data,
    }


def expense(amount: Any, **data: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": "psa-ex-1",
        "source": "psa",
        "type": "expense.approved",
        "time": "2026-03-16T09:30:00Z",
        "data": {
            "expense_id": "EX-1",
            "contract_id": "SOW-1",
            "date": "2026-03-16",
            "category": "travel",
            "amount": amount,
            "currency": "USD",
            "billable": True,
        }
        | data,
    }


def refused(response: WebhookResponse, publisher: InMemoryEventPublisher, field: str) -> str:
    assert response.status == 400, response.body
    assert response.body["field"] == field, response.body
    assert publisher.published == []
    return str(response.body["error"])


@pytest.mark.parametrize(
    ("rate", "reason"),
    [
        ("9" * 30, "digits before the point"),
        ("150." + "1" * 30, "decimal places"),
        ("1E+2", "no exponent"),
        ("-0", "negative zero"),
        ("-0.00", "negative zero"),
        ("-150.00", "negative"),
        ("+150.00", "ASCII digits"),
        ("\u0661\u0665\u0660", "ASCII digits"),  # Arabic-Indic 150,
        ("150.00\u00a0", "ASCII digits"),
        (" 150.00", "ASCII digits"),
        (".5", "ASCII digits"),
        ("NaN", "ASCII digits"),
        ("Infinity", "ASCII digits"),
    ],
)
def test_a_rate_outside_the_canonical_decimal_grammar_is_400_naming_it(
    hub: Hub, publisher: InMemoryEventPublisher, rate: str, reason: str
) -> None:
    event = contract(rate_card=[{"role": "consultant", "rate": rate}])
    response = hub.post(event, source="clm", secret=CLM_SECRET)
    assert reason in refused(response, publisher, "data.rate_card[0].rate")


def test_a_forty_digit_expense_is_400(hub: Hub, publisher: InMemoryEventPublisher) -> None:
    response = hub.post(expense("1" * 40 + ".00"))
    assert "has 40 digits before the point; at most 12 are accepted" in refused(response, publisher, "data.amount")


@pytest.mark.parametrize("amount", ["-5000.00", "0", "0.00"])
def test_an_expense_is_more_than_zero_there_are_no_credits(
    hub: Hub, publisher: InMemoryEventPublisher, amount: str
) -> None:
    response = hub.post(expense(amount))
    assert "greater than zero" in refused(response, publisher, "data.amount")


@pytest.mark.parametrize("hours", ["\u0668", "\uff18", "8e0", "-0", "24.00001"])
def test_hours_in_other_digits_or_forms_are_400(hub: Hub, publisher: InMemoryEventPublisher, hours: str) -> None:
    refused(hub.post(approved_entry(hours=hours)), publisher, "data.hours")


@pytest.mark.parametrize("version", [10**40, 2**63, 2**53])
def test_a_version_beyond_the_json_safe_integers_is_400(
    hub: Hub, publisher: InMemoryEventPublisher, version: int
) -> None:
    response = hub.post(contract(version=version), source="clm", secret=CLM_SECRET)
    refused(response, publisher, "data.version")


def test_the_largest_json_safe_version_is_accepted(hub: Hub, publisher: InMemoryEventPublisher) -> None:
    response = hub.post(contract(version=2**53 - 1), source="clm", secret=CLM_SECRET)
    assert response.status == 202, response.body
    assert len(publisher.published) == 1


def test_the_bounds_themselves_are_accepted(hub: Hub, publisher: InMemoryEventPublisher) -> None:
    assert hub.post(expense("999999999999.9999")).status == 202
    event = contract(rate_card=[{"role": "consultant", "rate": "999999999.9999"}])
    assert hub.post(event, source="clm", secret=CLM_SECRET).status == 202
    assert hub.post(approved_entry(hours="23.9999")).status == 202
    assert len(publisher.published) == 3


def signed_raw(hub: Hub, text: str) -> WebhookResponse:
    return hub.post(text.encode())


@pytest.mark.parametrize(
    ("number", "where", "field"),
    [
        ("1e400", "data", "data.vendor_score"),
        ("-1e400", "data", "data.vendor_score"),
        ("1e-400", "data", "data.vendor_score"),
        ("1e-200", "data", "data.vendor_score"),
        ("1e200", "data", "data.vendor_score"),
        (str(2**63), "data", "data.vendor_score"),
        (str(-(2**63) - 1), "data", "data.vendor_score"),
        ("0." + "1" * 39, "data", "data.vendor_score"),
        ("1e400", "extension", "vendorscore"),
        (str(10**40), "extension", "vendorscore"),
        ("1e400", "nested", "data.vendor.scores[1]"),
    ],
)
def test_json_numbers_eventbridge_or_dynamodb_would_refuse_are_400_naming_the_field(
    hub: Hub, publisher: InMemoryEventPublisher, number: str, where: str, field: str
) -> None:
    event = expense("10.00")
    text = json.dumps(event)
    if where == "data":
        text = text.replace('"billable": true', f'"billable": true, "vendor_score": {number}')
    elif where == "extension":
        text = text.replace('"specversion": "1.0"', f'"specversion": "1.0", "vendorscore": {number}')
    else:
        text = text.replace('"billable": true', f'"billable": true, "vendor": {{"scores": [1, {number}]}}')
    error = refused(signed_raw(hub, text), publisher, field)
    assert "cannot be carried" in error


def test_json_numbers_inside_the_carriable_range_are_kept(hub: Hub, publisher: InMemoryEventPublisher) -> None:
    numbers = f"[{2**63 - 1}, {-(2**63)}, 1.5e125, 2.5e-130, 0.0]"
    text = (
        json.dumps(expense("10.00"))
        .replace('"specversion": "1.0"', f'"specversion": "1.0", "vendornumbers": {numbers}')
        .replace('"billable": true', f'"billable": true, "vendor": {{"n": {numbers}}}')
    )
    response = signed_raw(hub, text)
    assert response.status == 202, response.body
    published = publisher.published[0].detail["event"]
    assert published["vendornumbers"][:2] == [2**63 - 1, -(2**63)]
    # A data field the contract does not declare stays in the raw body; the bus carries the model's dump.
    assert "vendor" not in published["data"]
    raw_body = hub.raw_payloads.objects[publisher.published[0].detail["delivery"]["raw_key"]]
    assert json.loads(raw_body)["data"]["vendor"]["n"][0] == 2**63 - 1


def test_an_error_body_lists_the_first_problems_and_counts_the_rest(hub: Hub) -> None:
    body = b"[" + b",".join([b"{}"] * 50_000) + b"]"
    response = hub.post(body, content_type=BATCH)
    text = json.dumps(response.body)
    assert response.status == 400
    assert len(response.body["outcomes"]) == MAX_LISTED_PROBLEMS
    assert response.body["problems"] == {"total": 50_000, "listed": MAX_LISTED_PROBLEMS}
    assert len(text.encode()) < 64 * 1024 < LAMBDA_RESPONSE_LIMIT_BYTES


def test_accepted_events_of_a_batch_are_always_listed_beside_the_first_problems(
    hub: Hub, publisher: InMemoryEventPublisher
) -> None:
    batch: list[Any] = [{}] * (MAX_LISTED_PROBLEMS + 5)
    batch.append(approved_entry(event_id="psa-good"))
    response = hub.post(batch, content_type=BATCH)
    assert response.status == 202
    listed = response.body["outcomes"]
    assert [o["id"] for o in listed if o["outcome"] == "accepted"] == ["psa-good"]
    assert sum(1 for o in listed if o["outcome"] == "rejected") == MAX_LISTED_PROBLEMS
    assert response.body["problems"] == {"total": MAX_LISTED_PROBLEMS + 5, "listed": MAX_LISTED_PROBLEMS}
