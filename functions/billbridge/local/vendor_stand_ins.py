"""Local stand-ins for the vendors' APIs, served as their documentation describes them.

Used by the tests and by `billbridge demo --vendors`. Each stand-in is a plain
function of `(method, path, headers, body) -> (status, headers, body)` over an
in-memory store, so the tests can call it in process (`InProcessTransport`, no
sockets) and the demo can serve it over HTTP (`VendorStandInServer`).

- Xero (https://developer.xero.com/documentation/api/accounting/invoices,
  .../guides/oauth2/limits/, .../guides/oauth2/custom-connections/):
  `POST /connect/token` (client credentials, HTTP Basic) answers
  `{"access_token", "expires_in": 1800, "token_type": "Bearer"}`;
  `GET /api.xro/2.0/Invoices/{InvoiceID}` with `Authorization: Bearer` and
  `xero-tenant-id` answers `{"Id", "Status": "OK", "ProviderName", "DateTimeUTC",
  "Invoices": [...]}`, 404 for an unknown invoice, 401 without a valid token or
  tenant, and 429 with `Retry-After` and `X-Rate-Limit-Problem: minute` past its
  per-minute limit. It also signs webhook payloads (`x-xero-signature`) for them.
- NetSuite (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_157909186990.html,
  section_156414087576.html, section_0210111448.html): `POST
  /services/rest/query/v1/suiteql?limit=&offset=` (needs `Prefer: transient`)
  answers `{"links", "count", "hasMore", "items", "offset", "totalResults"}`;
  `GET /services/rest/record/v1/invoice/{id}` and `/currency/{id}` answer records;
  errors use NetSuite's `{"type", "title", "status", "o:errorDetails": [{"detail",
  "o:errorCode"}]}`; past its request budget it answers 429. The stand-in does
  not run SQL: it understands the one query shape the NetSuite adapter sends
  (transactions of type CustInvc after a (lastmodifieddate, id) cursor, in that
  order) and refuses any other with 400. Its OAuth 2.0 token endpoint (section_162755359851.html,
  section_162790605110.html) takes `POST /services/rest/auth/oauth2/v1/token` with
  `grant_type=client_credentials`, `client_assertion_type=...jwt-bearer` and a client assertion
  signed (PS256) with the private key of the mapped certificate (`kid` = Certificate ID, `iss` =
  client id, `aud` = the endpoint, `exp` within 60 minutes of `iat`), and answers
  `{"access_token", "expires_in": 3600, "token_type": "bearer"}` or 400 `invalid_client`/`invalid_grant`.
- Salesforce (https://developer.salesforce.com/docs/platform/api-rest/guide/resources-query.html,
  .../dome-query.html): `POST /services/oauth2/token` (client credentials, form-encoded client id
  and secret) answers `{"access_token", "instance_url", "token_type": "Bearer", "issued_at"}`;
  `GET /services/data/v62.0/query?q=` answers `{"totalSize", "done", "nextRecordsUrl"?, "records":
  [{"attributes": {"type", "url"}, ...}]}` with relationship fields nested, splitting a result over
  `batch_size` records behind a query locator; errors are `[{"message", "errorCode"}]` (401
  INVALID_SESSION_ID, 400 MALFORMED_QUERY, 403 REQUEST_LIMIT_EXCEEDED past its request budget). It
  does not run SOQL: it understands the query shape the Salesforce adapter sends (Accounts after a
  (SystemModstamp, Id) cursor, in that order, with a LIMIT) and refuses any other.
- Kantata OX (https://developer.kantata.com/tag/Time-Entries/, .../tag/Expenses/,
  .../tag/Stories/, .../tag/Story-State-Changes): `GET /api/v1/time_entries|expenses|stories`
  with `approved`, `updated_after`, `include=role`, `all_on_account`, `page`, `per_page` (at
  most 200) and `GET /api/v1/story_state_changes?story_id=` answer Kantata's list format
  `{"count", "meta", "results": [{"key", "id"}], "<collection>": {id: {...}}}`; 401 without its
  bearer token, 429 past its request budget (no Retry-After, as documented), errors as
  `{"errors": [{"type", "message"}]}`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from billbridge.adapters.connectors.http_transport import HttpResponse

Answer = tuple[int, dict[str, str], bytes]
JSON = {"Content-Type": "application/json"}


def _json(status: int, document: Any, headers: Mapping[str, str] | None = None) -> Answer:
    return status, {**JSON, **dict(headers or {})}, _encode_decimal_json(document)


def _encode_decimal_json(document: Any) -> bytes:
    """JSON whose numbers keep their exact decimal text (what the vendor's API sends)."""
    text = json.dumps(document, default=lambda v: f"__dec__{v}" if isinstance(v, Decimal) else str(v))
    return re.sub(r'"__dec__(-?[0-9.]+)"', r"\1", text).encode("utf-8")


class RateLimit:
    """At most `per_window` calls per `window_seconds` (a sliding window)."""

    def __init__(self, per_window: int, window_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_window = per_window
        self.window = window_seconds
        self._clock = clock
        self._calls: list[float] = []
        self.refused = 0

    def admit(self) -> float | None:
        """None when the call may go; else seconds until it may."""
        now = self._clock()
        self._calls = [t for t in self._calls if now - t < self.window]
        if len(self._calls) >= self.per_window:
            self.refused += 1
            return max(0.0, self.window - (now - self._calls[0]))
        self._calls.append(now)
        return None


# --- Xero ----------------------------------------------------------------------------------------


@dataclass
class XeroStandIn:
    tenant_id: str = "c2cc9b6e-9458-4c7d-93cc-f02b81b0594f"
    client_id: str = "XERO-CLIENT-LOCAL"
    client_secret: str = "xero-client-secret-local"
    webhook_key: str = "xero-webhook-key-local"
    calls_per_minute: int = 60
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    requests: list[tuple[str, str]] = field(default_factory=list)
    clock: Callable[[], float] = time.monotonic
    idempotent_answers: dict[str, Answer] = field(default_factory=dict)
    sequence: int = 0

    def __post_init__(self) -> None:
        self.limit = RateLimit(self.calls_per_minute, 60.0, self.clock)
        self._lock = threading.Lock()

    def add_invoice(self, invoice: dict[str, Any]) -> None:
        with self._lock:
            self.invoices[invoice["InvoiceID"]] = invoice

    def webhook(self, invoice_ids: list[str], *, sequence: int = 1, event_type: str = "UPDATE") -> tuple[bytes, str]:
        """A webhook payload naming invoices (ids only), and its `x-xero-signature`."""
        events = [
            {
                "resourceUrl": f"https://api.xero.com/api.xro/2.0/Invoices/{invoice_id}",
                "resourceId": invoice_id,
                "eventDateUtc": "2026-04-01T09:00:00.000",
                "eventType": event_type,
                "eventCategory": "INVOICE",
                "tenantId": self.tenant_id,
                "tenantType": "ORGANISATION",
            }
            for invoice_id in invoice_ids
        ]
        payload = {
            "events": events,
            "firstEventSequence": sequence,
            "lastEventSequence": sequence + max(0, len(events) - 1),
            "entropy": uuid.uuid4().hex[:20].upper(),
        }
        body = json.dumps(payload).encode("utf-8")
        return body, self.sign(body)

    def intent_to_receive(self) -> tuple[bytes, str]:
        body = json.dumps(
            {"events": [], "lastEventSequence": 0, "firstEventSequence": 0, "entropy": "S0m3r4Nd0mt3xt"}
        ).encode("utf-8")
        return body, self.sign(body)

    def sign(self, body: bytes) -> str:
        return base64.b64encode(hmac.new(self.webhook_key.encode(), body, hashlib.sha256).digest()).decode()

    def __call__(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Answer:
        lowered = {k.lower(): v for k, v in headers.items()}
        route = urlsplit(path).path
        self.requests.append((method, route))
        if method == "POST" and route == "/connect/token":
            return self._token(lowered, body)
        if not route.startswith("/api.xro/2.0/"):
            return _json(404, {"Title": "Not Found"})
        token = lowered.get("authorization", "").removeprefix("Bearer ")
        if token not in self.tokens:
            return _json(
                401, {"Type": None, "Title": "Unauthorized", "Status": 401, "Detail": "AuthenticationUnsuccessful"}
            )
        if lowered.get("xero-tenant-id") != self.tenant_id:
            return _json(
                403, {"Type": None, "Title": "Forbidden", "Status": 403, "Detail": "AuthorizationUnsuccessful"}
            )
        wait = self.limit.admit()
        if wait is not None:
            return _json(
                429,
                {"Title": "Too Many Requests", "Status": 429},
                {"Retry-After": str(max(1, round(wait))), "X-Rate-Limit-Problem": "minute"},
            )
        if route == "/api.xro/2.0/Invoices" and method == "GET":
            return self._find_invoices(parse_qs(urlsplit(path).query))
        if route == "/api.xro/2.0/Invoices" and method in ("PUT", "POST"):
            return self._create_invoices(lowered, body)
        match = re.fullmatch(r"/api\.xro/2\.0/Invoices/(?P<id>[0-9A-Za-z-]+)", route)
        if method == "GET" and match:
            invoice = self.invoices.get(match["id"])
            if invoice is None:
                return _json(
                    404,
                    {"Title": "Not Found", "Status": 404, "Detail": "The resource you're looking for cannot be found"},
                )
            envelope = {
                "Id": str(uuid.uuid4()),
                "Status": "OK",
                "ProviderName": "Billbridge",
                "DateTimeUTC": "/Date(1775034000000)/",
                "Invoices": [invoice],
            }
            return 200, dict(JSON), _encode_decimal_json(envelope)
        return _json(404, {"Title": "Not Found"})

    def find_by_reference(self, reference: str) -> dict[str, Any] | None:
        return next((i for i in self.invoices.values() if i.get("Reference") == reference), None)

    def _envelope(self, invoices: list[dict[str, Any]]) -> Answer:
        document = {
            "Id": str(uuid.uuid4()),
            "Status": "OK",
            "ProviderName": "Billbridge",
            "DateTimeUTC": "/Date(1775034000000)/",
            "Invoices": invoices,
        }
        return 200, dict(JSON), _encode_decimal_json(document)

    def _find_invoices(self, query: Mapping[str, list[str]]) -> Answer:
        where = (query.get("where") or [""])[0]
        match = re.fullmatch(r'Reference=="(?P<reference>[^"]*)"', where)
        if where and match is None:
            return self._validation_error('stand-in: only where=Reference=="..." is understood')
        found = [i for i in self.invoices.values() if match is None or i.get("Reference") == match["reference"]]
        return self._envelope(found)

    def _create_invoices(self, headers: Mapping[str, str], body: bytes) -> Answer:
        key = headers.get("idempotency-key")
        if key and key in self.idempotent_answers:
            return self.idempotent_answers[key]
        try:
            document = json.loads(body, parse_float=Decimal)
            requested = document["Invoices"]
        except (ValueError, KeyError, TypeError):
            return self._validation_error("The request body must hold Invoices")
        created = []
        for invoice in requested:
            problems = []
            if invoice.get("Type") not in ("ACCREC", "ACCPAY"):
                problems.append("Invoice Type must be specified")
            if not (invoice.get("Contact") or {}).get("Name") and not (invoice.get("Contact") or {}).get("ContactID"):
                problems.append("A Contact must be specified for this type of transaction")
            lines = invoice.get("LineItems") or []
            if not lines or any("UnitAmount" not in line or not line.get("Description") for line in lines):
                problems.append("Each line item must have a Description and a UnitAmount")
            if problems:
                return self._validation_error(*problems)
            subtotal = sum((Decimal(str(line.get("Quantity", 1))) * line["UnitAmount"] for line in lines), Decimal(0))
            self.sequence += 1
            stored = xero_invoice(
                invoice_id=str(uuid.uuid4()),
                number=f"INV-{self.sequence:04d}",
                reference=str(invoice.get("Reference") or ""),
                subtotal=subtotal,
                tax=Decimal("0.00"),
                total=subtotal,
                currency=str(invoice.get("CurrencyCode") or "USD"),
                date_ms=_day_ms(str(invoice.get("Date") or "2026-01-01")),
                updated_ms=_day_ms(str(invoice.get("Date") or "2026-01-01")),
                status=str(invoice.get("Status") or "DRAFT"),
            ) | {"Type": invoice["Type"], "LineItems": lines}
            self.add_invoice(stored)
            created.append(stored)
        answer = self._envelope(created)
        if key:
            self.idempotent_answers[key] = answer
        return answer

    @staticmethod
    def _validation_error(*messages: str) -> Answer:
        return _json(
            400,
            {
                "ErrorNumber": 10,
                "Type": "ValidationException",
                "Message": "A validation exception occurred",
                "Elements": [{"ValidationErrors": [{"Message": m} for m in messages]}],
            },
        )

    def _token(self, headers: Mapping[str, str], body: bytes) -> Answer:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        form = parse_qs(body.decode("utf-8"))
        if headers.get("authorization") != f"Basic {expected}" or form.get("grant_type") != ["client_credentials"]:
            return _json(400, {"error": "invalid_client"})
        token = uuid.uuid4().hex
        self.tokens.add(token)
        return _json(
            200,
            {
                "access_token": token,
                "expires_in": 1800,
                "token_type": "Bearer",
                "scope": "accounting.transactions.read",
            },
        )


def _day_ms(day: str) -> int:
    from datetime import UTC, datetime

    return int(datetime.fromisoformat(day[:10]).replace(tzinfo=UTC).timestamp() * 1000)


def xero_invoice(
    *,
    invoice_id: str,
    number: str,
    reference: str,
    subtotal: Decimal,
    tax: Decimal,
    total: Decimal,
    currency: str,
    date_ms: int,
    updated_ms: int,
    status: str = "AUTHORISED",
    payments: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An ACCREC invoice as `GET /Invoices/{id}` answers it (fields the documentation lists)."""
    from datetime import UTC, datetime

    day = datetime.fromtimestamp(date_ms / 1000, tz=UTC).strftime("%Y-%m-%dT00:00:00")
    paid = sum((p["Amount"] for p in payments or []), Decimal("0"))
    return {
        "Type": "ACCREC",
        "InvoiceID": invoice_id,
        "InvoiceNumber": number,
        "Reference": reference,
        "Payments": payments or [],
        "CreditNotes": [],
        "Prepayments": [],
        "Overpayments": [],
        "AmountDue": total - paid,
        "AmountPaid": paid,
        "AmountCredited": Decimal("0.00"),
        "HasErrors": False,
        "IsDiscounted": False,
        "Contact": {"ContactID": "d6a384fb-f46f-41a3-8ac7-b7bc9e0b5efa", "Name": "Globex"},
        "DateString": day,
        "Date": f"/Date({date_ms}+0000)/",
        "DueDateString": day,
        "DueDate": f"/Date({date_ms}+0000)/",
        "Status": status,
        "LineAmountTypes": "Exclusive",
        "LineItems": [],
        "SubTotal": subtotal,
        "TotalTax": tax,
        "Total": total,
        "UpdatedDateUTC": f"/Date({updated_ms}+0000)/",
        "CurrencyCode": currency,
    }


# --- NetSuite ------------------------------------------------------------------------------------

_SUITEQL = re.compile(
    r"^SELECT id, TO_CHAR\(lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS'\) AS modified FROM transaction "
    r"WHERE type = 'CustInvc'"
    r"(?: AND lastmodifieddate >= TO_TIMESTAMP\('(?P<since>[0-9: -]{19})', 'YYYY-MM-DD HH24:MI:SS'\)"
    r"| AND \(lastmodifieddate > TO_TIMESTAMP\('(?P<after>[0-9: -]{19})', 'YYYY-MM-DD HH24:MI:SS'\) OR "
    r"\(lastmodifieddate = TO_TIMESTAMP\('(?P=after)', 'YYYY-MM-DD HH24:MI:SS'\) AND id > (?P<after_id>\d+)\)\))?"
    r" ORDER BY lastmodifieddate, id$"
)


@dataclass
class NetSuiteStandIn:
    account: str = "1234567"
    token: str = "netsuite-token-local"
    requests_per_window: int = 100
    window_seconds: float = 1.0
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Invoice records by internal id (REST record shape, with `lastModifiedDate`)."""
    currencies: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            "1": {"id": "1", "name": "USA", "symbol": "USD"},
            "4": {"id": "4", "name": "Euro", "symbol": "EUR"},
        }
    )
    requests: list[tuple[str, str]] = field(default_factory=list)
    clock: Callable[[], float] = time.monotonic
    client_id: str = "netsuite-m2m-client-local"
    certificate_id: str = "netsuite-certificate-local"
    tokens_issued: int = 0

    def __post_init__(self) -> None:
        self.limit = RateLimit(self.requests_per_window, self.window_seconds, self.clock)
        self._rsa_key: rsa.RSAPrivateKey | None = None

    @property
    def _key(self) -> rsa.RSAPrivateKey:
        """The mapped certificate's key pair, made on first use (tests that never sign pay nothing)."""
        if self._rsa_key is None:
            self._rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return self._rsa_key

    @property
    def private_key_pem(self) -> str:
        """The private key of the certificate mapped to the client (what the integration keeps secret)."""
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii")

    @property
    def base_path(self) -> str:
        return "/services/rest"

    def add_invoice(self, record: dict[str, Any]) -> None:
        self.invoices[str(record["id"])] = record

    def __call__(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Answer:
        lowered = {k.lower(): v for k, v in headers.items()}
        parts = urlsplit(path)
        route = parts.path
        self.requests.append((method, route))
        if method == "POST" and route == "/services/rest/auth/oauth2/v1/token":
            return self._token_endpoint(body)
        if lowered.get("authorization") != f"Bearer {self.token}":
            return self._error(401, "Unauthorized", "Invalid login attempt.", "INVALID_LOGIN")
        if self.limit.admit() is not None:
            return self._error(429, "Too Many Requests", "Request limit exceeded.", "CONCURRENCY_LIMIT_EXCEEDED")
        if method == "POST" and route == "/services/rest/query/v1/suiteql":
            return self._suiteql(lowered, parse_qs(parts.query), body)
        match = re.fullmatch(r"/services/rest/record/v1/(?P<type>invoice|currency)/(?P<id>\d+)", route)
        if method == "GET" and match:
            store = self.invoices if match["type"] == "invoice" else self.currencies
            record = store.get(match["id"])
            if record is None:
                return self._error(
                    404,
                    "Not Found",
                    "The record instance does not exist. Provide a valid record instance ID.",
                    "NONEXISTENT_ID",
                )
            document = self._record(match["type"], record)
            fields = parse_qs(parts.query).get("fields")
            if fields:
                wanted = set(fields[0].split(","))
                document = {k: v for k, v in document.items() if k in wanted or k == "links"}
            return 200, dict(JSON), _encode_decimal_json(document)
        return self._error(404, "Not Found", "The requested resource does not exist.", "NONEXISTENT_ID")

    def _token_endpoint(self, body: bytes) -> Answer:
        form = {k: v[0] for k, v in parse_qs(body.decode("ascii", "replace")).items()}
        if form.get("grant_type") != "client_credentials" or form.get("client_assertion_type") != (
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        ):
            return _json(400, {"error": "unsupported_grant_type"})
        try:
            head, claims, signature = form["client_assertion"].split(".")
            header = json.loads(_b64url_decode(head))
            payload = json.loads(_b64url_decode(claims))
            digest = hashes.SHA256()
            self._key.public_key().verify(
                _b64url_decode(signature),
                f"{head}.{claims}".encode("ascii"),
                padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size),
                digest,
            )
        except (KeyError, ValueError, InvalidSignature):
            return _json(400, {"error": "invalid_grant"})
        if header.get("alg") != "PS256" or header.get("kid") != self.certificate_id:
            return _json(400, {"error": "invalid_client"})
        if payload.get("iss") != self.client_id or not str(payload.get("aud", "")).endswith(
            "/services/rest/auth/oauth2/v1/token"
        ):
            return _json(400, {"error": "invalid_client"})
        scopes = set(str(payload.get("scope", "")).split(","))
        lifetime = int(payload.get("exp", 0)) - int(payload.get("iat", 0))
        if "rest_webservices" not in scopes or not 0 < lifetime <= 3600:
            return _json(400, {"error": "invalid_grant"})
        self.tokens_issued += 1
        return _json(200, {"access_token": self.token, "expires_in": 3600, "token_type": "bearer"})

    def _record(self, kind: str, record: dict[str, Any]) -> dict[str, Any]:
        href = f"https://{self.account}.suitetalk.api.netsuite.com/services/rest/record/v1/{kind}/{record['id']}"
        document = {"links": [{"rel": "self", "href": href}], **record}
        if kind == "invoice":
            currency = self.currencies[str(record["currency"])]
            document["currency"] = {
                "links": [{"rel": "self", "href": href.rsplit("/invoice/", 1)[0] + f"/currency/{currency['id']}"}],
                "id": currency["id"],
                "refName": currency["name"],
            }
            document["lastModifiedDate"] = record["lastModifiedDate"].replace(" ", "T") + "Z"
        return document

    def _suiteql(self, headers: Mapping[str, str], query: Mapping[str, list[str]], body: bytes) -> Answer:
        if headers.get("prefer") != "transient":
            return self._error(
                400, "Bad Request", "The request must include the Prefer: transient header.", "INVALID_HEADER"
            )
        try:
            q = json.loads(body)["q"]
        except (ValueError, KeyError, TypeError):
            return self._error(400, "Bad Request", "Invalid request body: q is required.", "INVALID_CONTENT")
        match = _SUITEQL.match(q)
        if match is None:
            return self._error(
                400, "Bad Request", "Invalid search query. (stand-in: unsupported query shape)", "INVALID_PARAMETER"
            )
        limit = int(query.get("limit", ["1000"])[0])
        offset = int(query.get("offset", ["0"])[0])
        if not 1 <= limit <= 1000 or offset % limit:
            return self._error(400, "Bad Request", "Invalid limit or offset.", "INVALID_PARAMETER")
        rows = sorted(
            ((r["lastModifiedDate"], int(r["id"])) for r in self.invoices.values()),
        )
        if match["since"]:
            rows = [r for r in rows if r[0] >= match["since"]]
        elif match["after"]:
            after, after_id = match["after"], int(match["after_id"])
            rows = [r for r in rows if r[0] > after or (r[0] == after and r[1] > after_id)]
        page = rows[offset : offset + limit]
        base = f"https://{self.account}.suitetalk.api.netsuite.com/services/rest/query/v1/suiteql"
        links = [{"rel": "self", "href": f"{base}?limit={limit}&offset={offset}"}]
        if offset + limit < len(rows):
            links.insert(0, {"rel": "next", "href": f"{base}?limit={limit}&offset={offset + limit}"})
        document = {
            "links": links,
            "count": len(page),
            "hasMore": offset + limit < len(rows),
            "items": [{"links": [], "id": str(record_id), "modified": modified} for modified, record_id in page],
            "offset": offset,
            "totalResults": len(rows),
        }
        return _json(200, document)

    @staticmethod
    def _error(status: int, title: str, detail: str, code: str) -> Answer:
        return _json(
            status,
            {
                "type": f"https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.{status - 399}",
                "title": title,
                "status": status,
                "o:errorDetails": [{"detail": detail, "o:errorCode": code}],
            },
        )


# --- Salesforce ----------------------------------------------------------------------------------

_SOQL = re.compile(
    r"^SELECT (?P<fields>[A-Za-z0-9_., ]+) FROM Account"
    r"(?: WHERE SystemModstamp >= (?P<since>[0-9T:Z-]{20})"
    r"| WHERE SystemModstamp > (?P<after>[0-9T:Z-]{20})"
    r" OR \(SystemModstamp = (?P=after) AND Id > '(?P<after_id>\w+)'\))?"
    r" ORDER BY SystemModstamp, Id LIMIT (?P<limit>\d+)$"
)


@dataclass
class SalesforceStandIn:
    client_id: str = "salesforce-client-local"
    client_secret: str = "salesforce-secret-local"
    token: str = "00Dsalesforce!local-access-token"
    instance: str = "https://billbridge-demo.my.salesforce.com"
    daily_requests: int = 100_000
    """Requests left in the org's rolling 24-hour allocation (Salesforce limits per day, not per second)."""
    batch_size: int = 2000
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Account records by Id (field API names; relationship values as nested objects)."""
    requests: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._locators: dict[str, list[dict[str, Any]]] = {}

    def add_account(self, record: dict[str, Any]) -> None:
        self.accounts[str(record["Id"])] = record

    def __call__(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Answer:
        lowered = {k.lower(): v for k, v in headers.items()}
        parts = urlsplit(path)
        self.requests.append((method, parts.path))
        if method == "POST" and parts.path == "/services/oauth2/token":
            form = {k: v[0] for k, v in parse_qs(body.decode("ascii", "replace")).items()}
            if form.get("grant_type") != "client_credentials":
                return _json(400, {"error": "unsupported_grant_type", "error_description": "grant type not supported"})
            if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
                return _json(400, {"error": "invalid_client", "error_description": "invalid client credentials"})
            return _json(
                200,
                {
                    "access_token": self.token,
                    "instance_url": self.instance,
                    "id": f"{self.instance}/id/00Dlocal/005local",
                    "token_type": "Bearer",
                    "issued_at": "1775000000000",
                    "signature": "local",
                },
            )
        if lowered.get("authorization") != f"Bearer {self.token}":
            return self._error(401, "Session expired or invalid", "INVALID_SESSION_ID")
        if self.daily_requests <= 0:
            return self._error(403, "TotalRequests Limit exceeded.", "REQUEST_LIMIT_EXCEEDED")
        self.daily_requests -= 1
        locator = re.fullmatch(r"/services/data/v62\.0/query/(?P<locator>[\w-]+)", parts.path)
        if method == "GET" and locator:
            rest = self._locators.pop(locator["locator"], None)
            if rest is None:
                return self._error(400, "invalid query locator", "INVALID_QUERY_LOCATOR")
            return self._batch(rest, total=len(rest))
        if method != "GET" or parts.path != "/services/data/v62.0/query":
            return self._error(404, "The requested resource does not exist", "NOT_FOUND")
        match = _SOQL.match(parse_qs(parts.query).get("q", [""])[0])
        if match is None:
            return self._error(400, "unexpected token (stand-in: unsupported query shape)", "MALFORMED_QUERY")
        fields = [f.strip() for f in match["fields"].split(",")]
        rows = sorted(self.accounts.values(), key=lambda r: (_sf_stamp(r["SystemModstamp"]), r["Id"]))
        if match["since"]:
            rows = [r for r in rows if _sf_stamp(r["SystemModstamp"]) >= match["since"]]
        elif match["after"]:
            after, after_id = match["after"], match["after_id"]
            rows = [
                r
                for r in rows
                if _sf_stamp(r["SystemModstamp"]) > after
                or (_sf_stamp(r["SystemModstamp"]) == after and r["Id"] > after_id)
            ]
        rows = rows[: int(match["limit"])]
        return self._batch([self._select(r, fields) for r in rows], total=len(rows))

    def _batch(self, rows: list[dict[str, Any]], *, total: int) -> Answer:
        page, rest = rows[: self.batch_size], rows[self.batch_size :]
        document: dict[str, Any] = {"totalSize": total, "done": not rest, "records": page}
        if rest:
            locator = f"01gLOCAL{len(self._locators) + 1:08d}-{self.batch_size}"
            self._locators[locator] = rest
            document["nextRecordsUrl"] = f"/services/data/v62.0/query/{locator}"
        return _json(200, document)

    def _select(self, record: Mapping[str, Any], fields: list[str]) -> dict[str, Any]:
        selected: dict[str, Any] = {
            "attributes": {"type": "Account", "url": f"/services/data/v62.0/sobjects/Account/{record['Id']}"}
        }
        for name in fields:
            if "." in name:
                relation, child = name.split(".", 1)
                related = record.get(relation)
                if related is None:
                    selected[relation] = None
                else:
                    selected.setdefault(relation, {"attributes": {"type": "Account"}})[child] = related.get(child)
            else:
                selected[name] = record.get(name)
        return selected

    @staticmethod
    def _error(status: int, message: str, code: str) -> Answer:
        return _json(status, [{"message": message, "errorCode": code}])


def _sf_stamp(value: str) -> str:
    """`2026-03-01T10:00:00.000+0000` as `2026-03-01T10:00:00Z` (the stand-in keeps UTC stamps)."""
    return value[:19] + "Z"


# --- Kantata OX ----------------------------------------------------------------------------------


@dataclass
class KantataStandIn:
    token: str = "kantata-token-local"
    requests_per_window: int = 100
    window_seconds: float = 1.0
    time_entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    expenses: dict[str, dict[str, Any]] = field(default_factory=dict)
    stories: dict[str, dict[str, Any]] = field(default_factory=dict)
    story_state_changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    roles: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self.limit = RateLimit(self.requests_per_window, self.window_seconds, self.clock)

    def __call__(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Answer:
        lowered = {k.lower(): v for k, v in headers.items()}
        parts = urlsplit(path)
        self.requests.append((method, parts.path))
        if lowered.get("authorization") != f"Bearer {self.token}":
            return self._error(401, "oauth", "You must be logged in to access this resource.")
        if self.limit.admit() is not None:
            return self._error(429, "system", "Too many requests. Please retry your request after a small delay.")
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        collections = {
            "/api/v1/time_entries": "time_entries",
            "/api/v1/expenses": "expenses",
            "/api/v1/stories": "stories",
            "/api/v1/story_state_changes": "story_state_changes",
        }
        collection = collections.get(parts.path)
        if method != "GET" or collection is None:
            return self._error(404, "system", "The resource you requested could not be found.")
        try:
            page = int(query.get("page", "1"))
            per_page = int(query.get("per_page", "20"))
        except ValueError:
            return self._error(400, "validation", "page and per_page must be integers")
        if page < 1 or not 1 <= per_page <= 200:
            return self._error(400, "validation", "per_page must be between 1 and 200")
        rows = list(getattr(self, collection).values())
        if collection == "story_state_changes":
            if "story_id" not in query:
                return self._error(400, "validation", "story_id is required")
            rows = [r for r in rows if r["story_id"] == query["story_id"]]
            rows.sort(key=lambda r: (r["created_at"], int(r["id"])), reverse=query.get("order") == "created_at:desc")
        else:
            if "approved" in query:
                rows = [r for r in rows if r.get("approved", True)]
            if "updated_after" in query:
                since = _utc(query["updated_after"])
                rows = [r for r in rows if _utc(r["updated_at"]) > since]
            rows.sort(key=lambda r: int(r["id"]))
        page_rows = rows[(page - 1) * per_page : page * per_page]
        page_count = max(1, -(-len(rows) // per_page))
        document: dict[str, Any] = {
            "count": len(rows),
            "meta": {"count": len(rows), "page_count": page_count, "page_number": page, "page_size": per_page},
            "results": [{"key": collection, "id": str(r["id"])} for r in page_rows],
            collection: {
                str(r["id"]): {k: v for k, v in r.items() if k != "approved" or collection != "expenses"}
                for r in page_rows
            },
        }
        if collection == "time_entries" and "role" in query.get("include", "").split(","):
            ids = {str(r.get("role_id")) for r in page_rows if r.get("role_id") is not None}
            document["roles"] = {i: self.roles[i] for i in sorted(ids) if i in self.roles}
        elif collection == "time_entries":
            for entry in document[collection].values():
                entry.pop("role_id", None)
        return _json(200, document)

    @staticmethod
    def _error(status: int, kind: str, message: str) -> Answer:
        return _json(status, {"errors": [{"type": kind, "message": message}]})


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _utc(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


# --- transports ----------------------------------------------------------------------------------

StandIn = Callable[[str, str, Mapping[str, str], bytes], Answer]


class InProcessTransport:
    """An HttpTransport that answers from stand-ins in this process (no sockets): `{origin: stand_in}`."""

    def __init__(self, stand_ins: Mapping[str, StandIn]) -> None:
        self._stand_ins = dict(stand_ins)

    def request(
        self, method: str, url: str, *, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> HttpResponse:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        stand_in = self._stand_ins[origin]
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        status, answer_headers, answer = stand_in(method, path, headers, body)
        return HttpResponse(status=status, headers=answer_headers, body=answer)


class VendorStandInServer(ThreadingHTTPServer):
    """One stand-in served over HTTP on 127.0.0.1 (port 0: any free port)."""

    daemon_threads = True

    def __init__(self, stand_in: StandIn, host: str = "127.0.0.1", port: int = 0) -> None:
        self.stand_in = stand_in
        super().__init__((host, port), _StandInHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start_in_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        return thread


class _StandInHandler(BaseHTTPRequestHandler):
    server: VendorStandInServer
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, payload = self.server.stand_in(self.command, self.path, dict(self.headers.items()), body)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, format: str, *args: Any) -> None:
        return None


# --- DocuSign (the sending side: Connect posts to us) ---------------------------------------------


@dataclass
class DocuSignConnectStandIn:
    """Composes and signs JSON SIM `envelope-completed` messages as DocuSign Connect sends them
    (https://developers.docusign.com/platform/webhooks/connect/json-sim-event-model), with the
    contract terms in envelope custom fields and signer tabs under the default labels of
    `DocuSignFieldMap`."""

    hmac_key: str = "docusign-connect-hmac-key-local"
    account_id: str = "8a1f3c2e-5b7d-4e90-a1b2-c3d4e5f60718"

    def completed_envelope(self, contract_event: Mapping[str, Any]) -> tuple[bytes, dict[str, str]]:
        data = dict(contract_event["data"])
        envelope_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"docusign:{data['contract_id']}:{data['version']}"))
        custom = [
            ("Contract ID", data["contract_id"]),
            ("Contract Version", str(data["version"])),
            ("Customer ID", data.get("customer_id")),
            ("Legal Entity", data.get("legal_entity")),
        ]
        if contract_event["type"] == "contract.terminated":
            custom.append(("Contract Action", "terminate"))
        text_tabs: list[tuple[str, Any]] = [
            ("Effective Date", data.get("effective_date")),
            ("Tax Jurisdiction", data.get("tax_jurisdiction")),
            ("Start Date", data.get("start_date")),
            ("End Date", data.get("end_date")),
            ("Cost Centers", ", ".join(data.get("cost_centers") or []) or None),
            (
                "Billable Expense Categories",
                ", ".join((data.get("expense_policy") or {}).get("billable_categories") or []) or None,
            ),
            ("Billing Contact Name", (data.get("billing_contact") or {}).get("name")),
            ("Billing Contact Email", (data.get("billing_contact") or {}).get("email")),
        ]
        number_tabs: list[tuple[str, Any]] = [
            ("Cap Amount", data.get("cap_amount")),
            ("Retainer Amount", data.get("retainer_amount")),
            ("Expense Markup", (data.get("expense_policy") or {}).get("markup_pct")),
        ]
        for rate in data.get("rate_card") or []:
            label = f"Rate/Role/{rate['role']}" if "role" in rate else f"Rate/Resource/{rate['resource_id']}"
            number_tabs.append((label, rate["rate"]))
        for milestone in data.get("milestones") or []:
            text_tabs.append((f"Milestone/{milestone['milestone_id']}/Name", milestone["name"]))
            number_tabs.append((f"Milestone/{milestone['milestone_id']}/Amount", milestone["amount"]))
        for fee in data.get("recurring_fees") or []:
            key = f"Fee/{fee['fee_id']}"
            text_tabs += [
                (f"{key}/Description", fee["description"]),
                (f"{key}/Frequency", fee.get("frequency")),
                (f"{key}/Start Date", fee.get("start_date")),
                (f"{key}/End Date", fee.get("end_date")),
            ]
            number_tabs.append((f"{key}/Amount", fee["amount"]))

        def tabs(items: list[tuple[str, Any]], kind: str) -> list[dict[str, str]]:
            return [
                {
                    "tabLabel": label,
                    "value": str(value),
                    "documentId": "1",
                    "pageNumber": "1",
                    "recipientId": "1",
                    "tabType": kind,
                }
                for label, value in items
                if value not in (None, "")
            ]

        completed = str(contract_event.get("time") or "2026-01-01T09:00:00Z")
        message = {
            "event": "envelope-completed",
            "apiVersion": "v2.1",
            "uri": f"/restapi/v2.1/accounts/{self.account_id}/envelopes/{envelope_id}",
            "retryCount": 0,
            "configurationId": 10418521,
            "generatedDateTime": completed,
            "data": {
                "accountId": self.account_id,
                "userId": "f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9",
                "envelopeId": envelope_id,
                "envelopeSummary": {
                    "status": "completed",
                    "emailSubject": f"Please sign: {data['contract_id']} v{data['version']}",
                    "envelopeId": envelope_id,
                    "completedDateTime": completed,
                    "customFields": {
                        "textCustomFields": [
                            {
                                "fieldId": str(10567852 + i),
                                "name": name,
                                "show": "true",
                                "required": "false",
                                "value": str(value),
                            }
                            for i, (name, value) in enumerate(custom)
                            if value not in (None, "")
                        ],
                        "listCustomFields": [
                            {
                                "fieldId": "10567900",
                                "name": "Currency",
                                "show": "true",
                                "required": "true",
                                "value": data["currency"],
                                "listItems": ["USD", "EUR", "GBP"],
                            }
                        ]
                        if data.get("currency")
                        else [],
                    },
                    "recipients": {
                        "signers": [
                            {
                                "name": "Dana Whitfield",
                                "email": "dana.whitfield@globex.example",
                                "recipientId": "1",
                                "routingOrder": "1",
                                "status": "completed",
                                "recipientType": "signer",
                                "tabs": {
                                    "textTabs": tabs(text_tabs, "text"),
                                    "numberTabs": tabs(number_tabs, "number"),
                                },
                            }
                        ],
                        "recipientCount": "1",
                    },
                },
            },
        }
        body = json.dumps(message).encode("utf-8")
        signature = base64.b64encode(hmac.new(self.hmac_key.encode(), body, hashlib.sha256).digest()).decode()
        return body, {
            "Content-Type": "application/json",
            "X-DocuSign-Signature-1": signature,
            "X-Authorization-Digest": "HMACSHA256",
        }
