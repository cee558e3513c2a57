"""OAuth 2.0 client credentials grant (RFC 6749 section 4.4) for the HTTP connector.

The token is cached until `refresh_margin_seconds` before it expires. After the
API answers 401 (`invalidate`) the next request fetches a new token. When the
token endpoint refuses the client (400 `invalid_client` or 401), the client
secret is read again past every cache (`force=True`) and the token request
repeated once: a secret rotated in Secrets Manager is picked up without a
failed delivery. The client authenticates with HTTP Basic (client_secret_basic).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Sequence
from urllib.parse import quote, urlencode

from billbridge.adapters.connectors.connector_credentials import SecretField
from billbridge.adapters.connectors.http_transport import (
    HttpTransport,
    HttpTransportError,
    require_secure_url,
)
from billbridge.app.ports import TransientConnectorError

DEFAULT_REFRESH_MARGIN_SECONDS = 60
DEFAULT_EXPIRES_IN_SECONDS = 300
TOKEN_TIMEOUT_SECONDS = 10.0


class TokenRequestError(TransientConnectorError):
    """No token: the endpoint is unreachable, failing, or refuses the client even with a fresh secret.

    Transient for the caller: the command is retried later (and dead-lettered in
    the end), by which time an operator may have fixed the credentials.
    """


class OAuthClientCredentials:
    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: SecretField,
        transport: HttpTransport,
        scopes: Sequence[str] = (),
        refresh_margin_seconds: float = DEFAULT_REFRESH_MARGIN_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not client_id:
            raise ValueError("OAuth client credentials need a client_id")
        self._token_url = require_secure_url(token_url, "token_url")
        self._client_id = client_id
        self._client_secret = client_secret
        self._transport = transport
        self._scopes = tuple(scopes)
        self._margin = refresh_margin_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self.token_requests = 0
        """How many tokens were requested (for tests and metrics)."""

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def token(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._expires_at - self._margin:
                self._token, self._expires_at = self._fetch()
            return self._token

    def _fetch(self) -> tuple[str, float]:
        status, document = self._request(self._client_secret(False))
        if status in (400, 401) and document.get("error") in ("invalid_client", "unauthorized_client", None):
            status, document = self._request(self._client_secret(True))
        if status != 200:
            error = document.get("error", "")
            raise TokenRequestError(
                f"token endpoint answered {status}" + (f" ({error})" if isinstance(error, str) and error else "")
            )
        token = document.get("access_token")
        if not isinstance(token, str) or not token:
            raise TokenRequestError("token endpoint answered without an access_token")
        expires_in = document.get("expires_in", DEFAULT_EXPIRES_IN_SECONDS)
        try:
            lifetime = float(str(expires_in))
        except (TypeError, ValueError):
            lifetime = DEFAULT_EXPIRES_IN_SECONDS
        return token, self._clock() + lifetime

    def _request(self, secret: str) -> tuple[int, dict[str, object]]:
        form = {"grant_type": "client_credentials"}
        if self._scopes:
            form["scope"] = " ".join(self._scopes)
        basic = base64.b64encode(f"{quote(self._client_id)}:{quote(secret)}".encode()).decode()
        self.token_requests += 1
        try:
            response = self._transport.request(
                "POST",
                self._token_url,
                body=urlencode(form).encode(),
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Accept": "application/json",
                    "Authorization": f"Basic {basic}",
                },
                timeout=TOKEN_TIMEOUT_SECONDS,
            )
        except HttpTransportError as error:
            raise TokenRequestError(f"token endpoint unreachable: {error}") from None
        try:
            document = json.loads(response.body) if response.body else {}
        except ValueError:
            document = {}
        return response.status, document if isinstance(document, dict) else {}
