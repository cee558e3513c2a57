"""The webhook use cases' outcomes as HTTP answers (docs/spec/events.md, "Delivery").

The use cases say what became of a delivery (`DeliveryRefused`, `DeliveryDeferred`,
`DeliveryJudged`, `VendorDeliveryJudged`); this module alone chooses the status,
the body and the headers: `202` when any event was accepted, `200` when every
event was a duplicate, `400` when events were refused (naming the field), `409`
for a conflicting re-delivery, `401`/`404`/`413`/`415` for a delivery refused as
a whole, and `503` with `Retry-After` only when the hub's own dependencies failed.
A vendor's own webhook gets the success answer its documentation asks for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from billbridge.app.ingest_webhook import (
    DeliveryDeferred,
    DeliveryJudged,
    DeliveryRefused,
    EventOutcome,
    Outcome,
    Refusal,
)

if TYPE_CHECKING:
    from billbridge.app.ingest_vendor_webhook import VendorDeliveryJudged

MAX_LISTED_PROBLEMS = 100
"""A refused element beyond the first 100 is counted, not listed: the answer stays small (Lambda: 6 MB)."""
MAX_ERROR_CHARACTERS = 512

STATUS_OF_REFUSAL: Mapping[Refusal, int] = {
    Refusal.UNKNOWN_ROUTE: 404,
    Refusal.TOO_LARGE: 413,
    Refusal.UNSUPPORTED_CONTENT_TYPE: 415,
    Refusal.UNAUTHENTIC: 401,
    Refusal.MALFORMED: 400,
}
STATUS_OF_VERDICT: Mapping[Outcome, int] = {
    Outcome.ACCEPTED: 202,
    Outcome.DUPLICATE: 200,
    Outcome.REJECTED: 400,
    Outcome.CONFLICT: 409,
}
DEFERRED_STATUS = 503


@dataclass(frozen=True, slots=True)
class WebhookResponse:
    """The HTTP answer to a delivery, with the per-event outcomes it was made from (for logs and metrics)."""

    status: int
    body: dict[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)
    outcomes: tuple[EventOutcome, ...] = ()

    @property
    def correlation_ids(self) -> tuple[str, ...]:
        return tuple(o.correlation_id for o in self.outcomes if o.correlation_id)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for o in self.outcomes if o.outcome is outcome)


def outcome_json(outcome: EventOutcome) -> dict[str, Any]:
    """One event's outcome as the answer lists it."""
    body: dict[str, Any] = {"index": outcome.index, "id": outcome.event_id, "outcome": outcome.outcome.value}
    if outcome.correlation_id is not None:
        body["correlationid"] = outcome.correlation_id
    if outcome.error is not None:
        body["error"] = outcome.error[:MAX_ERROR_CHARACTERS]
    if outcome.field is not None:
        body["field"] = outcome.field[:MAX_ERROR_CHARACTERS]
    return body


def http_answer(result: DeliveryRefused | DeliveryDeferred | DeliveryJudged) -> WebhookResponse:
    """The answer to `POST /webhooks/{source}`."""
    if isinstance(result, DeliveryRefused):
        return _refused(result)
    if isinstance(result, DeliveryDeferred):
        return _deferred(result)
    return _judged(result)


def vendor_http_answer(result: DeliveryRefused | DeliveryDeferred | VendorDeliveryJudged) -> WebhookResponse:
    """The answer to `POST /webhooks/{source}/{vendor}`: the canonical answer's status and outcomes,
    what was skipped, and on success the status (and empty body) the vendor expects."""
    if isinstance(result, DeliveryRefused):
        return _refused(result)
    if isinstance(result, DeliveryDeferred):
        return _deferred(result)
    judged = result.judged
    status = STATUS_OF_VERDICT[judged.verdict] if judged is not None else 200
    outcomes = judged.outcomes if judged is not None else ()
    body: dict[str, Any] = {
        "outcomes": _listed_outcomes(outcomes),
        "skipped": [s.as_json() for s in result.skipped],
    }
    if result.handshake:
        body["handshake"] = True
    if status >= 400:
        body["error"] = "no event of the delivery was accepted; see outcomes"
        return WebhookResponse(status=status, body=body, outcomes=outcomes)
    return WebhookResponse(
        status=result.success_status, body={} if result.empty_success_body else body, outcomes=outcomes
    )


def _refused(result: DeliveryRefused) -> WebhookResponse:
    body: dict[str, Any] = {"error": result.message}
    if result.field is not None:
        body["field"] = result.field
    return WebhookResponse(status=STATUS_OF_REFUSAL[result.refusal], body=body)


def _deferred(result: DeliveryDeferred) -> WebhookResponse:
    return WebhookResponse(
        status=DEFERRED_STATUS,
        body={"error": result.message},
        headers={"Retry-After": str(result.retry_after_seconds)},
    )


def _judged(result: DeliveryJudged) -> WebhookResponse:
    outcomes = result.outcomes
    status = STATUS_OF_VERDICT[result.verdict]
    body: dict[str, Any] = {"outcomes": _listed_outcomes(outcomes)}
    problems = result.count(Outcome.REJECTED)
    if problems > MAX_LISTED_PROBLEMS:
        body["problems"] = {"total": problems, "listed": MAX_LISTED_PROBLEMS}
    if not result.is_batch:
        only = outcomes[0]
        if only.correlation_id is not None:
            body["correlationid"] = only.correlation_id
        if only.error is not None:
            body["error"] = only.error
            if only.field is not None:
                body["field"] = only.field
    elif status >= 400:
        body["error"] = "no event of the batch was accepted; see outcomes"
    return WebhookResponse(status=status, body=body, outcomes=outcomes)


def _listed_outcomes(outcomes: Sequence[EventOutcome]) -> list[dict[str, Any]]:
    """Every accepted, duplicate or conflicting outcome (the vendor must know which events got in),
    and the first MAX_LISTED_PROBLEMS refused ones."""
    listed: list[dict[str, Any]] = []
    refused = 0
    for outcome in outcomes:
        if outcome.outcome is Outcome.REJECTED:
            refused += 1
            if refused > MAX_LISTED_PROBLEMS:
                continue
        listed.append(outcome_json(outcome))
    return listed
