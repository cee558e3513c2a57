"""Salesforce (CRM): Accounts become `customer.upserted`, read by a SOQL poll on SystemModstamp.

Documentation followed (read 2026-11-29):
- Query: https://developer.salesforce.com/docs/platform/api-rest/guide/resources-query.html and
  https://developer.salesforce.com/docs/platform/api-rest/guide/dome-query.html :
  `GET /services/data/vXX.X/query?q=<SOQL>` answers `{"totalSize", "done", "nextRecordsUrl"?,
  "records": [{"attributes": {"type", "url"}, <fields>}]}`, up to 2,000 records at a time;
  when `done` is false, `nextRecordsUrl` (`/services/data/vXX.X/query/<locator>`) is requested
  with no parameters for the rest. A relationship field (`Parent.AccountNumber`) comes back
  nested (`"Parent": {"attributes": {...}, "AccountNumber": ...}` or `null`).
- Dates in WHERE:
  https://developer.salesforce.com/docs/platform/salesforce-soql-sosl/guide/sforce-api-calls-soql-select-dateformats.html
  dateTime values are UTC, written unquoted as `YYYY-MM-DDThh:mm:ssZ`.
- Client credentials flow (server to server), as in
  https://developer.salesforce.com/docs/atlas.en-us.262.0.chatterapi.meta/chatterapi/quickstart_connecting.htm :
  `POST https://<MyDomain>.my.salesforce.com/services/oauth2/token` with
  `grant_type=client_credentials&client_id=...&client_secret=...` answers
  `{"access_token", "instance_url", "token_type": "Bearer", "issued_at", ...}` (no lifetime:
  the token is kept until the API answers 401, then requested again).

Outbound Messages (SOAP notifications carrying ids) would need a SOAP listener and a fetch
per id; a SOQL poll on `SystemModstamp` reads the same accounts with one documented REST call
per page and no public endpoint, so the adapter polls. Keyset paging on
`(SystemModstamp, Id)`: `WHERE SystemModstamp > T OR (SystemModstamp = T AND Id > 'X')
ORDER BY SystemModstamp, Id LIMIT n`. The first page of a caught-up poll starts
`overlap_seconds` earlier (a record committed late is read again, a duplicate).

Which Account field holds what is configuration (`SalesforceAccountFields`): a tenant keeps
its customer number in `AccountNumber` or a custom field, its tax jurisdiction and payment
terms in custom fields, its ERP customer ids in one field per ERP instance. The customer's
`version` is `SystemModstamp` in epoch seconds (each change a new, higher version) and its
`effective_date` the day of that change, unless the tenant names an effective-date field.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

from billbridge.adapters.connectors.http_transport import HttpTransport, require_secure_url
from billbridge.adapters.vendors.vendor_api_client import VendorApiClient, token_endpoint_document
from billbridge.adapters.vendors.vendor_json import require
from billbridge.app.vendor_adapters import PollCursor, PolledPage, Skipped, VendorPayloadError, VendorUnavailableError

API_VERSION = "v62.0"
MAX_PAGE_SIZE = 2000
CURSOR_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_CURSOR = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_ACCOUNT_ID = re.compile(r"^[A-Za-z0-9]{15,18}$")
_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)?$")
PARTS = ("street", "city", "postal_code", "country")
ACTIVE_WORDS = {"active", "yes", "true"}
INACTIVE_WORDS = {"inactive", "no", "false"}


@dataclass(frozen=True, slots=True)
class SalesforceAccountFields:
    """Where the tenant keeps each customer term on the Account (API names; configuration, not code)."""

    customer_id: str = "AccountNumber"
    name: str = "Name"
    status: str | None = None
    """A field reading active/inactive (or a checkbox); absent: every account is active."""
    parent_customer_id: str | None = "Parent.AccountNumber"
    bill_to_street: str = "BillingStreet"
    bill_to_city: str = "BillingCity"
    bill_to_postal_code: str = "BillingPostalCode"
    bill_to_country: str = "BillingCountryCode"
    ship_to_street: str | None = "ShippingStreet"
    ship_to_city: str | None = "ShippingCity"
    ship_to_postal_code: str | None = "ShippingPostalCode"
    ship_to_country: str | None = "ShippingCountryCode"
    tax_jurisdiction: str = "Tax_Jurisdiction__c"
    currency: str = "CurrencyIsoCode"
    payment_net_days: str = "Payment_Terms_Days__c"
    effective_date: str | None = None
    psa_client_id: str | None = None
    erp_customer_ids: Mapping[str, str] = field(default_factory=dict)
    """ERP instance -> the Account field holding the customer's id in that ERP."""

    @classmethod
    def from_config(cls, settings: Mapping[str, Any]) -> SalesforceAccountFields:
        given = dict(settings.get("fields") or {})
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(given) - known)
        if unknown:
            raise ValueError(f"crm/salesforce: unknown fields {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        for name, value in given.items():
            names = value.values() if isinstance(value, Mapping) else [value]
            for api_name in names:
                if api_name is not None and (not isinstance(api_name, str) or not _FIELD.match(api_name)):
                    raise ValueError(f"crm/salesforce: fields.{name} must be a field API name")
        return cls(**given)

    def selected(self) -> list[str]:
        names = [
            getattr(self, n)
            for n in self.__dataclass_fields__
            if n != "erp_customer_ids" and isinstance(getattr(self, n), str)
        ]
        names.extend(self.erp_customer_ids.values())
        return sorted({"Id", "SystemModstamp", *names})


def account_query(
    fields: SalesforceAccountFields, after: PollCursor | None, *, overlap_seconds: int, first_page: bool, limit: int
) -> str:
    """The SOQL of one page: Accounts in (SystemModstamp, Id) order after the cursor."""
    where = ""
    if after is not None:
        if not _CURSOR.match(after.modified) or not _ACCOUNT_ID.match(after.record_id):
            raise ValueError(f"a corrupt cursor: {after}")
        if first_page and after.caught_up:
            start = datetime.strptime(after.modified, CURSOR_FORMAT) - timedelta(seconds=overlap_seconds)
            where = f" WHERE SystemModstamp >= {start.strftime(CURSOR_FORMAT)}"
        else:
            stamp = after.modified
            where = f" WHERE SystemModstamp > {stamp} OR (SystemModstamp = {stamp} AND Id > '{after.record_id}')"
    return f"SELECT {', '.join(fields.selected())} FROM Account{where} ORDER BY SystemModstamp, Id LIMIT {limit}"


def _value(record: Mapping[str, Any], api_name: str | None) -> Any:
    if api_name is None:
        return None
    current: Any = record
    for part in api_name.split("."):
        if not isinstance(current, Mapping):
            return None
        current = current.get(part)
    return current


def _text(record: Mapping[str, Any], api_name: str | None) -> str:
    value = _value(record, api_name)
    return value.strip() if isinstance(value, str) else ""


def modstamp(value: Any) -> str:
    """Salesforce's `2026-03-01T10:00:00.000+0000` as the cursor's UTC text."""
    if not isinstance(value, str):
        raise VendorPayloadError("SystemModstamp must be a dateTime", field_path="SystemModstamp")
    text = value.strip()
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text).replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise VendorPayloadError("SystemModstamp must be a dateTime", field_path="SystemModstamp") from None
    if moment.tzinfo is None:
        raise VendorPayloadError("SystemModstamp must carry its offset", field_path="SystemModstamp")
    return moment.astimezone(UTC).strftime(CURSOR_FORMAT)


def _address(record: Mapping[str, Any], fields: SalesforceAccountFields, kind: str) -> dict[str, str] | None:
    """`bill_to` or `ship_to` from the four Account fields the tenant names for it (None without a country)."""
    street, city, postal, country = (getattr(fields, f"{kind}_{part}") for part in PARTS)
    code = _text(record, country).upper()
    if not code:
        return None
    lines = _text(record, street).splitlines()
    return {
        "line1": lines[0] if lines else "",
        "city": _text(record, city),
        "postal_code": _text(record, postal),
        "country": code,
    }


def _required(message: str, api_name: str) -> VendorPayloadError:
    return VendorPayloadError(f"{api_name} {message}", field_path=api_name)


def map_account(record: Mapping[str, Any], fields: SalesforceAccountFields) -> dict[str, Any] | Skipped:
    """One Account (REST query record) to `customer.upserted` (pure)."""
    account_id = require(record, "Id")
    reference = f"account {account_id}"
    customer_id = _text(record, fields.customer_id)
    if not customer_id:
        return Skipped(reference, f"no customer number in {fields.customer_id}: not a billing customer")
    stamp = modstamp(record.get("SystemModstamp"))
    bill_to = _address(record, fields, "bill_to")
    if bill_to is None:
        raise _required("is required (a billing country)", fields.bill_to_country)
    jurisdiction = _text(record, fields.tax_jurisdiction)
    if not jurisdiction:
        raise VendorPayloadError(f"{fields.tax_jurisdiction} is required", field_path=fields.tax_jurisdiction)
    currency = _text(record, fields.currency).upper()
    if not currency:
        raise VendorPayloadError(f"{fields.currency} is required", field_path=fields.currency)
    days = _value(record, fields.payment_net_days)
    if isinstance(days, bool) or not isinstance(days, int | Decimal) or Decimal(days) != Decimal(days).to_integral():
        raise _required("must be a whole number of days", fields.payment_net_days)
    status = "active"
    if fields.status is not None:
        raw = _value(record, fields.status)
        word = str(raw).strip().lower() if raw is not None else ""
        if word in INACTIVE_WORDS:
            status = "inactive"
        elif word not in ACTIVE_WORDS:
            raise VendorPayloadError(f"{fields.status} must read active or inactive", field_path=fields.status)
    name = _text(record, fields.name)
    if not name:
        raise VendorPayloadError(f"{fields.name} is required", field_path=fields.name)
    effective = stamp[:10]
    if fields.effective_date is not None:
        effective = _text(record, fields.effective_date) or effective
    data: dict[str, Any] = {
        "customer_id": customer_id,
        "version": int(datetime.strptime(stamp, CURSOR_FORMAT).replace(tzinfo=UTC).timestamp()),
        "effective_date": effective,
        "name": name,
        "status": status,
        "bill_to": bill_to,
        "tax_profile": {"jurisdiction": jurisdiction},
        "currency": currency,
        "payment_terms": {"net_days": int(days)},
        "crm_account_id": account_id,
    }
    parent = _text(record, fields.parent_customer_id)
    if parent:
        data["parent_customer_id"] = parent
    ship_to = _address(record, fields, "ship_to")
    if ship_to is not None:
        data["ship_to"] = ship_to
    erp_ids = [
        {"erp_instance": instance, "customer_id": _text(record, api_name)}
        for instance, api_name in sorted(fields.erp_customer_ids.items())
        if _text(record, api_name)
    ]
    if erp_ids:
        data["erp_customer_ids"] = erp_ids
    psa = _text(record, fields.psa_client_id)
    if psa:
        data["psa_client_id"] = psa
    return {
        "specversion": "1.0",
        "id": f"salesforce-account-{account_id}-{stamp.replace('-', '').replace(':', '')}",
        "source": "crm",
        "type": "customer.upserted",
        "time": stamp,
        "subject": customer_id,
        "datacontenttype": "application/json",
        "data": data,
    }


class SalesforceAccountPolling:
    source = "crm"
    vendor = "salesforce"

    def __init__(self, client: VendorApiClient, fields: SalesforceAccountFields, *, overlap_seconds: int = 300) -> None:
        self._client = client
        self._fields = fields
        self._overlap = overlap_seconds

    def read_page(self, after: PollCursor | None, page_size: int, *, first_page: bool = False) -> PolledPage:
        limit = max(1, min(page_size, MAX_PAGE_SIZE))
        before = self._client.requests_made
        query = account_query(self._fields, after, overlap_seconds=self._overlap, first_page=first_page, limit=limit)
        answer = self._client.get_json(f"query?{urlencode({'q': query}, quote_via=quote)}")
        if not isinstance(answer, dict) or not isinstance(answer.get("records"), list):
            raise VendorPayloadError("the query answer has no records list", field_path="records")
        records = list(answer["records"])
        # LIMIT caps the page; a locator (done: false) would only split it further: follow it
        while answer.get("done") is False and isinstance(answer.get("nextRecordsUrl"), str):
            answer = self._client.get_json(answer["nextRecordsUrl"].split(f"/{API_VERSION}/", 1)[-1])
            records.extend(answer.get("records") or [])
        events: list[dict[str, Any]] = []
        skipped: list[Skipped] = []
        refused: list[str] = []
        cursor: PollCursor | None = None
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                raise VendorPayloadError(f"records[{index}] is not an object", field_path=f"records[{index}]")
            account_id = str(record.get("Id") or "")
            if not _ACCOUNT_ID.match(account_id):
                raise VendorPayloadError(f"records[{index}].Id is not an Account id", field_path=f"records[{index}].Id")
            cursor = PollCursor(modified=modstamp(record.get("SystemModstamp")), record_id=account_id)
            try:
                mapped = map_account(record, self._fields)
            except VendorPayloadError as bad:
                refused.append(f"account {account_id}: {bad.message} (field {bad.field_path})")
                continue
            (skipped if isinstance(mapped, Skipped) else events).append(mapped)  # type: ignore[arg-type]
        return PolledPage(
            events=tuple(events),
            skipped=tuple(skipped),
            next_cursor=cursor,
            has_more=len(records) >= limit,
            requests=self._client.requests_made - before,
            refused=tuple(refused),
        )


class SalesforceClientCredentials:
    """An AccessToken: the client credentials flow of an external client app (form-encoded client id and secret)."""

    def __init__(self, *, token_url: str, credentials: Callable[[], tuple[str, str]], transport: HttpTransport) -> None:
        self._token_url = require_secure_url(token_url, "token_url")
        self._credentials = credentials
        self._transport = transport
        self._lock = threading.Lock()
        self._token: str | None = None
        self.token_requests = 0

    def token(self) -> str:
        with self._lock:
            if self._token is None:
                self._token = self._fetch()
            return self._token

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def _fetch(self) -> str:
        client_id, client_secret = self._credentials()
        form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
        self.token_requests += 1
        document = token_endpoint_document("salesforce", self._transport, self._token_url, form, timeout=10.0)
        if not document.get("access_token"):
            raise VendorUnavailableError("salesforce: token endpoint answered 200 without an access_token")
        return str(document["access_token"])
