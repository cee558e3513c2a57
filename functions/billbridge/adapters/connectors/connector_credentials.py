"""Outbound credentials of the HTTP connector: where secrets come from and how a
request carries them.

- `ConnectorSecrets`: one Secrets Manager secret holding, per target, the
  signing secret and the client secret or API key:
  `{"psa": {"signing_secret": "whsec_...", "client_secret": "..."}, "erp-us": {"api_key": "..."}}`.
  Read through Powertools Parameters (`get_secret` with `max_age`): a rotated
  value is seen within `max_age` seconds, or at once with `force=True`
  (what the OAuth client does after the token endpoint refuses a secret).
- `CredentialProvider`: what a request adds (`Authorization`, an API-key
  header) and how it recovers from a 401 (`invalidate`).
- `StaticApiKey`: a vendor API key in a configurable header.

No value read here is ever logged; errors name the target and field only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from billbridge.adapters.secret_document import JsonSecretDocument

DEFAULT_SECRET_MAX_AGE_SECONDS = 300


class ConnectorCredentialsError(Exception):
    """The connector's secret is missing a field or is not the expected JSON object."""


class CredentialProvider(Protocol):
    def headers(self) -> dict[str, str]:
        """Headers that authenticate one request (may fetch or refresh a token)."""
        ...

    def invalidate(self) -> None:
        """The API answered 401 with these credentials: fetch fresh ones before the next request."""
        ...


SecretField = Callable[[bool], str]
"""`field(force)`: a secret value; `force=True` bypasses every cache."""


class ConnectorSecrets:
    """The per-target secrets document, cached by Powertools for `max_age_seconds`."""

    def __init__(
        self,
        *,
        secret_id: str,
        max_age_seconds: int = DEFAULT_SECRET_MAX_AGE_SECONDS,
        client: Any | None = None,
    ) -> None:
        if not secret_id:
            raise ConnectorCredentialsError("no connector secrets ARN configured")
        self._secret = JsonSecretDocument(secret_id=secret_id, max_age_seconds=max_age_seconds, client=client)

    def document(self, *, force: bool = False) -> dict[str, Any]:
        value = self._secret.read(force=force)
        if not isinstance(value, dict):
            raise ConnectorCredentialsError("the connector secrets value must be a JSON object")
        return value

    def value(self, target: str, name: str, *, force: bool = False) -> str:
        entry = self.document(force=force).get(target)
        value = entry.get(name) if isinstance(entry, dict) else None
        if not isinstance(value, str) or not value:
            raise ConnectorCredentialsError(f"connector secrets: no {name!r} for target {target!r}")
        return value

    def field(self, target: str, name: str) -> SecretField:
        return lambda force: self.value(target, name, force=force)


class StaticApiKey:
    """A vendor API key sent in `header_name` (e.g. `X-Api-Key`, or `Authorization` with a prefix)."""

    def __init__(self, *, header_name: str, key: SecretField, prefix: str = "") -> None:
        if not header_name:
            raise ConnectorCredentialsError("an API key needs a header name")
        self._header = header_name
        self._key = key
        self._prefix = prefix
        self._force_next = False

    def headers(self) -> dict[str, str]:
        force, self._force_next = self._force_next, False
        return {self._header: f"{self._prefix}{self._key(force)}"}

    def invalidate(self) -> None:
        """After a 401 the key may have been rotated: read it again, past the cache."""
        self._force_next = True
