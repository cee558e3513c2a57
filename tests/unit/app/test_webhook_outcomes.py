"""The webhook use case answers with outcomes, never with HTTP; the API entrypoint maps them.

The use-case tests of `test_ingest_webhook.py` read the answer through the same
mapping the Lambda uses (`http_answer`); these pin the outcomes themselves and
the mapping's table, so neither side can choose a status the other does not know.
"""

from __future__ import annotations

import json

from billbridge.app.ingest_webhook import (
    DeliveryDeferred,
    DeliveryJudged,
    DeliveryRefused,
    EventOutcome,
    Outcome,
    Refusal,
    WebhookRequest,
)
from billbridge.app.webhook_signature import sign
from billbridge.entrypoints.api.webhook_http import (
    DEFERRED_STATUS,
    STATUS_OF_REFUSAL,
    STATUS_OF_VERDICT,
    http_answer,
)

from tests.fakes.edge import PSA_SECRET
from tests.unit.app.test_ingest_webhook import CLOUDEVENTS, Hub, approved_entry, hub, rejected_entry  # noqa: F401


def handle(hub: Hub, payload: object, *, signed: bool = True, source: str = "psa") -> object:  # noqa: F811
    body = json.dumps(payload).encode()
    headers = {"Content-Type": CLOUDEVENTS}
    if signed:
        headers |= sign(PSA_SECRET, "msg_outcome", hub.clock.now(), body)
    return hub.use_case.handle(WebhookRequest(source=source, headers=headers, body=body))


def test_an_accepted_event_is_a_judgement_with_its_correlation_id(hub: Hub) -> None:  # noqa: F811
    result = handle(hub, approved_entry())
    assert isinstance(result, DeliveryJudged)
    assert (result.verdict, result.is_batch) == (Outcome.ACCEPTED, False)
    assert result.correlation_ids == ("corr-0001",)


def test_an_unsigned_delivery_is_refused_as_unauthentic(hub: Hub) -> None:  # noqa: F811
    result = handle(hub, approved_entry(), signed=False)
    assert isinstance(result, DeliveryRefused)
    assert result.refusal is Refusal.UNAUTHENTIC
    assert result.message.startswith("signature rejected")


def test_an_unknown_source_is_refused_naming_the_source(hub: Hub) -> None:  # noqa: F811
    result = handle(hub, approved_entry(), source="nowhere")
    assert isinstance(result, DeliveryRefused)
    assert (result.refusal, result.field) == (Refusal.UNKNOWN_ROUTE, "source")


def test_a_refused_event_is_judged_rejected_naming_the_field(hub: Hub) -> None:  # noqa: F811
    result = handle(hub, rejected_entry(revision=0))
    assert isinstance(result, DeliveryJudged)
    (only,) = result.outcomes
    assert (only.outcome, only.field) == (Outcome.REJECTED, "data.revision")
    assert result.verdict is Outcome.REJECTED


def test_a_failing_bus_defers_the_delivery_with_its_retry_delay(hub: Hub) -> None:  # noqa: F811
    hub.publisher.unavailable = True
    result = handle(hub, rejected_entry())
    assert result == DeliveryDeferred(reason="event bus unavailable", retry_after_seconds=30)


def test_every_refusal_and_every_verdict_has_its_status() -> None:
    assert set(STATUS_OF_REFUSAL) == set(Refusal)
    assert set(STATUS_OF_VERDICT) == set(Outcome)
    assert all(400 <= status < 500 for status in STATUS_OF_REFUSAL.values()), "bad input is never a 5xx"
    assert DEFERRED_STATUS == 503


def test_the_verdict_of_a_batch_is_its_most_telling_outcome() -> None:
    def judged(*kinds: Outcome) -> DeliveryJudged:
        return DeliveryJudged(tuple(EventOutcome(i, f"e{i}", kind) for i, kind in enumerate(kinds)), is_batch=True)

    assert judged(Outcome.REJECTED, Outcome.ACCEPTED).verdict is Outcome.ACCEPTED
    assert judged(Outcome.DUPLICATE, Outcome.DUPLICATE).verdict is Outcome.DUPLICATE
    assert judged(Outcome.DUPLICATE, Outcome.CONFLICT, Outcome.REJECTED).verdict is Outcome.REJECTED
    assert judged(Outcome.DUPLICATE, Outcome.CONFLICT).verdict is Outcome.CONFLICT
    assert http_answer(judged(Outcome.DUPLICATE, Outcome.CONFLICT)).status == 409
