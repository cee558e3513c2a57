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

Configuration (`ConnectorSettings.from_environment`): `CONNECTOR_TARGETS` is a
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
import os
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Literal, Protocol
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from billbridge.adapters.connectors.connector_credentials import (
    ConnectorSecrets,
    CredentialProvider,
    StaticApiKey,
)
from billbridge.app.personal_data_in_transit import PersonalDataVault
from billbridge.app.ports import ConnectorCommand, ConnectorReceipt, TransientConnectorError
from billbridge.app.webhook_signature import sign

_log = logging.getLogger(__name__)

ENV_CONNECTOR_TARGETS = "CONNECTOR_TARGETS"
ENV_CONNECTOR_SECRETS_ARN = "CONNECTOR_SECRETS_ARN"
ENV_CONNECTOR_RETRY_POLICY = "CONNECTOR_RETRY_POLICY"
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_DETAIL_CHARS = 300
USER_AGENT = "billbridge-connector/1"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


# --- transport -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None


class HttpTransportError(Exception):
    """The request got no HTTP answer (timeout, refused connection, TLS failure)."""


class HttpTransport(Protocol):
    def request(
        self, method: str, url: str, *, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> HttpResponse: ...


class Urllib3Transport:
    """urllib3 (shipped with botocore) with its own retries off: RetryPolicy decides."""

    def __init__(self, pool_manager: Any | None = None) -> None:
        self._pool = pool_manager

    def _pool_manager(self) -> Any:
        if self._pool is None:
            import urllib3

            self._pool = urllib3.PoolManager(num_pools=8, maxsize=4)
        return self._pool

    def request(
        self, method: str, url: str, *, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> HttpResponse:
        import urllib3

        try:
            response = self._pool_manager().request(
                method,
                url,
                body=body,
                headers=dict(headers),
                timeout=urllib3.Timeout(connect=min(timeout, 5.0), read=timeout),
                retries=False,
                redirect=False,
            )
        except urllib3.exceptions.HTTPError as error:
            raise HttpTransportError(f"{type(error).__name__} calling {_origin(url)}") from None
        return HttpResponse(status=response.status, headers=dict(response.headers), body=response.data)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def require_secure_url(url: str, what: str) -> str:
    """HTTPS only; plain HTTP is accepted for loopback addresses (tests and local stubs)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.netloc:
        return url
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return url
    raise ValueError(f"{what} must be an https:// URL (got scheme {parts.scheme!r})")


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


# --- settings ------------------------------------------------------------------------------------


class TargetSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str
    auth: Literal["oauth2", "api_key", "none"] = "oauth2"
    token_url: str = ""
    client_id: str = ""
    scopes: tuple[str, ...] = ()
    api_key_header: str = "X-Api-Key"
    api_key_prefix: str = ""
    rate_per_second: float = Field(default=5.0, gt=0)
    burst: int = Field(default=10, ge=1)

    @field_validator("base_url")
    @classmethod
    def _secure_base(cls, value: str) -> str:
        return require_secure_url(value, "base_url")

    @field_validator("token_url")
    @classmethod
    def _secure_token_url(cls, value: str) -> str:
        return require_secure_url(value, "token_url") if value else value


class RetrySettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    max_attempts: int = Field(default=4, ge=1)
    base_delay: float = Field(default=0.5, ge=0)
    max_delay: float = Field(default=8.0, ge=0)
    max_total_delay: float = Field(default=15.0, ge=0)
    timeout: float = Field(default=10.0, gt=0)

    def policy(self) -> RetryPolicy:
        return RetryPolicy(**self.model_dump())


class ConnectorSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    targets: dict[str, TargetSettings]
    secrets_arn: str
    secret_max_age_seconds: int = Field(default=300, ge=0)
    retry: RetrySettings | None = None
    """`CONNECTOR_RETRY_POLICY` (JSON): the connector's patience, when not the default."""

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ConnectorSettings:
        env = os.environ if environ is None else environ
        retry = env.get(ENV_CONNECTOR_RETRY_POLICY, "")
        return cls(
            targets=json.loads(env.get(ENV_CONNECTOR_TARGETS, "") or "{}"),
            secrets_arn=env.get(ENV_CONNECTOR_SECRETS_ARN, ""),
            retry=json.loads(retry) if retry else None,
        )


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
    def from_environment(
        cls, environ: Mapping[str, str] | None = None, *, personal_data: PersonalDataVault | None = None
    ) -> HttpConnector:
        return cls.from_settings(ConnectorSettings.from_environment(environ), personal_data=personal_data)

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
            kwargs["retry"] = settings.retry.policy()
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
