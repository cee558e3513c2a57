"""Outbound to Xero: the hub's `CreateInvoice` command becomes a draft sales invoice, upserted by reference.

Documentation followed (read 2026-11-29):
- Invoices: https://developer.xero.com/documentation/api/accounting/invoices :
  `GET /Invoices?where=Reference=="..."` filters; `PUT /Invoices` creates
  `{"Invoices": [{"Type": "ACCREC", "Contact": {"Name"}, "Reference", "CurrencyCode",
  "Date", "DueDate", "Status": "DRAFT", "LineAmountTypes": "Exclusive",
  "LineItems": [{"Description", "Quantity", "UnitAmount", "AccountCode"}]}]}`; a contact
  given by `Name` is matched by name (created when there is none). Amounts are JSON numbers.
- Idempotency: the `Idempotency-Key` header on PUT/POST/PATCH (Xero SDK release notes,
  XeroAPI/xero-python 1.26.0): a retried create with the same key creates nothing new.
- Errors: a validation failure answers 400 `{"ErrorNumber": 10, "Type": "ValidationException",
  "Message", "Elements": [{"ValidationErrors": [{"Message"}]}]}`; limits as in `xero.py`.

Upsert by external id: the proposal id is the invoice's `Reference` and the idempotency key.
The command first looks the reference up; an invoice already there (not voided or deleted)
is the receipt, so a retried post cannot raise a second invoice even past the idempotency
key's lifetime. The invoice is raised as a DRAFT: finance approves it in Xero, whose
webhook then brings `invoice.posted` back (`xero.py`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from billbridge.adapters.vendors.vendor_api_client import VendorApiClient, VendorRefusedError
from billbridge.adapters.vendors.xero import TENANT_HEADER
from billbridge.app.ports import ConnectorCommand, ConnectorReceipt, TransientConnectorError
from billbridge.app.vendor_adapters import VendorUnavailableError

CREATE_INVOICE = "CreateInvoice"
DEFAULT_SALES_ACCOUNT = "200"
INACTIVE_STATUSES = ("VOIDED", "DELETED")


def draft_invoice(payload: Mapping[str, Any], *, account_code: str, invoice_date: str) -> dict[str, Any]:
    """The Xero invoice for the hub's invoice payload (pure; amounts stay Decimal)."""
    lines = []
    for line in payload["lines"]:
        quantity, amount = Decimal(line["quantity"]), Decimal(line["amount"])
        rate = None if line.get("rate") is None else Decimal(line["rate"])
        exact = rate is not None and quantity * rate == amount
        lines.append(
            {
                "Description": f"{line['description']} ({line['kind']} {line['ref']})",
                "Quantity": quantity if exact else Decimal("1"),
                "UnitAmount": rate if exact else amount,
                "AccountCode": account_code,
            }
        )
    return {
        "Type": "ACCREC",
        "Contact": {"Name": payload["customer_id"]},
        "Reference": payload["proposal_id"],
        "CurrencyCode": payload["currency"],
        "Date": invoice_date,
        "DueDate": invoice_date,
        "Status": "DRAFT",
        "LineAmountTypes": "Exclusive",
        "LineItems": lines,
    }


class XeroInvoiceConnector:
    """A Connector for one ERP instance kept in Xero (`CreateInvoice` only)."""

    def __init__(self, client: VendorApiClient, *, tenant_id: str, account_code: str = DEFAULT_SALES_ACCOUNT) -> None:
        self._client = client
        self._tenant = tenant_id
        self._account_code = account_code

    def send(self, command: ConnectorCommand) -> ConnectorReceipt:
        if command.name != CREATE_INVOICE:
            return ConnectorReceipt(accepted=False, detail=f"xero: no command {command.name}")
        proposal_id = str(command.payload["proposal_id"])
        headers = {TENANT_HEADER: self._tenant}
        try:
            existing = self._client.get_json("Invoices?where=" + quote(f'Reference=="{proposal_id}"'), headers=headers)
            for invoice in (existing or {}).get("Invoices") or []:
                if invoice.get("Status") not in INACTIVE_STATUSES:
                    return ConnectorReceipt(accepted=True, reference=str(invoice["InvoiceID"]), detail="already raised")
            document = draft_invoice(
                command.payload, account_code=self._account_code, invoice_date=_invoice_date(command.payload)
            )
            created = self._client.put_json(
                "Invoices", {"Invoices": [document]}, headers=headers | {"Idempotency-Key": command.idempotency_key}
            )
        except VendorRefusedError as refused:
            detail = f"xero refused the invoice ({refused}): {validation_messages(refused.body)}"
            return ConnectorReceipt(accepted=False, detail=detail)
        except VendorUnavailableError as failure:
            raise TransientConnectorError(str(failure)) from failure
        (invoice,) = created["Invoices"]
        return ConnectorReceipt(accepted=True, reference=str(invoice["InvoiceID"]), detail="raised as a draft")


def _invoice_date(payload: Mapping[str, Any]) -> str:
    """The last day of the billed period (`YYYY-MM`): the invoice date the period's run stands for."""
    import calendar

    year, month = (int(part) for part in str(payload["period"]).split("-")[:2])
    return f"{year:04d}-{month:02d}-{calendar.monthrange(year, month)[1]:02d}"


def validation_messages(body: bytes) -> str:
    """The messages of a Xero ValidationException answer, joined."""
    try:
        document = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace")
    messages = [
        error.get("Message", "")
        for element in document.get("Elements") or []
        for error in element.get("ValidationErrors") or []
    ]
    return "; ".join(m for m in messages if m) or str(document.get("Message") or "validation failed")
