"""NetSuite (ERP, no general webhooks): posted invoices read by polling, from a durable cursor.

Documentation followed (read 2026-11-29):
- SuiteQL through REST web services:
  https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_157909186990.html and
  https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_158394344595.html :
  `POST {REST}/query/v1/suiteql?limit=L&offset=O` with `Prefer: transient` and body
  `{"q": "SELECT ..."}`; a paged query needs a unique, unambiguous ORDER BY.
- Collection paging: https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_156414087576.html :
  answers `{"links": [...], "count", "hasMore", "items": [...], "offset", "totalResults"}`,
  at most 1000 per page; SuiteQL returns at most 100,000 rows per query.
- Retrieving an invoice: https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_0210111448.html :
  `GET {REST}/record/v1/invoice/{id}` answers the record (`tranId`, `tranDate`,
  `externalId`, `subtotal`, `taxTotal`, `total`, `lastModifiedDate`, and
  `currency: {"id", "refName"}` where refName is the currency's name, not its ISO
  code: the code is the `symbol` of `GET {REST}/record/v1/currency/{id}`).
- Concurrency governance: https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/bridgehead_1525252812.html :
  requests beyond the account's concurrency limit are refused (REST answers 429);
  the poller makes one request at a time, paced below `requests_per_second`.

Keyset paging: rows ordered by (lastmodifieddate, id), each page strictly after the
previous page's last row; the first page of a poll starts `overlap_seconds` before
the saved cursor, so a row committed late is not missed and a row read twice is a
duplicate. The event id is `netsuite-invoice-{id}-{lastModified}` (object + version):
the same version read by two polls is the same delivery; a new version is a new event
(the hub absorbs a second `invoice.posted` of the same invoice). An invoice is the
hub's when its `externalId` holds the proposal id (the hub upserts by external id).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from billbridge.adapters.vendors.vendor_api_client import NotFoundError, VendorApiClient
from billbridge.adapters.vendors.vendor_json import decimal_text, require
from billbridge.app.vendor_adapters import (
    PollCursor,
    PolledPage,
    Skipped,
    VendorPayloadError,
    VendorUnavailableError,
)

MAX_PAGE_SIZE = 1000
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_RECORD_ID = re.compile(r"^\d{1,18}$")
INVOICE_FIELDS = "tranId,tranDate,externalId,subtotal,taxTotal,total,currency,lastModifiedDate"


def invoices_modified_since(after: PollCursor | None, *, overlap_seconds: int, first_page: bool) -> str:
    """The SuiteQL of one page: invoices in (lastmodifieddate, id) order after the cursor."""
    columns = "SELECT id, TO_CHAR(lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS modified FROM transaction"
    where = "WHERE type = 'CustInvc'"
    if after is not None:
        if not _TIMESTAMP.match(after.modified) or not _RECORD_ID.match(after.record_id):
            raise ValueError(f"a corrupt cursor: {after}")
        if first_page:
            start = datetime.strptime(after.modified, TIMESTAMP_FORMAT) - timedelta(seconds=overlap_seconds)
            where += (
                f" AND lastmodifieddate >= TO_TIMESTAMP('{start.strftime(TIMESTAMP_FORMAT)}', 'YYYY-MM-DD HH24:MI:SS')"
            )
        else:
            stamp = f"TO_TIMESTAMP('{after.modified}', 'YYYY-MM-DD HH24:MI:SS')"
            where += f" AND (lastmodifieddate > {stamp} OR (lastmodifieddate = {stamp} AND id > {after.record_id}))"
    return f"{columns} {where} ORDER BY lastmodifieddate, id"


class NetSuiteInvoicePolling:
    source = "erp"
    vendor = "netsuite"

    def __init__(self, client: VendorApiClient, *, overlap_seconds: int = 300) -> None:
        self._client = client
        self._overlap = overlap_seconds
        self._currency_codes: dict[str, str] = {}

    def read_page(self, after: PollCursor | None, page_size: int, *, first_page: bool = False) -> PolledPage:
        limit = max(1, min(page_size, MAX_PAGE_SIZE))
        before = self._client.requests_made
        query = invoices_modified_since(after, overlap_seconds=self._overlap, first_page=first_page)
        answer = self._client.post_json(
            f"query/v1/suiteql?limit={limit}&offset=0", {"q": query}, headers={"Prefer": "transient"}
        )
        if not isinstance(answer, dict) or not isinstance(answer.get("items"), list):
            raise VendorUnavailableError("netsuite: the SuiteQL answer has no items list")
        events: list[dict[str, Any]] = []
        skipped: list[Skipped] = []
        cursor: PollCursor | None = None
        for index, row in enumerate(answer["items"]):
            record_id = str(require(row, "id", (str, int)))
            modified = require(row, "modified")
            if not _RECORD_ID.match(record_id) or not _TIMESTAMP.match(modified):
                raise VendorPayloadError(f"items[{index}] has no usable id and modified", field_path=f"items[{index}]")
            cursor = PollCursor(modified=modified, record_id=record_id)
            try:
                record = self._client.get_json(f"record/v1/invoice/{record_id}?fields={INVOICE_FIELDS}")
            except NotFoundError:
                skipped.append(Skipped(f"invoice {record_id}", "deleted since it was listed"))
                continue
            currency = self._currency_code(record)
            mapped = map_invoice_record(record_id, modified, record, currency)
            if isinstance(mapped, Skipped):
                skipped.append(mapped)
            else:
                events.append(mapped)
        return PolledPage(
            events=tuple(events),
            skipped=tuple(skipped),
            next_cursor=cursor,
            has_more=bool(answer.get("hasMore")),
            requests=self._client.requests_made - before,
        )

    def _currency_code(self, record: Mapping[str, Any]) -> str:
        currency = record.get("currency")
        currency_id = str(currency.get("id")) if isinstance(currency, dict) and currency.get("id") else ""
        if not _RECORD_ID.match(currency_id):
            raise VendorPayloadError("currency.id is required", field_path="currency.id")
        if currency_id not in self._currency_codes:
            try:
                document = self._client.get_json(f"record/v1/currency/{currency_id}?fields=symbol")
            except NotFoundError:
                raise VendorPayloadError(f"currency {currency_id} is unknown", field_path="currency.id") from None
            self._currency_codes[currency_id] = str(require(document, "symbol"))
        return self._currency_codes[currency_id]


def map_invoice_record(
    record_id: str, modified: str, record: Mapping[str, Any], currency_code: str
) -> dict[str, Any] | Skipped:
    """One invoice record (REST record API shape) to `invoice.posted` (pure)."""
    proposal_id = str(record.get("externalId") or "").strip()
    if not proposal_id:
        return Skipped(f"invoice {record_id}", "no externalId: not raised from a billing proposal")
    number = require(record, "tranId")
    posted_on = require(record, "tranDate")[:10]
    version = modified.replace("-", "").replace(":", "").replace(" ", "T")
    return {
        "specversion": "1.0",
        "id": f"netsuite-invoice-{record_id}-{version}",
        "source": "erp",
        "type": "invoice.posted",
        "time": modified.replace(" ", "T") + "Z",
        "subject": number,
        "datacontenttype": "application/json",
        "data": {
            "proposal_id": proposal_id,
            "invoice_number": number,
            "posting_date": posted_on,
            "subtotal": decimal_text(record.get("subtotal"), "subtotal"),
            "tax": decimal_text(record.get("taxTotal"), "taxTotal"),
            "total": decimal_text(record.get("total"), "total"),
            "currency": currency_code,
        },
    }
