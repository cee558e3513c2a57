"""The `http` connector: each command is a signed HTTPS call to the target system's API.

    POST {base_url}/commands/{command name}
    Content-Type: application/json
    Idempotency-Key: <command.idempotency_key>
    X-Correlation-Id: <command.correlation_id>
    webhook-id / webhook-timestamp / webhook-signature   (Standard Webhooks, per-target secret)
    Authorization: Bearer <OAuth token>  or  <api key header>: <key>

Outcomes (a typed `ConnectorReceipt`):
- 2xx: accepted; the reference is the response's `reference` (or `id`, or Location):
  the system's acknowledgement. A 202 without any of them is accepted for later
  processing: the system answers with a `sync.acknowledged` / `sync.refused` event.
- 401: the credentials are refreshed once (token refetched, secret re-read) and the call repeated.
- 408, 425, 429, 5xx, timeouts and connection errors: retried with exponential
  backoff and full jitter, honouring `Retry-After`, within `RetryPolicy`; then
  TransientConnectorError, so the queue or the state machine retries later and,
  in the end, dead-letters the message.
- any other 4xx: a refusal, `ConnectorReceipt(accepted=False, detail=...)`.

A token bucket spaces calls per connector instance (one per Lambda execution
environment). Request and response bodies are never logged: they may hold
customer data.

Configuration (`billbridge.settings.ConnectorSettings`, from the hub's settings): `CONNECTOR_TARGETS` is a
JSON object of non-secret settings per target, `CONNECTOR_SECRETS_ARN` the
Secrets Manager secret of the per-target secrets (connector_credentials.py):

    {"psa": {"base_url": "https://psa.example/api", "auth": "oauth2",
             "token_url": "https://login.example/oauth2/token", "client_id": "billbridge",
             "scopes": ["projects.write"]},
     "erp-us": {"base_url": "https://erp.example/us", "auth": "api_key", "api_key_header": "X-Api-Key"}}
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

from billbridge.adapters.connectors.connector_credentials import (
    ConnectorSecrets,
    CredentialProvider,
    StaticApiKey,
)
from billbridge.adapters.connectors.http_transport import (
    HttpResponse,
    HttpTransport,
    HttpTransportError,
    Urllib3Transport,
)
from billbridge.app.personal_data_in_transit import PersonalDataVault
from billbridge.app.ports import ConnectorCommand, ConnectorReceipt, TransientConnectorError
from billbridge.app.webhook_signature import sign
from billbridge.settings import ConnectorSettings, HubSettings

_log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_DETAIL_CHARS = 300
USER_AGENT = "billbridge-connector/1"


# --- pacing --------------------------------------------------------------------------------------


class TokenBucket:
    """At most `rate` calls per second on average, bursts up to `capacity`."""

    def __init__(
        self,
        *,
        rate: float,
        capacity: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("a token bucket needs rate > 0 and capacity >= 1")
        self._rate = rate
        self._capacity = capacity
        self._clock = clock
        self._sleep = sleep
        self._tokens = capacity
        self._updated = clock()

    def acquire(self) -> float:
        """Take one token, sleeping until one is available; returns the time slept."""
        slept = 0.0
        while True:
            now = self._clock()
            self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
            self._updated = now
            if self._tokens >= 1:
                self._tokens -= 1
                return slept
            wait = (1 - self._tokens) / self._rate
            self._sleep(wait)
            slept += wait


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded retries: `max_attempts` calls in all, and never more than `max_total_delay` asleep.

    The defaults fit the 30-60 s timeouts of the functions that call connectors.
    """

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_total_delay: float = 15.0
    timeout: float = 10.0

    def backoff(self, retry: int, jitter: float) -> float:
        """Full jitter: uniform in [0, min(max_delay, base * 2**retry)]."""
        return float(jitter * min(self.max_delay, self.base_delay * float(2**retry)))


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """A `Retry-After` header (delay-seconds or HTTP-date) as seconds from `now`."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - now)


# --- the connector -------------------------------------------------------------------------------


class UnknownTargetError(LookupError):
    """The command names a target without a configured endpoint."""


@dataclass
class ConnectorEndpoint:
    target: str
    base_url: str
    signing_secret: Callable[[], str]
    credentials: CredentialProvider | None = None
    limiter: TokenBucket | None = None

    def url_for(self, command_name: str) -> str:
        return f"{self.base_url.rstrip('/')}/commands/{quote(command_name, safe='')}"


@dataclass
class HttpConnector:
    endpoints: Mapping[str, ConnectorEndpoint]
    transport: HttpTransport = field(default_factory=Urllib3Transport)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    wall_clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = random.random
    personal_data: PersonalDataVault | None = None
    """Opens invoicing contacts sealed in a payload just before the call (deployed stacks)."""

    @classmethod
    def from_hub_settings(cls, hub: HubSettings, *, personal_data: PersonalDataVault | None = None) -> HttpConnector:
        return cls.from_settings(ConnectorSettings.from_hub_settings(hub), personal_data=personal_data)

    @classmethod
    def from_settings(
        cls,
        settings: ConnectorSettings,
        *,
        secrets: ConnectorSecrets | None = None,
        transport: HttpTransport | None = None,
        **kwargs: Any,
    ) -> HttpConnector:
        from billbridge.adapters.connectors.oauth_client_credentials import OAuthClientCredentials

        store = secrets or ConnectorSecrets(
            secret_id=settings.secrets_arn, max_age_seconds=settings.secret_max_age_seconds
        )
        http = transport or Urllib3Transport()
        endpoints: dict[str, ConnectorEndpoint] = {}
        for target, config in settings.targets.items():
            credentials: CredentialProvider | None = None
            if config.auth == "oauth2":
                credentials = OAuthClientCredentials(
                    token_url=config.token_url,
                    client_id=config.client_id,
                    client_secret=store.field(target, "client_secret"),
                    scopes=config.scopes,
                    transport=http,
                )
            elif config.auth == "api_key":
                credentials = StaticApiKey(
                    header_name=config.api_key_header,
                    key=store.field(target, "api_key"),
                    prefix=config.api_key_prefix,
                )
            signing = store.field(target, "signing_secret")
            endpoints[target] = ConnectorEndpoint(
                target=target,
                base_url=config.base_url,
                signing_secret=lambda signing=signing: signing(False),  # type: ignore[misc]
                credentials=credentials,
                limiter=TokenBucket(rate=config.rate_per_second, capacity=config.burst),
            )
        if settings.retry is not None and "retry" not in kwargs:
            kwargs["retry"] = RetryPolicy(**settings.retry.model_dump())
        return cls(endpoints=endpoints, transport=http, **kwargs)

    def send(self, command: ConnectorCommand) -> ConnectorReceipt:
        endpoint = self.endpoints.get(command.target)
        if endpoint is None:
            raise UnknownTargetError(f"no HTTP endpoint configured for target {command.target!r}")
        url = endpoint.url_for(command.name)
        body = json.dumps(self._opened(command.payload), separators=(",", ":"), sort_keys=True, default=str).encode()
        slept = 0.0
        reauthenticated = False
        attempt = 0
        last_problem = "no answer"
        while True:
            attempt += 1
            if endpoint.limiter is not None:
                endpoint.limiter.acquire()
            response = self._call(url, body, self._headers(endpoint, command, body))
            retry_after: float | None = None
            if response is None:
                last_problem = "no answer (timeout or connection error)"
            else:
                self._log(command, response.status, attempt)
                if 200 <= response.status < 300:
                    reference = _reference(response)
                    return ConnectorReceipt(
                        accepted=True,
                        reference=reference,
                        detail=f"HTTP {response.status}",
                        awaiting_acknowledgement=response.status == 202 and reference is None,
                    )
                if response.status == 401 and endpoint.credentials is not None and not reauthenticated:
                    endpoint.credentials.invalidate()
                    reauthenticated = True
                    attempt -= 1  # fresh credentials are not a retry of a failure
                    continue
                if response.status not in RETRYABLE_STATUSES:
                    return ConnectorReceipt(accepted=False, detail=_refusal_detail(response))
                last_problem = f"HTTP {response.status}"
                retry_after = retry_after_seconds(response.header("Retry-After"), self.wall_clock())
            if attempt >= self.retry.max_attempts:
                break
            delay = self.retry.backoff(attempt - 1, self.jitter())
            if retry_after is not None:
                delay = max(delay, retry_after)
            if slept + delay > self.retry.max_total_delay:
                break  # more patience than this invocation has: let the queue retry later
            self.sleep(delay)
            slept += delay
        raise TransientConnectorError(
            f"{command.target} {command.name} {command.idempotency_key}: {last_problem} after {attempt} attempt(s)"
        )

    def _opened(self, payload: dict[str, Any]) -> dict[str, Any]:
        contacts = payload.get("invoicing_contacts")
        if self.personal_data is None or not isinstance(contacts, list) or not contacts:
            return payload
        contract_id, version = str(payload.get("contract_id", "")), int(payload.get("contract_version") or 0)
        opened = [
            contact
            | self.personal_data.open(
                contract_id, version, {k: contact[k] for k in ("name", "email") if contact.get(k)}
            )
            for contact in contacts
        ]
        return payload | {"invoicing_contacts": opened}

    def _call(self, url: str, body: bytes, headers: Mapping[str, str]) -> HttpResponse | None:
        try:
            return self.transport.request("POST", url, body=body, headers=headers, timeout=self.retry.timeout)
        except HttpTransportError as error:
            _log.warning("connector call got no answer", extra={"problem": str(error)})
            return None

    def _headers(self, endpoint: ConnectorEndpoint, command: ConnectorCommand, body: bytes) -> dict[str, str]:
        signed = sign(endpoint.signing_secret(), _message_id(command), int(self.wall_clock()), body)
        headers = {
            **command.headers,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            "Idempotency-Key": command.idempotency_key,
            "X-Correlation-Id": command.correlation_id,
            **signed,
        }
        if endpoint.credentials is not None:
            headers.update(endpoint.credentials.headers())
        return headers

    @staticmethod
    def _log(command: ConnectorCommand, status: int, attempt: int) -> None:
        _log.info(
            "connector call answered",
            extra={
                "target": command.target,
                "command": command.name,
                "status": status,
                "attempt": attempt,
                "correlation_id": command.correlation_id,
            },
        )


def _message_id(command: ConnectorCommand) -> str:
    """Stable across retries of one command (Standard Webhooks: the receiver's dedup key)."""
    return "msg_" + uuid.uuid5(uuid.NAMESPACE_URL, f"{command.target}/{command.name}/{command.idempotency_key}").hex


def _reference(response: HttpResponse) -> str | None:
    try:
        document = json.loads(response.body) if response.body else {}
    except ValueError:
        document = {}
    if isinstance(document, dict):
        for key in ("reference", "id"):
            value = document.get(key)
            if value is not None:
                return str(value)
    return response.header("Location")


def _refusal_detail(response: HttpResponse) -> str:
    """The status and the API's error code/message, shortened (it may echo customer data)."""
    message = ""
    try:
        document = json.loads(response.body) if response.body else None
    except ValueError:
        document = None
    if isinstance(document, dict):
        parts = [str(document[key]) for key in ("error", "code", "message") if key in document]
        message = ": ".join(parts)
    return f"HTTP {response.status}" + (f" {message}"[:MAX_DETAIL_CHARS] if message else "")
