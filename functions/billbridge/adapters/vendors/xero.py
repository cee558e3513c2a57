"""Xero (ERP, webhooks with thin events): invoice and payment feedback through the Accounting API.

Documentation followed (read 2026-11-29):
- Webhooks overview: https://developer.xero.com/documentation/webhooks/overview : the
  payload is `{"events": [{"resourceUrl", "resourceId", "eventDateUtc", "eventType",
  "eventCategory", "tenantId", "tenantType"}], "lastEventSequence", "firstEventSequence",
  "entropy"}`; categories INVOICE and CONTACT; the events carry ids only.
- Configuring your server / intent to receive:
  https://developer.xero.com/documentation/webhooks/configuring-your-server :
  `x-xero-signature` = base64(HMAC-SHA256(webhook key, raw body)); answer 200 with no
  body within 5 s when it matches, 401 when it does not; the intent-to-receive
  requests carry `"events": []`. Xero retries a failed delivery for up to 24 hours.
- Invoices: https://developer.xero.com/documentation/api/accounting/invoices :
  `GET /api.xro/2.0/Invoices/{InvoiceID}` with the `xero-tenant-id` header answers
  `{"Invoices": [{"Type", "InvoiceID", "InvoiceNumber", "Reference", "Payments": [{"PaymentID",
  "Date", "Amount"}], "Status", "SubTotal", "TotalTax", "Total", "CurrencyCode",
  "DateString", "Date", "UpdatedDateUTC"}]}` (shape as in the SDK's response examples,
  XeroAPI/xero-node `src/__tests__/unit/response-examples/invoice.response.examples.ts`);
  dates are `/Date(milliseconds+0000)/`. `PUT`/`POST /Invoices` create or update.
- Limits: https://developer.xero.com/documentation/guides/oauth2/limits/#api-rate-limits :
  60 calls a minute and 5 concurrent per tenant, 5,000 a day; 429 with `Retry-After`.
- Custom connections (client credentials): https://developer.xero.com/documentation/guides/oauth2/custom-connections/ ,
  token endpoint `https://identity.xero.com/connect/token`.

Mapping: an accounts-receivable invoice (`Type` ACCREC) whose `Reference` holds the
hub's proposal id (the hub sets it when it raises the invoice) and whose status is
AUTHORISED or PAID is `invoice.posted`; each of its `Payments` is `payment.applied`.
Drafts, other types and invoices the hub did not raise are reported as skipped.
Event ids derive from the object and its version (`UpdatedDateUTC` for the
invoice, the payment id for a payment), so a re-delivered webhook is a duplicate.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from billbridge.adapters.vendors.vendor_api_client import NotFoundError, VendorApiClient
from billbridge.adapters.vendors.vendor_json import decimal_text, parse_vendor_json, require, verify_base64_hmac
from billbridge.app.vendor_adapters import (
    Skipped,
    Translation,
    VendorDelivery,
    VendorPayloadError,
)

SIGNATURE_HEADER = "x-xero-signature"
TENANT_HEADER = "xero-tenant-id"
POSTED_STATUSES = ("AUTHORISED", "PAID")
MAX_EVENTS_PER_DELIVERY = 100
REQUESTS_PER_SECOND = 0.9
"""Just under the documented 60 calls a minute per tenant."""
_MS_DATE = re.compile(r"^/Date\((?P<ms>-?\d+)(?P<offset>[+-]\d{4})?\)/$")


class XeroWebhookAdapter:
    source = "erp"
    vendor = "xero"
    success_status = 200
    empty_success_body = True

    def __init__(self, client: VendorApiClient, *, tenant_ids: Sequence[str] = ()) -> None:
        self._client = client
        self._tenants = frozenset(tenant_ids)

    def verify(self, delivery: VendorDelivery, secrets: Sequence[str]) -> None:
        headers = {k.lower(): v for k, v in delivery.headers.items()}
        presented = [headers[SIGNATURE_HEADER]] if SIGNATURE_HEADER in headers else []
        verify_base64_hmac(body=delivery.body, signatures=presented, secrets=secrets, header=SIGNATURE_HEADER)

    def translate(self, delivery: VendorDelivery) -> Translation:
        payload = parse_vendor_json(delivery.body, "Xero webhook payload")
        if not isinstance(payload, dict):
            raise VendorPayloadError("a Xero webhook payload is a JSON object")
        events = payload.get("events")
        if events is None:
            raise VendorPayloadError("events is required", field_path="events")
        if not isinstance(events, list):
            raise VendorPayloadError("events must be a list", field_path="events")
        if not events:
            return Translation(handshake=True)
        if len(events) > MAX_EVENTS_PER_DELIVERY:
            raise VendorPayloadError(f"at most {MAX_EVENTS_PER_DELIVERY} events per delivery", field_path="events")
        canonical: list[dict[str, Any]] = []
        skipped: list[Skipped] = []
        fetched: set[tuple[str, str]] = set()
        for index, event in enumerate(events):
            path = f"events[{index}]"
            if not isinstance(event, dict):
                raise VendorPayloadError(f"{path} must be an object", field_path=path)
            category = event.get("eventCategory")
            resource_id = event.get("resourceId")
            tenant_id = event.get("tenantId")
            for name, value in (("eventCategory", category), ("resourceId", resource_id), ("tenantId", tenant_id)):
                if not isinstance(value, str) or not value:
                    raise VendorPayloadError(f"{path}.{name} is required", field_path=f"{path}.{name}")
            if category != "INVOICE":
                skipped.append(Skipped(f"{category} {resource_id}", "only INVOICE events carry billing feedback"))
                continue
            if self._tenants and tenant_id not in self._tenants:
                skipped.append(Skipped(f"INVOICE {resource_id}", f"tenant {tenant_id} is not configured"))
                continue
            if (tenant_id, resource_id) in fetched:
                continue  # CREATE then UPDATE of one invoice in one delivery: read it once, as it is now
            fetched.add((tenant_id, resource_id))
            invoice = self.fetch_invoice(tenant_id, resource_id)
            if invoice is None:
                skipped.append(Skipped(f"INVOICE {resource_id}", "Xero answered 404 (deleted since)"))
                continue
            mapped, reasons = map_invoice(invoice)
            canonical.extend(mapped)
            skipped.extend(reasons)
        return Translation(events=tuple(canonical), skipped=tuple(skipped))

    def fetch_invoice(self, tenant_id: str, invoice_id: str) -> dict[str, Any] | None:
        """The thin event's object, read through the Accounting API."""
        if not re.fullmatch(r"[0-9A-Za-z-]{1,64}", invoice_id):
            raise VendorPayloadError("resourceId is not a Xero id", field_path="events[].resourceId")
        try:
            document = self._client.get_json(f"Invoices/{invoice_id}", headers={TENANT_HEADER: tenant_id})
        except NotFoundError:
            return None
        invoices = (document or {}).get("Invoices") if isinstance(document, dict) else None
        if not isinstance(invoices, list) or len(invoices) != 1 or not isinstance(invoices[0], dict):
            raise VendorPayloadError(
                f"Xero's answer for invoice {invoice_id} has no single Invoices[0]", field_path="Invoices"
            )
        return invoices[0]


def map_invoice(invoice: dict[str, Any]) -> tuple[list[dict[str, Any]], list[Skipped]]:
    """A Xero invoice (as the API answers it) to canonical feedback events (pure)."""
    invoice_id = require(invoice, "InvoiceID")
    reference = f"INVOICE {invoice_id}"
    if invoice.get("Type") != "ACCREC":
        return [], [Skipped(reference, f"type {invoice.get('Type')!r} is not a sales invoice (ACCREC)")]
    proposal_id = str(invoice.get("Reference") or "").strip()
    if not proposal_id:
        return [], [Skipped(reference, "no Reference: not raised from a billing proposal")]
    status = require(invoice, "Status")
    if status not in POSTED_STATUSES:
        return [], [Skipped(reference, f"status {status} is not posted (AUTHORISED or PAID)")]
    number = require(invoice, "InvoiceNumber")
    currency = require(invoice, "CurrencyCode")
    updated = xero_datetime(require(invoice, "UpdatedDateUTC"), "UpdatedDateUTC")
    posted_on = invoice_date(invoice)
    events: list[dict[str, Any]] = [
        _event(
            f"xero-invoice-{invoice_id}-{int(updated.timestamp() * 1000)}",
            "invoice.posted",
            updated,
            number,
            {
                "proposal_id": proposal_id,
                "invoice_number": number,
                "posting_date": posted_on,
                "subtotal": decimal_text(invoice.get("SubTotal"), "SubTotal"),
                "tax": decimal_text(invoice.get("TotalTax"), "TotalTax"),
                "total": decimal_text(invoice.get("Total"), "Total"),
                "currency": currency,
            },
        )
    ]
    for index, payment in enumerate(invoice.get("Payments") or []):
        path = f"Payments[{index}]"
        if not isinstance(payment, dict):
            raise VendorPayloadError(f"{path} must be an object", field_path=path)
        payment_id = require(payment, "PaymentID")
        paid = xero_datetime(require(payment, "Date"), f"{path}.Date")
        events.append(
            _event(
                f"xero-payment-{payment_id}",
                "payment.applied",
                paid,
                number,
                {
                    "invoice_number": number,
                    "payment_id": payment_id,
                    "amount": decimal_text(payment.get("Amount"), f"{path}.Amount"),
                    "currency": currency,
                    "paid_on": paid.date().isoformat(),
                },
            )
        )
    return events, []


def invoice_date(invoice: dict[str, Any]) -> str:
    text = invoice.get("DateString")
    if isinstance(text, str) and re.match(r"^\d{4}-\d{2}-\d{2}", text):
        return text[:10]
    return xero_datetime(require(invoice, "Date"), "Date").date().isoformat()


def xero_datetime(value: str, path: str) -> datetime:
    """Xero's `/Date(1518652800000+0000)/` (milliseconds since the epoch, UTC)."""
    match = _MS_DATE.match(value.strip())
    if match is None:
        raise VendorPayloadError(f"{path} must be a Xero date like /Date(1518652800000+0000)/", field_path=path)
    return datetime.fromtimestamp(int(match["ms"]) / 1000, tz=UTC)


def xero_date_value(moment: datetime) -> str:
    return f"/Date({int(moment.timestamp() * 1000)}+0000)/"


def _event(event_id: str, event_type: str, moment: datetime, subject: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "erp",
        "type": event_type,
        "time": moment.isoformat().replace("+00:00", "Z"),
        "subject": subject,
        "datacontenttype": "application/json",
        "data": data,
    }
