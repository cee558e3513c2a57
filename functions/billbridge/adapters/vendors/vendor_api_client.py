"""The HTTP side of a vendor's system API: bearer token, pacing under its rate limit, 429 and retries.

Shared by the vendor clients (Xero, NetSuite). Requests are paced by a token
bucket set below the vendor's documented limit; a 429 is waited out when its
`Retry-After` fits the remaining budget (else VendorUnavailableError, and the
delivery or poll is retried later); a 401 refreshes the token once; other
5xx answers and network failures are retried with backoff inside the budget.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from billbridge.adapters.connectors.http_connector import TokenBucket, retry_after_seconds
from billbridge.adapters.connectors.http_transport import (
    HttpResponse,
    HttpTransport,
    HttpTransportError,
    require_secure_url,
)
from billbridge.app.vendor_adapters import VendorUnavailableError

_log = logging.getLogger(__name__)


class AccessToken(Protocol):
    def token(self) -> str: ...

    def invalidate(self) -> None: ...


class StaticToken:
    """A token issued out of band (a NetSuite integration token, a test stand-in's token)."""

    def __init__(self, value: str) -> None:
        if not value:
            raise ValueError("an API token is required")
        self._value = value

    def token(self) -> str:
        return self._value

    def invalidate(self) -> None:
        return None


class NotFoundError(LookupError):
    """The vendor answered 404 for an object."""


class VendorRefusedError(Exception):
    """The vendor refused a write as invalid (400 or 422): retrying the same request will not help."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body


@dataclass(frozen=True, slots=True)
class CallBudget:
    max_attempts: int = 4
    max_wait_seconds: float = 20.0
    timeout_seconds: float = 10.0


class VendorApiClient:
    def __init__(
        self,
        *,
        vendor: str,
        base_url: str,
        transport: HttpTransport,
        token: AccessToken,
        requests_per_second: float,
        burst: float = 1.0,
        budget: CallBudget | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.vendor = vendor
        self._base = require_secure_url(base_url, f"{vendor} api_base_url").rstrip("/")
        self._transport = transport
        self._token = token
        self._bucket = TokenBucket(rate=requests_per_second, capacity=burst, clock=clock, sleep=sleep)
        self._budget = budget or CallBudget()
        self._sleep = sleep
        self._wall_clock = wall_clock
        self.requests_made = 0
        self.throttled = 0
        self.waited_seconds = 0.0

    def get_json(self, path: str, headers: Mapping[str, str] | None = None) -> Any:
        return self._call("GET", path, b"", headers or {})

    def post_json(self, path: str, document: Any, headers: Mapping[str, str] | None = None) -> Any:
        body = json.dumps(document, separators=(",", ":")).encode("utf-8")
        return self._call("POST", path, body, {"Content-Type": "application/json", **(headers or {})})

    def put_json(self, path: str, document: Any, headers: Mapping[str, str] | None = None) -> Any:
        return self._call(
            "PUT", path, dumps_with_decimals(document), {"Content-Type": "application/json", **(headers or {})}
        )

    def _call(self, method: str, path: str, body: bytes, headers: Mapping[str, str]) -> Any:
        url = f"{self._base}/{path.lstrip('/')}"
        waited = 0.0
        refreshed = False
        for attempt in range(1, self._budget.max_attempts + 1):
            self.waited_seconds += self._bucket.acquire()
            try:
                token = self._token.token()
            except Exception as failure:
                raise VendorUnavailableError(f"{self.vendor}: no access token ({failure})") from None
            request_headers = {"Accept": "application/json", "Authorization": f"Bearer {token}", **headers}
            try:
                self.requests_made += 1
                response = self._transport.request(
                    method, url, body=body, headers=request_headers, timeout=self._budget.timeout_seconds
                )
            except HttpTransportError as failure:
                delay = self._backoff(attempt)
                if attempt == self._budget.max_attempts or waited + delay > self._budget.max_wait_seconds:
                    raise VendorUnavailableError(f"{self.vendor}: {failure}") from None
                waited += delay
                self._pause(delay)
                continue
            if 200 <= response.status < 300:
                return _decode(response, self.vendor)
            if response.status == 404:
                raise NotFoundError(f"{self.vendor}: {method} {path} answered 404")
            if response.status == 401 and not refreshed:
                refreshed = True
                self._token.invalidate()
                continue
            if response.status == 429 or response.status >= 500:
                self.throttled += response.status == 429
                delay = retry_after_seconds(response.header("Retry-After"), self._wall_clock())
                delay = self._backoff(attempt) if delay is None else delay
                if attempt == self._budget.max_attempts or waited + delay > self._budget.max_wait_seconds:
                    raise VendorUnavailableError(
                        f"{self.vendor}: HTTP {response.status} (retry after {delay:.0f} s exceeds the budget)"
                    )
                _log.info("%s answered %s; waiting %.1f s", self.vendor, response.status, delay)
                waited += delay
                self._pause(delay)
                continue
            if response.status in (400, 422) and method != "GET":
                raise VendorRefusedError(response.status, response.body)
            raise VendorUnavailableError(
                f"{self.vendor}: {method} {path} answered HTTP {response.status}: "
                f"{response.body[:200].decode('utf-8', 'replace')}"
            )
        raise VendorUnavailableError(f"{self.vendor}: no answer after {self._budget.max_attempts} attempts")

    def _pause(self, seconds: float) -> None:
        self.waited_seconds += seconds
        self._sleep(seconds)

    @staticmethod
    def _backoff(attempt: int) -> float:
        return float(min(8.0, 0.5 * 2 ** (attempt - 1)) * (0.5 + random.random() / 2))


def _decode(response: HttpResponse, vendor: str) -> Any:
    if not response.body:
        return None
    try:
        return json.loads(response.body.decode("utf-8"), parse_float=Decimal)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise VendorUnavailableError(f"{vendor}: the API answered with a body that is not JSON") from None


_DECIMAL_MARKER = "\u0000decimal:"


def dumps_with_decimals(document: Any) -> bytes:
    """JSON whose Decimal values are JSON numbers with their exact digits (never via float)."""
    text = json.dumps(
        document,
        separators=(",", ":"),
        default=lambda v: f"{_DECIMAL_MARKER}{v}" if isinstance(v, Decimal) else str(v),
    )
    return re.sub(r'"\\u0000decimal:(-?[0-9.Ee+-]+)"', r"\1", text).encode("utf-8")


def token_endpoint_document(
    vendor: str, transport: HttpTransport, token_url: str, form: Mapping[str, str], *, timeout: float
) -> dict[str, Any]:
    """POST an OAuth 2.0 token request (`application/x-www-form-urlencoded`, RFC 6749 section
    4.4.2) and answer the endpoint's JSON document when it answered 200. An unreachable endpoint
    or any other answer is VendorUnavailableError naming the vendor, the status and the
    endpoint's `error` (RFC 6749 section 5.2), so the delivery or poll is retried later."""
    from urllib.parse import urlencode

    try:
        response = transport.request(
            "POST",
            token_url,
            body=urlencode(form).encode("ascii"),
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
            timeout=timeout,
        )
    except HttpTransportError as error:
        raise VendorUnavailableError(f"{vendor}: token endpoint unreachable ({error})") from None
    document: Any
    try:
        document = json.loads(response.body.decode("utf-8")) if response.body else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        document = {}
    if response.status != 200 or not isinstance(document, dict):
        error = document.get("error") if isinstance(document, dict) else None
        raise VendorUnavailableError(
            f"{vendor}: token endpoint answered {response.status}" + (f" ({error})" if error else "")
        )
    return document
