from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from billbridge.adapters.vendors.vendor_api_client import CallBudget, VendorApiClient
from billbridge.adapters.vendors.vendor_registry import VendorRegistry
from billbridge.adapters.vendors.xero import XeroWebhookAdapter, map_invoice, xero_datetime
from billbridge.app.canonical_events import parse_cloud_event
from billbridge.app.vendor_adapters import (
    VendorDelivery,
    VendorPayloadError,
    VendorSignatureError,
    VendorUnavailableError,
)
from billbridge.local.vendor_stand_ins import InProcessTransport, XeroStandIn

from tests.fakes.vendor_fixtures import fixture_bytes, fixture_json

XERO = "https://api.xero.com"
IDENTITY = "https://identity.xero.com"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Secrets:
    def __init__(self, stand_in: XeroStandIn) -> None:
        self.values = {"erp/xero": [stand_in.webhook_key], "api:erp/xero": [stand_in.client_id, stand_in.client_secret]}

    def active_secrets(self, source: str) -> list[str]:
        return list(self.values.get(source, []))


def wired(
    calls_per_minute: int = 60, budget: CallBudget | None = None
) -> tuple[XeroWebhookAdapter, XeroStandIn, Clock]:
    clock = Clock()
    stand_in = XeroStandIn(calls_per_minute=calls_per_minute, clock=clock)
    transport = InProcessTransport({XERO: stand_in, IDENTITY: stand_in})
    registry = VendorRegistry(
        {"erp/xero": {"api_base_url": f"{XERO}/api.xro/2.0", "token_url": f"{IDENTITY}/connect/token"}},
        secrets=Secrets(stand_in),
        transport=transport,
        sleep=clock.sleep,
        clock=clock,
    )
    adapter = registry.webhook_adapters()[("erp", "xero")]
    assert isinstance(adapter, XeroWebhookAdapter)
    if budget is not None:
        adapter._client = VendorApiClient(  # a tighter budget than the default, same token
            vendor="xero",
            base_url=f"{XERO}/api.xro/2.0",
            transport=transport,
            token=adapter._client._token,
            requests_per_second=100,
            budget=budget,
            sleep=clock.sleep,
            clock=clock,
            wall_clock=clock,
        )
    return adapter, stand_in, clock


def delivery(body: bytes, signature: str | None) -> VendorDelivery:
    headers = {"Content-Type": "application/json"} | ({"x-xero-signature": signature} if signature else {})
    return VendorDelivery(source="erp", vendor="xero", headers=headers, body=body)


def paid_invoice() -> dict[str, Any]:
    document = fixture_json("xero/invoice-paid.json")
    invoice: dict[str, Any] = document["Invoices"][0]
    return invoice


def test_intent_to_receive_correctly_signed_is_a_handshake_with_nothing_to_ingest() -> None:
    adapter, stand_in, _ = wired()
    body = fixture_bytes("xero/intent-to-receive.json")
    adapter.verify(delivery(body, stand_in.sign(body)), [stand_in.webhook_key])
    translation = adapter.translate(delivery(body, stand_in.sign(body)))
    assert translation.handshake and translation.events == ()


@pytest.mark.parametrize("signature", [None, "", "bm90IHRoZSBzaWduYXR1cmU=", "%%%"])
def test_intent_to_receive_incorrectly_signed_is_refused(signature: str | None) -> None:
    adapter, stand_in, _ = wired()
    body = fixture_bytes("xero/intent-to-receive.json")
    with pytest.raises(VendorSignatureError):
        adapter.verify(delivery(body, signature), [stand_in.webhook_key])


def test_the_thin_event_is_fetched_and_mapped_to_posted_and_paid() -> None:
    adapter, stand_in, _ = wired()
    stand_in.add_invoice(paid_invoice())
    body = fixture_bytes("xero/webhook-invoice-update.json")
    translation = adapter.translate(delivery(body, stand_in.sign(body)))
    posted, paid = translation.events
    assert ("GET", "/api.xro/2.0/Invoices/4f5a7c1e-2b3d-4e6f-8a9b-0c1d2e3f4a5b") in stand_in.requests
    assert posted["type"] == "invoice.posted"
    assert posted["id"] == "xero-invoice-4f5a7c1e-2b3d-4e6f-8a9b-0c1d2e3f4a5b-1776676364000"
    assert posted["data"] == {
        "proposal_id": "SOW-GLX-2026-01-2026-01",
        "invoice_number": "INV-0042",
        "posting_date": "2026-04-01",
        "subtotal": "47057.15",
        "tax": "4177.42",
        "total": "51234.57",
        "currency": "USD",
    }
    assert paid["type"] == "payment.applied"
    assert paid["id"] == "xero-payment-22974891-3689-4694-9ee7-fd2ba917af55"
    assert paid["data"] == {
        "invoice_number": "INV-0042",
        "payment_id": "22974891-3689-4694-9ee7-fd2ba917af55",
        "amount": "51234.57",
        "currency": "USD",
        "paid_on": "2026-04-20",
    }
    for event in translation.events:
        parse_cloud_event(event, expected_source="erp")
    assert [s.reason for s in translation.skipped] == ["only INVOICE events carry billing feedback"]


def test_amounts_never_pass_through_float() -> None:
    invoice = paid_invoice()
    invoice["SubTotal"] = Decimal("0.10") + Decimal("0.20")
    invoice["TotalTax"] = Decimal("0.00")
    invoice["Total"] = Decimal("0.30")
    (posted, _) = map_invoice(invoice)[0]
    assert posted["data"]["subtotal"] == "0.30"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"Type": "ACCPAY"}, "is not a sales invoice"),
        ({"Reference": ""}, "not raised from a billing proposal"),
        ({"Status": "DRAFT"}, "status DRAFT is not posted"),
    ],
)
def test_invoices_that_are_not_posted_hub_invoices_are_reported_skipped(change: dict[str, str], reason: str) -> None:
    events, skipped = map_invoice(paid_invoice() | change)
    assert events == [] and reason in skipped[0].reason


def test_an_invoice_without_its_total_is_malformed_naming_the_field() -> None:
    invoice = paid_invoice()
    del invoice["Total"]
    with pytest.raises(VendorPayloadError) as refused:
        map_invoice(invoice)
    assert refused.value.field_path == "Total"


def test_xero_dates_are_read_as_utc() -> None:
    assert xero_datetime("/Date(1776643200000+0000)/", "Date").date().isoformat() == "2026-04-20"
    with pytest.raises(VendorPayloadError):
        xero_datetime("2026-04-20", "Date")


def test_an_invoice_deleted_since_the_event_is_skipped_not_an_error() -> None:
    adapter, stand_in, _ = wired()
    body = fixture_bytes("xero/webhook-invoice-update.json")
    translation = adapter.translate(delivery(body, stand_in.sign(body)))
    assert translation.events == ()
    assert "404" in translation.skipped[0].reason


def test_the_minute_limit_is_waited_out_within_the_budget() -> None:
    adapter, stand_in, clock = wired(calls_per_minute=1, budget=CallBudget(max_attempts=3, max_wait_seconds=90))
    stand_in.add_invoice(paid_invoice())
    body = fixture_bytes("xero/webhook-invoice-update.json")
    adapter.translate(delivery(body, stand_in.sign(body)))
    adapter._client.waited_seconds = 0.0
    translation = adapter.translate(delivery(body, stand_in.sign(body)))  # second call in the same minute
    assert len(translation.events) == 2
    assert stand_in.limit.refused == 1 and adapter._client.throttled == 1
    assert clock.slept and max(clock.slept) >= 59


def test_a_wait_beyond_the_budget_makes_the_vendor_unavailable_for_now() -> None:
    """The webhook budget (5 s) is shorter than Xero's minute: the delivery is answered 503 and retried."""
    adapter, stand_in, _ = wired(calls_per_minute=1)
    stand_in.add_invoice(paid_invoice())
    body = fixture_bytes("xero/webhook-invoice-update.json")
    adapter.translate(delivery(body, stand_in.sign(body)))
    with pytest.raises(VendorUnavailableError, match="429"):
        adapter.translate(delivery(body, stand_in.sign(body)))


def test_an_expired_token_is_renewed_once() -> None:
    adapter, stand_in, _ = wired()
    stand_in.add_invoice(paid_invoice())
    body = fixture_bytes("xero/webhook-invoice-update.json")
    adapter.translate(delivery(body, stand_in.sign(body)))
    stand_in.tokens.clear()  # Xero's 30-minute tokens expired
    assert len(adapter.translate(delivery(body, stand_in.sign(body))).events) == 2
    assert stand_in.requests.count(("POST", "/connect/token")) == 2


def test_a_payload_without_events_is_malformed() -> None:
    adapter, stand_in, _ = wired()
    body = b'{"entropy": "X"}'
    with pytest.raises(VendorPayloadError) as refused:
        adapter.translate(delivery(body, stand_in.sign(body)))
    assert refused.value.field_path == "events"


def test_several_events_of_one_invoice_in_a_delivery_read_it_once() -> None:
    adapter, stand_in, _ = wired()
    stand_in.add_invoice(paid_invoice())
    invoice_id = paid_invoice()["InvoiceID"]
    body, signature = stand_in.webhook([invoice_id, invoice_id])
    translation = adapter.translate(delivery(body, signature))
    assert [e["type"] for e in translation.events] == ["invoice.posted", "payment.applied"]
    assert stand_in.requests.count(("GET", f"/api.xro/2.0/Invoices/{invoice_id}")) == 1
