"""The demo engagement from vendor-shaped payloads: `billbridge demo --vendors`.

Contracts arrive as DocuSign Connect messages (`POST /webhooks/clm/docusign`);
the ERP answers as the products would: invoices of the US entity are raised by
the hub in Xero as drafts (`PUT /Invoices`, upserted by reference), finance
approves them there, and Xero sends a thin webhook (`POST /webhooks/erp/xero`)
that the adapter follows by reading the invoice (and its payments) through the
Xero API; invoices
of the German entity are raised in NetSuite, which has no webhooks and is polled
(`erp/netsuite`, as the local scheduler would). The vendors' APIs are the local
stand-ins (`vendor_stand_ins`), served over HTTP. Timesheets, expenses and
milestones still arrive as canonical events (no PSA adapter yet).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from billbridge import topology
from billbridge.local.vendor_stand_ins import (
    DocuSignConnectStandIn,
    KantataStandIn,
    NetSuiteStandIn,
    VendorStandInServer,
    XeroStandIn,
    xero_invoice,
)

XERO_INSTANCE = "erp-us"
NETSUITE_INSTANCE = "erp-eu"
NETSUITE_CURRENCY_IDS = {"USD": "1", "EUR": "4"}


def _ms(day: str, hour: int = 9) -> int:
    return int(datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC).timestamp() * 1000)


class VendorWorld:
    """The stand-ins of the demo's vendors, served on 127.0.0.1 while the context is open."""

    def __init__(self) -> None:
        self.docusign = DocuSignConnectStandIn()
        self.xero = XeroStandIn()
        self.netsuite = NetSuiteStandIn()
        self.kantata = KantataStandIn()
        """Served for `billbridge local poll psa/kantata` (the demo's own timesheets stay canonical)."""
        self._servers: list[VendorStandInServer] = []
        self._netsuite_records = 0
        self.deliveries: list[tuple[str, int]] = []

    def __enter__(self) -> VendorWorld:
        self._xero_server = VendorStandInServer(self.xero)
        self._netsuite_server = VendorStandInServer(self.netsuite)
        self._kantata_server = VendorStandInServer(self.kantata)
        for server in (self._xero_server, self._netsuite_server, self._kantata_server):
            server.start_in_background()
            self._servers.append(server)
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def secrets(self) -> dict[str, list[str]]:
        return {
            "clm/docusign": [self.docusign.hmac_key],
            "erp/xero": [self.xero.webhook_key],
            "api:erp/xero": [self.xero.client_id, self.xero.client_secret],
            "api:psa/kantata": [self.kantata.token],
            "api:erp/netsuite": [
                self.netsuite.client_id,
                self.netsuite.certificate_id,
                self.netsuite.private_key_pem,
            ],
        }

    def configuration(self) -> dict[str, dict[str, Any]]:
        return {
            "clm/docusign": {},
            "erp/xero": {
                "api_base_url": f"{self._xero_server.url}/api.xro/2.0",
                "token_url": f"{self._xero_server.url}/connect/token",
                "tenant_ids": [self.xero.tenant_id],
                "erp_instance": XERO_INSTANCE,
            },
            "erp/netsuite": {
                "api_base_url": f"{self._netsuite_server.url}/services/rest",
                "page_size": 100,
                "max_pages": 20,
                "requests_per_second": 20,
            },
            "psa/kantata": {
                "api_base_url": f"{self._kantata_server.url}/api/v1",
                "workspaces": {"41001": {"contract_id": "SOW-GLX-2026-01", "cost_center": "CC-DELIVERY"}},
                "users": {"5011": "EMP-11"},
                "milestones": {"88100": "ONB-1"},
                "requests_per_second": 20,
            },
        }

    def environment(self) -> dict[str, str]:
        return {topology.ENV_VENDOR_ADAPTERS: json.dumps(self.configuration())}

    # -- inbound --------------------------------------------------------------------------------------

    def deliver_contract(self, hub_url: str, event: dict[str, Any]) -> int:
        body, headers = self.docusign.completed_envelope(event)
        return self._post(f"{hub_url}/webhooks/clm/docusign", body, headers)

    def answer_as_erp(self, stack: Any, hub_url: str, invoices: list[dict[str, Any]], *, pay: bool) -> int:
        """Raise every proposed invoice in its ERP (and pay it when `pay`), as `billbridge demo` does
        with canonical events; the hub hears of them by Xero's webhook or by polling NetSuite."""
        answered = 0
        polled = False
        for invoice in invoices:
            if invoice["status"] != "proposed":
                continue
            answered += 1
            number = "INV-" + invoice["proposal_id"].replace("SOW-", "")
            if invoice["erp_instance"] == NETSUITE_INSTANCE:
                self._raise_in_netsuite(invoice, number)
                polled = True
            else:
                invoice_id = self._raise_in_xero(invoice, number, pay=pay)
                body, signature = self.xero.webhook([invoice_id], sequence=answered)
                self._post(
                    f"{hub_url}/webhooks/erp/xero",
                    body,
                    {"x-xero-signature": signature, "Content-Type": "application/json"},
                )
        if polled:
            with stack.unit_of_work():
                stack.poll_vendor("erp/netsuite")
                stack.drain()
        return answered

    def _raise_in_xero(self, invoice: dict[str, Any], number: str, *, pay: bool) -> str:
        """Finance approves (and numbers) the draft the hub raised in Xero, and records the payment."""
        draft = self.xero.find_by_reference(invoice["proposal_id"])
        if draft is None:
            raise LookupError(f"the hub raised no Xero invoice for {invoice['proposal_id']}")
        invoice_id = str(draft["InvoiceID"])
        subtotal = draft["SubTotal"]
        tax = Decimal(invoice["tax"])
        total = subtotal + tax
        payments = (
            [
                {
                    "PaymentID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"xero-payment:{number}")),
                    "Date": f"/Date({_ms('2026-04-20', 0)}+0000)/",
                    "Amount": total,
                    "Reference": f"Wire {number}",
                    "HasAccount": False,
                    "HasValidationErrors": False,
                }
            ]
            if pay
            else []
        )
        self.xero.add_invoice(
            xero_invoice(
                invoice_id=invoice_id,
                number=number,
                reference=invoice["proposal_id"],
                subtotal=subtotal,
                tax=tax,
                total=total,
                currency=invoice["currency"],
                date_ms=_ms("2026-04-01", 0),
                updated_ms=_ms("2026-04-20" if pay else "2026-04-01"),
                status="PAID" if pay else "AUTHORISED",
                payments=payments,
            )
        )
        return invoice_id

    def _raise_in_netsuite(self, invoice: dict[str, Any], number: str) -> None:
        self._netsuite_records += 1
        record_id = 1200 + self._netsuite_records
        self.netsuite.add_invoice(
            {
                "id": str(record_id),
                "tranId": number,
                "tranDate": "2026-04-01",
                "externalId": invoice["proposal_id"],
                "subtotal": Decimal(invoice["subtotal"]),
                "taxTotal": Decimal(invoice["tax"]),
                "total": Decimal(invoice["total"]),
                "currency": NETSUITE_CURRENCY_IDS[invoice["currency"]],
                "lastModifiedDate": f"2026-04-01 09:{self._netsuite_records:02d}:00",
            }
        )

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status = int(response.status)
        except urllib.error.HTTPError as error:
            status = int(error.code)
        self.deliveries.append((url.rsplit("/webhooks/", 1)[-1], status))
        return status
