"""Signed fuzzing of values: hypothesis builds events that pass validation, then
attacks one number of each (huge and tiny, long fractions, exponents, digits of
other scripts, negative zero, the bounds and one step past them, JSON numbers in
vendor fields and extension attributes). Each answer is compared with an
oracle written from docs/spec/events.md ("Numbers"), independently of the
reader: accepted exactly when the value is inside its field's bounds, refused
with a 400 naming that field otherwise, never a 5xx. The accepted bodies are
then delivered through the local stack: each ends in the ledger, none in a
dead-letter queue."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import pytest
from billbridge.app.ingest_webhook import IngestWebhook, WebhookRequest
from billbridge.app.webhook_signature import sign
from billbridge.entrypoints.api.webhook_http import http_answer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes.edge import (
    PSA_SECRET,
    FixedClock,
    InMemoryDeliveryRegistry,
    InMemoryEventPublisher,
    InMemoryRawPayloadStore,
    InMemoryWebhookSecrets,
    SequentialIds,
)
from tests.reliability.figures import record
from tests.reliability.generated_book import CONFIG, cloud_event
from tests.reliability.local_hub import local_hub

CONTRACT_ID = "SOW-FUZZ"


@dataclass(frozen=True)
class FieldRule:
    """A numeric field as docs/spec/events.md bounds it (the oracle's own reading of the table)."""

    path: str
    integer_digits: int
    decimal_places: int
    positive: bool
    at_most: Decimal | None = None

    def accepts(self, text: str) -> bool:
        match = re.fullmatch(r"([0-9]+)(?:\.([0-9]+))?", text, flags=re.ASCII)
        if match is None:
            return False  # a sign ("-": no field may be negative), exponent, space, other digits
        integer, fraction = match.group(1), match.group(2) or ""
        if len(integer.lstrip("0") or "0") > self.integer_digits or len(fraction) > self.decimal_places:
            return False
        value = Decimal(text)
        if self.positive and value == 0:
            return False
        return self.at_most is None or value <= self.at_most


EXPENSE_AMOUNT = FieldRule("data.amount", 12, 4, positive=True)
HOURS = FieldRule("data.hours", 2, 4, positive=True, at_most=Decimal(24))


def carriable_json_number(text: str) -> bool:
    """What EventBridge (int64, finite) and DynamoDB (38 digits, 1e-130..1e126) carry."""
    exact = Decimal(text)
    if re.fullmatch(r"-?[0-9]+", text):
        return -(2**63) <= int(text) <= 2**63 - 1
    if exact == 0:
        return True
    digits = "".join(map(str, exact.as_tuple().digits)).strip("0")
    return len(digits) <= 38 and Decimal("1e-130") <= abs(exact) < Decimal("1e126")


DIGITS = "0123456789"
JSON_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?", re.ASCII)
ascii_digits = st.text(alphabet=DIGITS, min_size=1, max_size=45)
exotic_digits = st.text(st.characters(categories=["Nd"]), min_size=1, max_size=6)
decimal_attacks = st.one_of(
    st.builds(lambda i, f: f"{i}.{f}", ascii_digits, ascii_digits),  # huge, long, tiny
    ascii_digits,
    st.builds(
        lambda i, f: f"{i}.{f}",
        st.text("0123456789", min_size=1, max_size=14),
        st.text("0123456789", min_size=1, max_size=6),
    ),
    exotic_digits,
    st.builds(lambda d: f"1{d}5", exotic_digits),
    st.sampled_from(
        [
            "0",
            "0.0000",
            "-0",
            "-0.00",
            "-5000.00",
            "0.0001",
            "0.00001",
            "1e3",
            "1E-2",
            "NaN",
            "Infinity",
            "+1",
            " 1",
            "1 ",
            ".5",
            "5.",
            "24",
            "24.0001",
            "23.9999",
            "99.9999",
            "999999999999.9999",
            "1000000000000",
            "9" * 30,
        ]
    ),
)
json_number_attacks = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["1e400", "-1e400", "1e-400", "1e-131", "1e-130", "1e125", "9.99e125", "1e126", "0.0", "-0.0"]),
    st.builds(lambda d: f"0.{d}", st.text("123456789", min_size=30, max_size=45)),
)

STATS: Counter[str] = Counter()
ACCEPTED_BODIES: list[bytes] = []
LOCAL_STACK_SAMPLE_PER_TYPE = 20


@pytest.fixture(scope="module")
def edge() -> Iterator[dict[str, Any]]:
    clock = FixedClock()
    use_case = IngestWebhook(
        secrets=InMemoryWebhookSecrets({"psa": [PSA_SECRET]}),
        raw_payloads=InMemoryRawPayloadStore(),
        deliveries=InMemoryDeliveryRegistry(),
        publisher=InMemoryEventPublisher(),
        clock=clock,
        ids=SequentialIds(),
    )
    yield {"use_case": use_case, "clock": clock, "count": Counter()}


def expense(event_id: str, amount: str) -> dict[str, Any]:
    data = {
        "expense_id": f"EX-{event_id}",
        "contract_id": CONTRACT_ID,
        "date": "2026-03-10",
        "category": "travel",
        "amount": amount,
        "currency": "USD",
        "billable": True,
    }
    return cloud_event("psa", event_id, "expense.approved", data, data["expense_id"])


def time_entry(event_id: str, hours: str) -> dict[str, Any]:
    data = {
        "entry_id": f"TE-{event_id}",
        "revision": 1,
        "contract_id": CONTRACT_ID,
        "resource_id": "EMP-1",
        "role": "consultant",
        "billable": True,
        "work_date": "2026-03-10",
        "hours": hours,
    }
    return cloud_event("psa", event_id, "time_entry.approved", data, data["entry_id"])


def post(edge: dict[str, Any], text: str) -> tuple[int, dict[str, Any]]:
    edge["count"]["n"] += 1
    body = text.encode()
    headers = sign(PSA_SECRET, f"msg_values_{edge['count']['n']}", edge["clock"].now(), body)
    headers["content-type"] = "application/cloudevents+json"
    response = http_answer(edge["use_case"].handle(WebhookRequest(source="psa", headers=headers, body=body)))
    return response.status, response.body


def judge(status: int, body: dict[str, Any], *, expected_accepted: bool, field: str, text: str) -> None:
    STATS["requests"] += 1
    STATS[f"status:{status}"] += 1
    assert status < 500, (status, body)
    if expected_accepted:
        STATS["accepted"] += 1
        assert status == 202, (text, body)
        kind = json.loads(text)["type"]
        if STATS[f"sampled:{kind}"] < LOCAL_STACK_SAMPLE_PER_TYPE:  # expenses and time entries alike
            STATS[f"sampled:{kind}"] += 1
            ACCEPTED_BODIES.append(text.encode())
    else:
        STATS["refused"] += 1
        assert status == 400, (text, body)
        assert body.get("field") == field, (text, body)
        STATS["refused_naming_the_field"] += 1


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(amount=decimal_attacks, as_json_string=st.booleans())
def test_attacked_expense_amounts(edge: dict[str, Any], amount: str, as_json_string: bool) -> None:
    event_id = f"psa-ex-{edge['count']['n']}"
    text = json.dumps(expense(event_id, amount), ensure_ascii=False)
    if not as_json_string and JSON_NUMBER.fullmatch(amount):
        # the same value as a JSON number: never money
        text = text.replace(f'"amount": {json.dumps(amount)}', f'"amount": {amount}')
        STATS["json_number_money"] += 1
        status, body = post(edge, text)
        expected = False
    else:
        status, body = post(edge, text)
        expected = EXPENSE_AMOUNT.accepts(amount)
    STATS["expense_attacks"] += 1
    judge(status, body, expected_accepted=expected, field="data.amount", text=text)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(hours=decimal_attacks)
def test_attacked_hours(edge: dict[str, Any], hours: str) -> None:
    event_id = f"psa-te-{edge['count']['n']}"
    text = json.dumps(time_entry(event_id, hours), ensure_ascii=False)
    status, body = post(edge, text)
    STATS["hours_attacks"] += 1
    judge(status, body, expected_accepted=HOURS.accepts(hours), field="data.hours", text=text)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(number=json_number_attacks, where=st.sampled_from(["data", "extension"]), revision=st.booleans())
def test_attacked_json_numbers_in_vendor_fields_extensions_and_revisions(
    edge: dict[str, Any], number: str, where: str, revision: bool
) -> None:
    event_id = f"psa-num-{edge['count']['n']}"
    text = json.dumps(time_entry(event_id, "7.5"))
    if revision:
        text = text.replace('"revision": 1', f'"revision": {number}')
        field = "data.revision"
        is_integer = re.fullmatch(r"-?[0-9]+", number) is not None
        expected = is_integer and 1 <= int(number) <= 2**53 - 1
        STATS["revision_attacks"] += 1
    elif where == "data":
        text = text.replace('"billable": true', f'"billable": true, "psa_score": {number}')
        field, expected = "data.psa_score", carriable_json_number(number)
        STATS["vendor_field_attacks"] += 1
    else:
        text = text.replace('"specversion": "1.0"', f'"specversion": "1.0", "psascore": {number}')
        field, expected = "psascore", carriable_json_number(number)
        STATS["extension_attacks"] += 1
    status, body = post(edge, text)
    judge(status, body, expected_accepted=expected, field=field, text=text)


def test_accepted_attacked_values_are_processed_through_the_local_stack() -> None:
    """Runs after the generators above: what the edge accepted, the consumers can process."""
    assert STATS["sampled:expense.approved"] >= 5 and STATS["sampled:time_entry.approved"] >= 5, (
        "the generators produced bodies of both kinds that pass validation"
    )
    contract = cloud_event(
        "clm",
        "clm-fuzz-v1",
        "contract.approved",
        {
            "contract_id": CONTRACT_ID,
            "version": 1,
            "effective_date": "2026-01-01",
            "customer_id": "CUST-FUZZ",
            "legal_entity": "US01",
            "currency": "USD",
            "tax_jurisdiction": "US-NY",
            "start_date": "2026-01-01",
            "end_date": "2026-12-31",
            "rate_card": [{"role": "consultant", "rate": "999999999.9999"}],
            "expense_policy": {"billable_categories": ["travel"], "markup_pct": "999.999999"},
        },
        CONTRACT_ID,
    )
    with local_hub(CONFIG, prefix="values") as hub:
        assert hub.post(contract)[0] == 202
        statuses = Counter(
            hub.post_raw("psa", hub.signed("psa", body, batch=False), body)[0] for body in ACCEPTED_BODIES
        )
        hub.drain()
        result = hub.bill("2026-03", "values-2026-03")
        dead_letters = sum(len(messages) for messages in hub.dead_letters().values())
        (book,) = hub.books()
    assert statuses == Counter({202: len(ACCEPTED_BODIES)})
    held = {ref for exception in book.exceptions.values() for ref in exception.refs}
    events = [json.loads(body) for body in ACCEPTED_BODIES]
    missing = [
        e["id"]
        for e in events
        if (e["data"].get("entry_id") or e["data"].get("expense_id")) not in {*book.entries, *book.expenses, *held}
    ]
    assert result["status"] == "SUCCEEDED", result
    assert dead_letters == 0
    assert missing == []
    STATS["local_stack_delivered"] = len(ACCEPTED_BODIES)
    STATS["local_stack_dead_letters"] = dead_letters
    STATS["local_stack_invoices"] = len(book.invoices)


def test_hostile_values_figures() -> None:
    """Runs last in this module: what the generators produced, and how it was answered."""
    assert STATS["requests"] > 0
    five_xx = sum(n for k, n in STATS.items() if k.startswith("status:5"))
    assert five_xx == 0
    assert STATS["refused"] == STATS["refused_naming_the_field"]
    record(
        "hostile_values",
        signed_requests=STATS["requests"],
        expense_amount_attacks=STATS["expense_attacks"],
        hours_attacks=STATS["hours_attacks"],
        json_number_attacks=STATS["vendor_field_attacks"] + STATS["extension_attacks"],
        revision_attacks=STATS["revision_attacks"],
        accepted_within_bounds=STATS["accepted"],
        refused_400_naming_the_field=STATS["refused_naming_the_field"],
        responses_5xx=five_xx,
        accepted_then_delivered_through_local_stack=STATS["local_stack_delivered"],
        local_stack_dead_letters=STATS["local_stack_dead_letters"],
    )


def test_the_oracle_is_live() -> None:
    """The oracle itself refuses what the spec refuses (a check that cannot fail is a defect)."""
    assert not EXPENSE_AMOUNT.accepts("-0") and not EXPENSE_AMOUNT.accepts("1" * 13)
    assert not HOURS.accepts("24.0001") and HOURS.accepts("24")
    assert not carriable_json_number("1e400") and carriable_json_number(str(2**63 - 1))
    arabic_indic_150 = "\u0661\u0665\u0660"
    assert Decimal(arabic_indic_150) == 150, "Python's Decimal reads other scripts' digits; the spec does not"
    assert not EXPENSE_AMOUNT.accepts(arabic_indic_150)
    with pytest.raises(InvalidOperation):  # why the digits are bounded: thirty 9s cannot be rounded
        Decimal("9" * 30).quantize(Decimal("0.01"))
