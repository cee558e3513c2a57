"""Outbound to Xero: CreateInvoice raises a draft upserted by reference, through the stand-in (no sockets)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from billbridge.adapters.connectors.event_connector import EventBusConnector
from billbridge.adapters.vendors.vendor_api_client import CallBudget, VendorApiClient
from billbridge.adapters.vendors.vendor_commands import VendorCommandRouter
from billbridge.adapters.vendors.vendor_registry import VendorConfigurationError, VendorRegistry
from billbridge.adapters.vendors.xero_invoices import XeroInvoiceConnector, draft_invoice
from billbridge.app.ports import ConnectorCommand, TransientConnectorError
from billbridge.local.vendor_stand_ins import InProcessTransport, XeroStandIn

from tests.fakes.edge import InMemoryEventPublisher

XERO = "https://api.xero.com"


class Secrets:
    def __init__(self, stand_in: XeroStandIn) -> None:
        self.values = {"api:erp/xero": [stand_in.client_id, stand_in.client_secret]}

    def active_secrets(self, source: str) -> list[str]:
        return list(self.values.get(source, []))


def payload(proposal_id: str = "SOW-GLX-2026-01-2026-01-1") -> dict[str, Any]:
    return {
        "proposal_id": proposal_id,
        "contract_id": "SOW-GLX-2026-01",
        "customer_id": "CUST-GLOBEX",
        "legal_entity": "US01",
        "period": "2026-01",
        "currency": "USD",
        "tax_jurisdiction": "US-NY",
        "lines": [
            {
                "kind": "time",
                "ref": "TS-1001",
                "description": "consultant time",
                "quantity": "40",
                "rate": "165.00",
                "amount": "6600.00",
                "contract_version": 1,
            },
            {
                "kind": "fee",
                "ref": "MS-FEE",
                "description": "Managed service (prorated)",
                "quantity": "1",
                "rate": None,
                "amount": "5100.00",
                "contract_version": 1,
            },
            {
                "kind": "time",
                "ref": "TS-1002",
                "description": "rounded",
                "quantity": "0.33",
                "rate": "100.00",
                "amount": "33.33",
                "contract_version": 1,
            },
        ],
        "subtotal": "11733.33",
        "tax": "1041.33",
        "total": "12774.66",
    }


def command(proposal_id: str = "SOW-GLX-2026-01-2026-01-1", target: str = "erp-us") -> ConnectorCommand:
    return ConnectorCommand(
        target=target,
        name="CreateInvoice",
        idempotency_key=proposal_id,
        payload=payload(proposal_id),
        correlation_id="corr-1",
    )


class Clock:
    """Time that passes only when the client sleeps (its pacing), so the tests never wait."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def wired(calls_per_minute: int = 60) -> tuple[XeroInvoiceConnector, XeroStandIn]:
    clock = Clock()
    stand_in = XeroStandIn(calls_per_minute=calls_per_minute, clock=clock)
    registry = VendorRegistry(
        {
            "erp/xero": {
                "api_base_url": f"{XERO}/api.xro/2.0",
                "token_url": f"{XERO}/connect/token",
                "tenant_ids": [stand_in.tenant_id],
                "erp_instance": "erp-us",
            }
        },
        secrets=Secrets(stand_in),
        transport=InProcessTransport({XERO: stand_in}),
        sleep=clock.sleep,
        clock=clock,
    )
    connector = registry.command_routes()[("erp-us", "CreateInvoice")]
    assert isinstance(connector, XeroInvoiceConnector)
    return connector, stand_in


def test_the_draft_keeps_every_amount_exact_and_names_the_proposal() -> None:
    draft = draft_invoice(payload(), account_code="200", invoice_date="2026-01-31")
    assert draft["Type"] == "ACCREC" and draft["Status"] == "DRAFT"
    assert draft["Reference"] == "SOW-GLX-2026-01-2026-01-1"
    assert draft["Contact"] == {"Name": "CUST-GLOBEX"}
    quantities = [(line["Quantity"], line["UnitAmount"]) for line in draft["LineItems"]]
    # quantity x rate where it is exact; 1 x the amount where the rated amount was rounded
    assert quantities == [
        (Decimal("40"), Decimal("165.00")),
        (Decimal("1"), Decimal("5100.00")),
        (Decimal("1"), Decimal("33.33")),
    ]
    assert sum(q * u for q, u in quantities) == Decimal("11733.33")


def test_create_invoice_raises_a_draft_in_xero_with_exact_json_numbers() -> None:
    connector, stand_in = wired()
    receipt = connector.send(command())
    assert receipt.accepted and receipt.detail == "raised as a draft"
    invoice = stand_in.find_by_reference("SOW-GLX-2026-01-2026-01-1")
    assert invoice is not None and receipt.reference == invoice["InvoiceID"]
    assert invoice["Status"] == "DRAFT" and invoice["SubTotal"] == Decimal("11733.33")
    assert ("PUT", "/api.xro/2.0/Invoices") in stand_in.requests


def test_a_retried_command_finds_the_invoice_by_reference_and_raises_no_second_one() -> None:
    connector, stand_in = wired()
    first = connector.send(command())
    second = connector.send(command())
    assert second.accepted and second.reference == first.reference and second.detail == "already raised"
    assert len(stand_in.invoices) == 1


def test_the_idempotency_key_makes_a_repeated_put_one_invoice() -> None:
    _, stand_in = wired()
    body = json.dumps(
        {
            "Invoices": [
                {
                    "Type": "ACCREC",
                    "Contact": {"Name": "C"},
                    "LineItems": [{"Description": "x", "Quantity": 1, "UnitAmount": 10}],
                }
            ]
        }
    ).encode()
    token = stand_in(
        "POST",
        "/connect/token",
        {"Authorization": "Basic WEVSTy1DTElFTlQtTE9DQUw6eGVyby1jbGllbnQtc2VjcmV0LWxvY2Fs"},
        b"grant_type=client_credentials",
    )
    headers = {
        "Authorization": f"Bearer {json.loads(token[2])['access_token']}",
        "xero-tenant-id": stand_in.tenant_id,
        "Idempotency-Key": "K-1",
    }
    assert stand_in("PUT", "/api.xro/2.0/Invoices", headers, body) == stand_in(
        "PUT", "/api.xro/2.0/Invoices", headers, body
    )
    assert len(stand_in.invoices) == 1


def test_a_refused_invoice_is_a_refused_receipt_naming_xeros_reasons() -> None:
    connector, _ = wired()
    bad = command()
    bad.payload["lines"] = []
    receipt = connector.send(bad)
    assert not receipt.accepted
    assert "Each line item must have a Description and a UnitAmount" in receipt.detail


def test_xero_throttling_beyond_the_budget_is_transient_for_the_billing_run() -> None:
    connector, stand_in = wired(calls_per_minute=1)
    connector._client = VendorApiClient(  # a short budget: the minute cannot be waited out
        vendor="xero",
        base_url=f"{XERO}/api.xro/2.0",
        transport=InProcessTransport({XERO: stand_in}),
        token=connector._client._token,
        requests_per_second=100,
        budget=CallBudget(max_attempts=2, max_wait_seconds=1),
        sleep=lambda s: None,
    )
    with pytest.raises(TransientConnectorError, match="429"):
        connector.send(command())


def test_only_the_configured_instance_and_command_go_to_xero() -> None:
    connector, stand_in = wired()
    publisher = InMemoryEventPublisher()
    router = VendorCommandRouter(EventBusConnector(publisher), {("erp-us", "CreateInvoice"): connector})
    router.send(command(target="erp-eu"))
    router.send(
        ConnectorCommand(
            target="erp-us", name="UpsertBillingSchedule", idempotency_key="k", payload={}, correlation_id="c"
        )
    )
    assert [e.detail_type for e in publisher.published] == ["CreateInvoiceRequested", "UpsertBillingScheduleRequested"]
    assert stand_in.invoices == {}
    router.send(command())
    assert len(stand_in.invoices) == 1


def test_an_instance_without_exactly_one_tenant_is_refused() -> None:
    registry = VendorRegistry(
        {"erp/xero": {"api_base_url": f"{XERO}/api.xro/2.0", "erp_instance": "erp-us"}},
        secrets=Secrets(XeroStandIn()),
        transport=InProcessTransport({}),
    )
    with pytest.raises(VendorConfigurationError, match="tenant_ids"):
        registry.command_routes()
