"""HTTP calls of the connectors and vendor clients: a transport Protocol and its urllib3 implementation.

Its own module so that what needs only a transport (the OAuth token clients, the
vendor API clients) does not import the `http` connector, which builds those
token clients (the two imported each other).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from billbridge.settings import require_secure_url

__all__ = [
    "HttpResponse",
    "HttpTransport",
    "HttpTransportError",
    "Urllib3Transport",
    "require_secure_url",
]


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
