"""The seam: a vendor delivery through IngestVendorWebhook onto the canonical path (fakes, no sockets)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from billbridge.adapters.vendors.vendor_registry import VendorRegistry
from billbridge.app.ingest_vendor_webhook import IngestVendorWebhook
from billbridge.app.vendor_adapters import VendorDelivery
from billbridge.entrypoints.api.webhook import handle_api_event
from billbridge.entrypoints.api.webhook_http import vendor_http_answer
from billbridge.local.vendor_stand_ins import InProcessTransport, XeroStandIn

from tests.fakes.vendor_fixtures import fixture_bytes, fixture_json
from tests.fakes.vendors import CanonicalHub

DOCUSIGN_KEY = "docusign-connect-hmac-key-for-tests"


def docusign_headers(body: bytes, key: str = DOCUSIGN_KEY) -> dict[str, str]:
    signature = base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()
    return {"Content-Type": "application/json", "X-DocuSign-Signature-1": signature}


class Seam:
    def __init__(self) -> None:
        self.xero = XeroStandIn()
        self.hub = CanonicalHub(
            {
                "clm/docusign": [DOCUSIGN_KEY],
                "erp/xero": [self.xero.webhook_key],
                "api:erp/xero": [self.xero.client_id, self.xero.client_secret],
            }
        )
        transport = InProcessTransport({"https://api.xero.com": self.xero, "https://identity.xero.com": self.xero})
        registry = VendorRegistry(
            {
                "clm/docusign": {},
                "erp/xero": {
                    "api_base_url": "https://api.xero.com/api.xro/2.0",
                    "token_url": "https://identity.xero.com/connect/token",
                },
            },
            secrets=self.hub.secrets,
            transport=transport,
        )
        self.use_case = IngestVendorWebhook(
            adapters=registry.webhook_adapters(),
            secrets=self.hub.secrets,
            raw_payloads=self.hub.raw_payloads,
            clock=self.hub.clock,
            canonical=self.hub.ingest,
        )

    def post(self, source: str, vendor: str, body: bytes, headers: dict[str, str]) -> Any:
        return vendor_http_answer(
            self.use_case.handle(VendorDelivery(source=source, vendor=vendor, headers=headers, body=body))
        )


@pytest.fixture
def seam() -> Seam:
    return Seam()


def test_a_signed_connect_message_is_accepted_onto_the_bus_as_canonical_events(seam: Seam) -> None:
    body = fixture_bytes("docusign/envelope-completed.json")
    response = seam.post("clm", "docusign", body, docusign_headers(body))
    assert response.status == 200
    assert response.body["outcomes"][0]["outcome"] == "accepted"
    (published,) = seam.hub.publisher.published
    assert published.detail_type == "contract.approved"
    assert published.detail["delivery"]["source"] == "clm"
    assert published.detail["delivery"]["id"] == "docusign-93be49ab-afa0-4adf-933c-f752070d71ec"
    assert published.detail["delivery"]["raw_key"] in seam.hub.raw_payloads.objects
    assert seam.hub.raw_payloads.objects[published.detail["delivery"]["raw_key"]] == body


def test_a_connect_retry_is_a_duplicate_with_no_second_effect(seam: Seam) -> None:
    body = fixture_bytes("docusign/envelope-completed.json")
    seam.post("clm", "docusign", body, docusign_headers(body))
    retry = json.loads(body)
    retry["retryCount"] = 1
    retry_body = json.dumps(retry).encode()
    response = seam.post("clm", "docusign", retry_body, docusign_headers(retry_body))
    assert response.status == 200
    assert response.body["outcomes"][0]["outcome"] == "duplicate"
    assert len(seam.hub.publisher.published) == 1


def test_a_bad_signature_is_401_before_anything_is_stored(seam: Seam) -> None:
    body = fixture_bytes("docusign/envelope-completed.json")
    response = seam.post("clm", "docusign", body, docusign_headers(body, "not-the-key"))
    assert response.status == 401
    assert seam.hub.raw_payloads.objects == {} and seam.hub.publisher.published == []


def test_an_unknown_vendor_is_404_naming_the_field(seam: Seam) -> None:
    response = seam.post("clm", "ironclad", b"{}", {})
    assert response.status == 404 and response.body["field"] == "vendor"
    assert "clm/docusign" in response.body["error"]


def test_an_oversized_delivery_is_413(seam: Seam) -> None:
    body = b" " * (256 * 1024 + 1)
    assert seam.post("clm", "docusign", body, docusign_headers(body)).status == 413


def test_a_malformed_message_is_400_naming_the_field_and_kept_raw(seam: Seam) -> None:
    message = fixture_json("docusign/envelope-completed.json")
    del message["data"]["envelopeId"]
    body = json.dumps(message, default=str).encode()
    response = seam.post("clm", "docusign", body, docusign_headers(body))
    assert response.status == 400 and response.body["field"] == "data.envelopeId"
    assert list(seam.hub.raw_payloads.objects.values()) == [body]


def test_a_term_the_canonical_contract_refuses_is_400_naming_the_canonical_field(seam: Seam) -> None:
    message = fixture_json("docusign/envelope-completed.json")
    tabs = message["data"]["envelopeSummary"]["recipients"]["signers"][0]["tabs"]["numberTabs"]
    next(t for t in tabs if t["tabLabel"] == "Rate/Role/consultant")["value"] = "one hundred"
    body = json.dumps(message, default=str).encode()
    response = seam.post("clm", "docusign", body, docusign_headers(body))
    assert response.status == 400
    assert response.body["outcomes"][0]["outcome"] == "rejected"
    assert "rate_card" in response.body["outcomes"][0]["field"]


def test_xero_intent_to_receive_is_200_with_no_body_when_signed_and_401_when_not(seam: Seam) -> None:
    body, signature = seam.xero.intent_to_receive()
    good = seam.post("erp", "xero", body, {"x-xero-signature": signature})
    assert (good.status, good.body) == (200, {})
    bad = seam.post("erp", "xero", body, {"x-xero-signature": base64.b64encode(b"x" * 32).decode()})
    assert bad.status == 401


def test_a_xero_thin_event_is_fetched_and_published_and_the_answer_has_no_body(seam: Seam) -> None:
    invoice = fixture_json("xero/invoice-paid.json")["Invoices"][0]
    seam.xero.add_invoice(invoice)
    body, signature = seam.xero.webhook([invoice["InvoiceID"]])
    response = seam.post("erp", "xero", body, {"x-xero-signature": signature})
    assert (response.status, response.body) == (200, {})
    assert seam.hub.published_types() == ["invoice.posted", "payment.applied"]


def test_xero_unavailable_is_503_so_xero_retries_and_nothing_is_claimed(seam: Seam) -> None:
    invoice = fixture_json("xero/invoice-paid.json")["Invoices"][0]
    seam.xero.add_invoice(invoice)
    seam.xero.client_secret = "rotated-without-telling-us"
    body, signature = seam.xero.webhook([invoice["InvoiceID"]])
    response = seam.post("erp", "xero", body, {"x-xero-signature": signature})
    assert response.status == 503 and "Retry-After" in response.headers
    assert seam.hub.deliveries.deliveries == {}


def test_the_api_edge_routes_source_and_vendor_to_the_vendor_use_case(seam: Seam) -> None:
    body = fixture_bytes("docusign/envelope-completed.json")
    event = {
        "httpMethod": "POST",
        "path": "/webhooks/clm/docusign",
        "pathParameters": {"source": "clm", "vendor": "docusign"},
        "headers": docusign_headers(body),
        "body": body.decode(),
        "isBase64Encoded": False,
    }
    answer = handle_api_event(event, None, use_case=seam.hub.ingest, vendor_use_case=seam.use_case)
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"])["outcomes"][0]["outcome"] == "accepted"


def test_the_api_edge_answers_an_empty_body_where_the_vendor_wants_none(seam: Seam) -> None:
    body, signature = seam.xero.intent_to_receive()
    event = {
        "httpMethod": "POST",
        "path": "/webhooks/erp/xero",
        "headers": {"x-xero-signature": signature},
        "body": body.decode(),
        "isBase64Encoded": False,
    }
    answer = handle_api_event(event, None, use_case=seam.hub.ingest, vendor_use_case=seam.use_case)
    assert (answer["statusCode"], answer["body"]) == (200, "")


def test_a_voided_envelope_is_acknowledged_approves_nothing_and_says_why(seam: Seam) -> None:
    body = fixture_bytes("docusign/envelope-voided.json")
    response = seam.post("clm", "docusign", body, docusign_headers(body))
    assert response.status == 200
    assert seam.hub.publisher.published == []
    (skipped,) = response.body["skipped"]
    assert skipped["reference"] == "envelope 5d1c8e2a-7f3b-4c6d-9e0f-1a2b3c4d5e6f"
    assert "Rates renegotiated" in skipped["reason"]


def test_a_voided_envelope_claiming_a_completion_is_refused_naming_the_field(seam: Seam) -> None:
    message = fixture_json("docusign/envelope-voided.json")
    message["data"]["envelopeSummary"]["completedDateTime"] = "2026-02-03T11:00:00.0000000Z"
    body = json.dumps(message).encode()
    response = seam.post("clm", "docusign", body, docusign_headers(body))
    assert response.status == 400
    assert "data.envelopeSummary.completedDateTime" in json.dumps(response.body)
    assert seam.hub.publisher.published == []
