"""An AWS SDK client made on first use: nothing is imported or built when an adapter is
constructed (at cold start, or in a test that never calls AWS), and a given client
(a test's, the local stack's, an operator profile's) is used as it is."""

from __future__ import annotations

from typing import Any


class LazyClient:
    def __init__(self, service: str, client: Any | None = None) -> None:
        self._service = service
        self._client = client

    def __call__(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client(self._service)  # type: ignore[call-overload]
        return self._client
