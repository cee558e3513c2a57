"""The webhook's real answers validate against the models the OpenAPI document is generated from."""

from __future__ import annotations

import json
from typing import Any

import pytest
from billbridge.entrypoints.api.webhook_answers import WebhookError, WebhookOutcomes
from pydantic import ValidationError

from tests.unit.app.test_ingest_webhook import BATCH, Hub, approved_entry, hub, rejected_entry  # noqa: F401

OUTCOME_STATUSES = {200, 202}


def _check(status: int, body: dict[str, Any]) -> None:
    if status in OUTCOME_STATUSES or "outcomes" in body:
        WebhookOutcomes.model_validate(body)
    else:
        WebhookError.model_validate(body)


@pytest.mark.parametrize(
    ("payload", "options", "status"),
    [
        (approved_entry(), {}, 202),
        ([approved_entry("psa-b1"), rejected_entry("psa-b2"), {"id": "bad"}], {"content_type": BATCH}, 202),
        (b"{not json", {}, 400),
        (approved_entry(), {"signed": False}, 401),
        (approved_entry(), {"source": "nowhere"}, 404),
        (approved_entry(), {"content_type": "text/plain"}, 415),
    ],
)
def test_each_kind_of_answer_fits_its_documented_model(
    hub: Hub,  # noqa: F811
    payload: Any,
    options: dict[str, Any],
    status: int,
) -> None:
    response = hub.post(payload, **options)
    assert response.status == status
    _check(response.status, json.loads(json.dumps(response.body)))


def test_a_redelivery_and_a_conflict_fit_their_models(hub: Hub) -> None:  # noqa: F811
    hub.post(approved_entry())
    again = hub.post(approved_entry())
    assert again.status == 200
    _check(again.status, again.body)
    changed = hub.post(approved_entry(hours="9"))
    assert changed.status == 409
    _check(changed.status, changed.body)


def test_the_models_refuse_an_answer_shaped_otherwise() -> None:
    with pytest.raises(ValidationError):
        WebhookOutcomes.model_validate({"outcomes": [{"index": 0, "outcome": "maybe", "id": None}]})
    with pytest.raises(ValidationError):
        WebhookError.model_validate({"message": "no error key"})
