from __future__ import annotations

import json
from typing import Any

import pytest
from billbridge import topology
from billbridge.app.ingest_webhook import IngestWebhook, WebhookRequest, canonical_digest
from billbridge.app.webhook_signature import sign
from billbridge.entrypoints.api.webhook_http import WebhookResponse, http_answer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes.edge import (
    PSA_NEXT_SECRET,
    PSA_SECRET,
    FixedClock,
    InMemoryDeliveryRegistry,
    InMemoryEventPublisher,
    InMemoryRawPayloadStore,
    InMemoryWebhookSecrets,
    SequentialIds,
)

CLOUDEVENTS = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"


def rejected_entry(event_id: str = "psa-1", revision: int = 2, **attributes: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "psa",
        "type": "time_entry.rejected",
        "time": "2026-03-16T09:30:00Z",
        "data": {"entry_id": "TE-1", "revision": revision},
    } | attributes


def approved_entry(event_id: str = "psa-2", hours: Any = "8") -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "psa",
        "type": "time_entry.approved",
        "time": "2026-03-16T09:30:00Z",
        "data": {
            "entry_id": "TE-2",
            "revision": 1,
            "contract_id": "SOW-1001",
            "resource_id": "EMP-3",
            "role": "consultant",
            "billable": True,
            "work_date": "2026-03-16",
            "hours": hours,
        },
    }


class Hub:
    """The use case wired to fakes, with a helper that signs like a vendor."""

    def __init__(
        self,
        clock: FixedClock,
        webhook_secrets: InMemoryWebhookSecrets,
        raw_payloads: InMemoryRawPayloadStore,
        deliveries: InMemoryDeliveryRegistry,
        publisher: InMemoryEventPublisher,
        ids: SequentialIds,
        inline_raw_payload_max_bytes: int = 0,
    ) -> None:
        self.clock = clock
        self.secrets = webhook_secrets
        self.raw_payloads = raw_payloads
        self.deliveries = deliveries
        self.publisher = publisher
        self.use_case = IngestWebhook(
            secrets=webhook_secrets,
            raw_payloads=raw_payloads,
            deliveries=deliveries,
            publisher=publisher,
            clock=clock,
            ids=ids,
            inline_raw_payload_max_bytes=inline_raw_payload_max_bytes,
        )
        self._deliveries_sent = 0

    def post(
        self,
        payload: Any,
        *,
        source: str = "psa",
        content_type: str = CLOUDEVENTS,
        secret: str = PSA_SECRET,
        signed: bool = True,
        extra_headers: dict[str, str] | None = None,
    ) -> WebhookResponse:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self._deliveries_sent += 1
        headers = {"Content-Type": content_type}
        if signed:
            headers |= sign(secret, f"msg_{self._deliveries_sent}", self.clock.now(), body)
        headers |= extra_headers or {}
        return http_answer(self.use_case.handle(WebhookRequest(source=source, headers=headers, body=body)))


@pytest.fixture
def hub(
    clock: FixedClock,
    webhook_secrets: InMemoryWebhookSecrets,
    raw_payloads: InMemoryRawPayloadStore,
    deliveries: InMemoryDeliveryRegistry,
    publisher: InMemoryEventPublisher,
    ids: SequentialIds,
) -> Hub:
    return Hub(clock, webhook_secrets, raw_payloads, deliveries, publisher, ids)


# --- accepted ------------------------------------------------------------------------------------


def test_a_signed_event_is_accepted_stored_and_published(hub: Hub) -> None:
    event = rejected_entry()
    response = hub.post(event)

    assert response.status == 202
    assert response.body == {
        "outcomes": [{"index": 0, "id": "psa-1", "outcome": "accepted", "correlationid": "corr-0001"}],
        "correlationid": "corr-0001",
    }
    [raw_key] = hub.raw_payloads.objects
    assert raw_key.startswith("webhooks/psa/2026/03/16/msg_1/")
    assert hub.raw_payloads.objects[raw_key] == json.dumps(event).encode()
    [published] = hub.publisher.published
    assert published.source == topology.INGEST_EVENT_SOURCE
    assert published.detail_type == "time_entry.rejected"
    assert published.correlation_id == "corr-0001"
    assert published.detail == {
        "schema_version": 1,
        "correlationid": "corr-0001",
        "delivery": {
            "source": "psa",
            "id": "psa-1",
            "webhook_id": "msg_1",
            "raw_key": raw_key,
            "received_at": "2026-03-16T12:00:00+00:00",
        },
        "event": event,
    }


def test_the_events_correlationid_is_kept(hub: Hub) -> None:
    response = hub.post(rejected_entry(correlationid="upstream-42"))
    assert response.body["correlationid"] == "upstream-42"
    assert hub.publisher.published[0].detail["correlationid"] == "upstream-42"


def test_plain_json_and_content_type_parameters_are_accepted(hub: Hub) -> None:
    assert hub.post(rejected_entry(), content_type="application/json; charset=utf-8").status == 202


def test_a_plain_json_array_is_a_batch(hub: Hub) -> None:
    response = hub.post([rejected_entry("a"), rejected_entry("b")], content_type="application/json")
    assert response.status == 202
    assert [o["outcome"] for o in response.body["outcomes"]] == ["accepted", "accepted"]


# --- small single-event deliveries keep their raw body in their claim ---------------------------


@pytest.fixture
def inline_hub(
    clock: FixedClock,
    webhook_secrets: InMemoryWebhookSecrets,
    raw_payloads: InMemoryRawPayloadStore,
    deliveries: InMemoryDeliveryRegistry,
    publisher: InMemoryEventPublisher,
    ids: SequentialIds,
) -> Hub:
    return Hub(clock, webhook_secrets, raw_payloads, deliveries, publisher, ids, inline_raw_payload_max_bytes=2048)


def test_a_small_single_event_keeps_its_raw_body_in_its_claim_not_in_an_object(inline_hub: Hub) -> None:
    event = rejected_entry()
    assert inline_hub.post(event).status == 202

    assert inline_hub.raw_payloads.objects == {}
    claim = inline_hub.deliveries.deliveries[("psa", "psa-1")]
    assert claim.raw_body == json.dumps(event).encode()
    assert claim.raw_key == "delivery-claim:psa/psa-1"
    [published] = inline_hub.publisher.published
    assert published.detail["delivery"]["raw_key"] == "delivery-claim:psa/psa-1"


def test_a_duplicate_of_an_inline_delivery_stores_nothing_more(inline_hub: Hub) -> None:
    inline_hub.post(rejected_entry())
    assert inline_hub.post(rejected_entry()).status == 200
    assert inline_hub.raw_payloads.objects == {}
    assert len(inline_hub.deliveries.deliveries) == 1


def test_a_larger_single_event_a_batch_and_a_refused_body_still_go_to_the_raw_store(inline_hub: Hub) -> None:
    large = rejected_entry("psa-large", reason="x" * 3000)
    assert inline_hub.post(large).status == 202
    assert inline_hub.post([rejected_entry("a"), rejected_entry("b")], content_type=BATCH).status == 202
    assert inline_hub.post(b"{not json").status == 400
    assert inline_hub.post(rejected_entry("psa-bad", specversion="0.3")).status == 400

    assert len(inline_hub.raw_payloads.objects) == 4
    assert inline_hub.deliveries.deliveries[("psa", "psa-large")].raw_body is None
    assert inline_hub.deliveries.deliveries[("psa", "a")].raw_key.startswith("webhooks/psa/")


def test_a_conflicting_body_is_stored_in_the_raw_store_and_named_by_the_conflict(inline_hub: Hub) -> None:
    inline_hub.post(rejected_entry())
    response = inline_hub.post(rejected_entry(revision=3))

    assert response.status == 409
    [conflict] = inline_hub.deliveries.conflicts
    assert conflict.raw_key in inline_hub.raw_payloads.objects
    assert inline_hub.deliveries.deliveries[("psa", "psa-1")].raw_body == json.dumps(rejected_entry()).encode()


def test_an_inline_delivery_whose_bus_fails_releases_its_claim_and_its_body(inline_hub: Hub) -> None:
    inline_hub.publisher.unavailable = True
    assert inline_hub.post(rejected_entry()).status == 503
    assert inline_hub.deliveries.deliveries == {}


# --- signature -----------------------------------------------------------------------------------


def test_an_unsigned_delivery_is_401_and_has_no_effect(hub: Hub) -> None:
    response = hub.post(rejected_entry(), signed=False)
    assert response.status == 401
    assert "missing header" in response.body["error"]
    assert hub.raw_payloads.objects == {} and hub.publisher.published == []


def test_a_wrong_secret_is_401(hub: Hub) -> None:
    response = hub.post(rejected_entry(), secret=PSA_NEXT_SECRET)
    assert response.status == 401
    assert "no valid signature" in response.body["error"]
    assert hub.deliveries.deliveries == {}


def test_a_secret_of_another_source_is_401(hub: Hub) -> None:
    hub.secrets.secrets["erp"] = [PSA_NEXT_SECRET]
    event = rejected_entry(source="erp", type="invoice.rejected", data={"proposal_id": "P-1", "reason": "x"})
    assert hub.post(event, source="erp", secret=PSA_SECRET).status == 401


def test_a_stale_timestamp_is_401(hub: Hub) -> None:
    body = json.dumps(rejected_entry()).encode()
    headers = sign(PSA_SECRET, "msg_old", int(hub.clock.now().timestamp()) - 301, body)
    response = http_answer(
        hub.use_case.handle(WebhookRequest(source="psa", headers=headers | {"content-type": CLOUDEVENTS}, body=body))
    )
    assert response.status == 401
    assert "old" in response.body["error"]


def test_rotation_accepts_both_active_secrets(hub: Hub) -> None:
    hub.secrets.secrets["psa"] = [PSA_SECRET, PSA_NEXT_SECRET]
    assert hub.post(rejected_entry("a"), secret=PSA_SECRET).status == 202
    assert hub.post(rejected_entry("b"), secret=PSA_NEXT_SECRET).status == 202


def test_the_signature_is_checked_before_parsing(hub: Hub) -> None:
    assert hub.post(b"{not json", signed=False).status == 401


# --- malformed input -----------------------------------------------------------------------------


def test_malformed_json_is_400_naming_line_and_column(hub: Hub) -> None:
    response = hub.post(b'{"specversion": "1.0",\n "id": }')
    assert response.status == 400
    assert response.body["error"].startswith("body is not valid JSON: Expecting value at line 2 column 8")
    assert len(hub.raw_payloads.objects) == 1, "the raw body is kept even when it cannot be parsed"
    assert hub.publisher.published == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"a": NaN}', "NaN is not valid JSON"),
        (b'{"a": 1, "a": 2}', "duplicate key 'a'"),
        (b"[" * 40 + b"]" * 40, "nested"),
        (b'"just a string"', "JSON object"),
        (b"[]", "batch is empty"),
        (b'{"a": "\\ud800"}', "unpaired surrogate"),
    ],
)
def test_unacceptable_json_is_400(hub: Hub, body: bytes, expected: str) -> None:
    response = hub.post(body, content_type="application/json")
    assert response.status == 400
    assert expected in response.body["error"]


def test_a_missing_field_is_400_naming_the_field(hub: Hub) -> None:
    event = rejected_entry()
    del event["data"]["revision"]
    response = hub.post(event)
    assert response.status == 400
    assert response.body["field"] == "data.revision"
    assert response.body["error"] == "data.revision: is required"
    assert hub.publisher.published == [] and hub.deliveries.deliveries == {}


def test_float_money_or_hours_is_400(hub: Hub) -> None:
    response = hub.post(approved_entry(hours=8.0))
    assert response.status == 400
    assert response.body["field"] == "data.hours"
    assert "decimal string" in response.body["error"]


def test_float_money_is_400_with_the_money_rule(hub: Hub) -> None:
    event = rejected_entry(
        source="erp",
        type="payment.applied",
        data={
            "invoice_number": "I-1",
            "payment_id": "P-1",
            "amount": 10.5,
            "currency": "USD",
            "paid_on": "2026-04-01",
        },
    )
    response = hub.post(event, source="erp")
    assert response.status == 400
    assert response.body["field"] == "data.amount"
    assert "money amounts are decimal strings" in response.body["error"]


def test_an_unknown_type_is_400(hub: Hub) -> None:
    response = hub.post(rejected_entry(type="time_entry.exploded"))
    assert response.status == 400
    assert response.body["field"] == "type"


def test_an_unknown_source_is_404_naming_the_known_ones(hub: Hub) -> None:
    response = hub.post(rejected_entry(), source="hubspot")
    assert response.status == 404
    assert "'hubspot'" in response.body["error"] and "clm, psa, erp, crm" in response.body["error"]


def test_an_oversize_body_is_413_before_the_signature(hub: Hub) -> None:
    body = b" " * (topology.MAX_WEBHOOK_BODY_BYTES + 1)
    response = hub.post(body, signed=False)
    assert response.status == 413


def test_a_body_of_exactly_the_limit_is_not_413(hub: Hub) -> None:
    body = json.dumps(rejected_entry()).encode()
    body += b" " * (topology.MAX_WEBHOOK_BODY_BYTES - len(body))
    assert hub.post(body).status == 202


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", ""])
def test_a_wrong_content_type_is_415(hub: Hub, content_type: str) -> None:
    assert hub.post(rejected_entry(), content_type=content_type).status == 415


def test_a_batch_sent_as_a_single_event_is_400(hub: Hub) -> None:
    response = hub.post([rejected_entry()], content_type=CLOUDEVENTS)
    assert response.status == 400
    assert response.body["field"] == "content-type"


# --- duplicates and conflicts --------------------------------------------------------------------


def test_a_redelivery_is_200_with_the_original_correlation_id_and_no_effect(hub: Hub) -> None:
    first = hub.post(rejected_entry())
    again = hub.post(rejected_entry())
    assert again.status == 200
    assert again.body["correlationid"] == first.body["correlationid"] == "corr-0001"
    assert again.body["outcomes"][0]["outcome"] == "duplicate"
    assert len(hub.publisher.published) == 1


def test_a_redelivery_with_reordered_keys_is_still_a_duplicate(hub: Hub) -> None:
    hub.post(rejected_entry())
    reordered = dict(reversed(list(rejected_entry().items())))
    assert hub.post(reordered).status == 200


def test_the_same_id_with_another_body_is_409_and_recorded(hub: Hub) -> None:
    hub.post(rejected_entry(revision=2))
    response = hub.post(rejected_entry(revision=3))
    assert response.status == 409
    assert response.body["outcomes"][0]["outcome"] == "conflict"
    assert response.body["field"] == "id"
    [conflict] = hub.deliveries.conflicts
    assert (conflict.source, conflict.event_id) == ("psa", "psa-1")
    assert conflict.body_digest == canonical_digest(rejected_entry(revision=3))
    assert len(hub.publisher.published) == 1


# --- batches -------------------------------------------------------------------------------------


def test_a_batch_reports_each_element(hub: Hub) -> None:
    hub.post(rejected_entry("dup"))
    hub.post(rejected_entry("clash", revision=2))
    broken = rejected_entry("broken")
    del broken["data"]["entry_id"]
    batch = [rejected_entry("new"), rejected_entry("dup"), rejected_entry("clash", revision=9), broken, 42]

    response = hub.post(batch, content_type=BATCH)

    assert response.status == 202
    outcomes = response.body["outcomes"]
    assert [(o["index"], o["id"], o["outcome"]) for o in outcomes] == [
        (0, "new", "accepted"),
        (1, "dup", "duplicate"),
        (2, "clash", "conflict"),
        (3, "broken", "rejected"),
        (4, None, "rejected"),
    ]
    assert outcomes[3]["field"] == "data.entry_id"
    assert outcomes[1]["correlationid"] == "corr-0001"
    assert [e.detail["delivery"]["id"] for e in hub.publisher.published] == ["dup", "clash", "new"]
    assert len(hub.deliveries.conflicts) == 1


@pytest.mark.parametrize(
    ("elements", "status"),
    [
        (["dup", "dup"], 200),
        (["bad", "bad"], 400),
        (["clash"], 409),
        (["dup", "clash"], 409),
        (["dup", "bad"], 400),
    ],
)
def test_a_batch_without_accepted_events_gets_the_most_specific_status(
    hub: Hub, elements: list[str], status: int
) -> None:
    hub.post(rejected_entry("dup"))
    hub.post(rejected_entry("clash", revision=2))
    build = {
        "dup": lambda: rejected_entry("dup"),
        "clash": lambda: rejected_entry("clash", revision=7),
        "bad": lambda: rejected_entry("bad", type="nope"),
    }
    response = hub.post([build[name]() for name in elements], content_type=BATCH)
    assert response.status == status


def test_the_same_event_twice_in_one_batch_is_published_once(hub: Hub) -> None:
    response = hub.post([rejected_entry(), rejected_entry()], content_type=BATCH)
    assert [o["outcome"] for o in response.body["outcomes"]] == ["accepted", "duplicate"]
    assert len(hub.publisher.published) == 1


# --- failures of the hub's own dependencies --------------------------------------------------------


def test_a_publish_failure_is_503_and_releases_the_claim_so_the_retry_is_accepted(hub: Hub) -> None:
    hub.publisher.fail_next = {"psa-1"}
    failed = hub.post(rejected_entry())
    assert failed.status == 503
    assert failed.headers["Retry-After"] == "30"
    assert hub.deliveries.released == [("psa", "psa-1")]
    assert hub.publisher.published == []

    retried = hub.post(rejected_entry())
    assert retried.status == 202
    assert len(hub.publisher.published) == 1


def test_a_partial_publish_failure_keeps_the_published_events_claimed(hub: Hub) -> None:
    hub.publisher.fail_next = {"b"}
    batch = [rejected_entry("a"), rejected_entry("b")]
    assert hub.post(batch, content_type=BATCH).status == 503
    assert hub.deliveries.released == [("psa", "b")]

    retried = hub.post(batch, content_type=BATCH)
    assert retried.status == 202
    assert [o["outcome"] for o in retried.body["outcomes"]] == ["duplicate", "accepted"]
    assert [e.detail["delivery"]["id"] for e in hub.publisher.published] == ["a", "b"]


def test_an_unreachable_bus_releases_every_claim(hub: Hub) -> None:
    hub.publisher.unavailable = True
    assert hub.post([rejected_entry("a"), rejected_entry("b")], content_type=BATCH).status == 503
    assert hub.deliveries.deliveries == {}


def test_a_failing_raw_store_is_503_before_any_claim(hub: Hub) -> None:
    hub.raw_payloads.fail = True
    response = hub.post(rejected_entry())
    assert response.status == 503
    assert hub.deliveries.deliveries == {}


def test_failing_secrets_are_503_not_401(hub: Hub) -> None:
    hub.secrets.fail = True
    assert hub.post(rejected_entry()).status == 503


def test_a_failing_registry_is_503(hub: Hub) -> None:
    hub.deliveries.fail_claims = True
    assert hub.post(rejected_entry()).status == 503
    assert hub.publisher.published == []


# --- robustness ----------------------------------------------------------------------------------

header_text = st.text(
    st.characters(max_codepoint=0xFFFF, categories=["Cs", "Cc", "Ll", "Lu", "Nd", "Po", "Ps", "Sm", "Zs"]),
    max_size=60,
)
header_names = st.sampled_from(
    ["content-type", "Content-Type", "webhook-id", "webhook-timestamp", "webhook-signature", "x-other"]
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    source=st.sampled_from([*topology.WEBHOOK_SOURCES, "", "nope", "../etc"]),
    headers=st.dictionaries(header_names, header_text, max_size=6),
    body=st.binary(max_size=512),
)
def test_arbitrary_requests_never_raise_nor_get_a_5xx(
    hub: Hub, source: str, headers: dict[str, str], body: bytes
) -> None:
    response = http_answer(hub.use_case.handle(WebhookRequest(source=source, headers=headers, body=body)))
    assert 200 <= response.status < 500
    assert response.status == 404 or source in topology.WEBHOOK_SOURCES
    json.dumps(response.body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=15,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    mutation=st.dictionaries(
        st.sampled_from(["specversion", "id", "source", "type", "time", "data", "correlationid", "x"]),
        json_values,
        max_size=3,
    ),
    as_batch=st.booleans(),
)
def test_arbitrary_signed_events_never_raise_nor_get_a_5xx(hub: Hub, mutation: dict[str, Any], as_batch: bool) -> None:
    event = rejected_entry() | mutation
    response = hub.post([event] if as_batch else event, content_type=BATCH if as_batch else CLOUDEVENTS)
    assert response.status in (200, 202, 400, 409)
    json.dumps(response.body)


def test_a_webhook_id_with_an_unpaired_surrogate_is_401_not_an_error(hub: Hub) -> None:
    body = json.dumps(rejected_entry()).encode()
    headers = sign(PSA_SECRET, "msg_1", hub.clock.now(), body) | {
        "webhook-id": "msg_\ud800",
        "content-type": CLOUDEVENTS,
    }
    response = http_answer(hub.use_case.handle(WebhookRequest(source="psa", headers=headers, body=body)))
    assert response.status == 401


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    body=st.one_of(
        st.binary(max_size=512),
        st.recursive(json_values, lambda inner: st.lists(inner, max_size=3), max_leaves=10).map(
            lambda value: json.dumps(value).encode()
        ),
    ),
    content_type=st.sampled_from([CLOUDEVENTS, BATCH, "application/json"]),
)
def test_arbitrary_signed_bodies_never_raise_nor_get_a_5xx(hub: Hub, body: bytes, content_type: str) -> None:
    response = hub.post(body, content_type=content_type)
    assert response.status in (200, 202, 400, 409)
    assert "error" in response.body or response.status in (200, 202)
