from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from billbridge.adapters.vendors.docusign_connect import (
    DocuSignConnectAdapter,
    DocuSignFieldMap,
    translate_connect_message,
)
from billbridge.app.canonical_events import parse_cloud_event
from billbridge.app.vendor_adapters import VendorDelivery, VendorPayloadError, VendorSignatureError
from billbridge.local.demo_engagement import first_contract_approval

from tests.fakes.vendor_fixtures import fixture_bytes, fixture_json

KEY = "docusign-connect-hmac-key-for-tests"
OTHER_KEY = "a-rotated-docusign-connect-key"


def signed(body: bytes, *keys: str) -> dict[str, str]:
    return {
        f"X-DocuSign-Signature-{i}": base64.b64encode(hmac.new(k.encode(), body, hashlib.sha256).digest()).decode()
        for i, k in enumerate(keys, start=1)
    } | {"Content-Type": "application/json", "X-Authorization-Digest": "HMACSHA256"}


def delivery(body: bytes, headers: dict[str, str]) -> VendorDelivery:
    return VendorDelivery(source="clm", vendor="docusign", headers=headers, body=body)


def test_a_body_signed_with_an_active_key_is_authentic() -> None:
    body = fixture_bytes("docusign/envelope-completed.json")
    DocuSignConnectAdapter().verify(delivery(body, signed(body, KEY)), [KEY])


def test_one_matching_header_among_several_keys_is_enough() -> None:
    body = fixture_bytes("docusign/envelope-completed.json")
    DocuSignConnectAdapter().verify(delivery(body, signed(body, OTHER_KEY, KEY)), [KEY])


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing or malformed"),
        ({"X-DocuSign-Signature-1": "not base64!"}, "missing or malformed"),
        ("wrong-key", "does not match"),
        ("tampered", "does not match"),
    ],
)
def test_a_forged_or_unsigned_body_is_refused(headers: object, reason: str) -> None:
    body = fixture_bytes("docusign/envelope-completed.json")
    if headers == "wrong-key":
        headers = signed(body, "some-other-key")
    elif headers == "tampered":
        headers = signed(body, KEY)
        body = body.replace(b"165.00", b"16.50")
    with pytest.raises(VendorSignatureError, match=reason):
        DocuSignConnectAdapter().verify(delivery(body, headers), [KEY])  # type: ignore[arg-type]


def test_a_completed_envelope_is_the_contract_snapshot_the_demo_engagement_approves() -> None:
    translation = translate_connect_message(fixture_json("docusign/envelope-completed.json"), DocuSignFieldMap())
    (event,) = translation.events
    demo_contract = first_contract_approval()["data"]
    assert event["id"] == "docusign-93be49ab-afa0-4adf-933c-f752070d71ec"
    assert event["type"] == "contract.approved"
    assert event["source"] == "clm"
    assert event["subject"] == "SOW-GLX-2026-01"
    assert event["time"] == "2026-01-09T17:04:10.6330000Z"
    assert event["data"] == demo_contract
    parsed = parse_cloud_event(event, expected_source="clm")
    assert parsed.type == "contract.approved"


def test_a_higher_version_is_an_amendment_and_the_action_field_can_terminate() -> None:
    message = fixture_json("docusign/envelope-completed.json")
    fields = message["data"]["envelopeSummary"]["customFields"]["textCustomFields"]
    next(f for f in fields if f["name"] == "Contract Version")["value"] = "2"
    (amended,) = translate_connect_message(message, DocuSignFieldMap()).events
    assert amended["type"] == "contract.amended"
    fields.append(
        {"fieldId": "1", "name": "Contract Action", "show": "false", "required": "false", "value": "terminate"}
    )
    (terminated,) = translate_connect_message(message, DocuSignFieldMap()).events
    assert terminated["type"] == "contract.terminated"
    assert terminated["data"] == {"contract_id": "SOW-GLX-2026-01", "version": 2, "effective_date": "2026-01-12"}


def test_where_a_tenant_keeps_the_terms_is_configuration() -> None:
    message = fixture_json("docusign/envelope-completed.json")
    fields = message["data"]["envelopeSummary"]["customFields"]["textCustomFields"]
    next(f for f in fields if f["name"] == "Contract ID")["name"] = "SOW Number"
    with pytest.raises(VendorPayloadError, match="'Contract ID'"):
        translate_connect_message(message, DocuSignFieldMap())
    tenant = DocuSignFieldMap.from_config({"fields": {"contract_id": "SOW Number"}})
    (event,) = translate_connect_message(message, tenant).events
    assert event["data"]["contract_id"] == "SOW-GLX-2026-01"


def test_an_unknown_canonical_field_in_the_configuration_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="rate_cards"):
        DocuSignFieldMap.from_config({"fields": {"rate_cards": "Rates"}})


def test_other_events_approve_nothing_and_say_so() -> None:
    translation = translate_connect_message(fixture_json("docusign/envelope-sent.json"), DocuSignFieldMap())
    assert translation.events == ()
    assert translation.skipped[0].reason == "event 'envelope-sent' approves no contract"


def test_a_completed_envelope_without_its_summary_is_malformed_naming_the_field() -> None:
    message = fixture_json("docusign/envelope-completed.json")
    del message["data"]["envelopeSummary"]
    with pytest.raises(VendorPayloadError) as refused:
        translate_connect_message(message, DocuSignFieldMap())
    assert refused.value.field_path == "data.envelopeSummary"


def test_a_missing_term_is_named() -> None:
    message = fixture_json("docusign/envelope-completed.json")
    tabs = message["data"]["envelopeSummary"]["recipients"]["signers"][0]["tabs"]["textTabs"]
    tabs[:] = [t for t in tabs if t["tabLabel"] != "Tax Jurisdiction"]
    with pytest.raises(VendorPayloadError, match="'Tax Jurisdiction'"):
        translate_connect_message(message, DocuSignFieldMap())


def test_connect_retries_of_one_envelope_map_to_the_same_event() -> None:
    first = fixture_json("docusign/envelope-completed.json")
    retry = json.loads(json.dumps(first))
    retry["retryCount"] = 3
    retry["generatedDateTime"] = "2026-01-09T18:04:12.0000000Z"
    assert translate_connect_message(first, DocuSignFieldMap()) == translate_connect_message(retry, DocuSignFieldMap())


def test_a_voided_envelope_maps_to_no_event_with_docusigns_reason() -> None:
    translation = translate_connect_message(fixture_json("docusign/envelope-voided.json"), DocuSignFieldMap())
    assert translation.events == ()
    (skipped,) = translation.skipped
    assert skipped.reason == (
        "voided on 2026-02-03: Rates renegotiated; a corrected amendment follows; "
        "never completed, so no contract was approved from it and none is withdrawn"
    )
