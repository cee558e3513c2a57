"""One JSON document in Secrets Manager, read through Powertools Parameters.

The provider is built on first read (no client at import time) and caches the
value for `max_age_seconds`, so a rotated secret is seen within that time, or
at once with `force=True`.
"""

from __future__ import annotations

from typing import Any


class JsonSecretDocument:
    def __init__(self, *, secret_id: str, max_age_seconds: int, client: Any | None = None) -> None:
        self._secret_id = secret_id
        self._max_age = max_age_seconds
        self._client = client
        self._provider: Any | None = None

    def read(self, *, force: bool = False) -> Any:
        if self._provider is None:
            from aws_lambda_powertools.utilities.parameters import SecretsProvider

            self._provider = SecretsProvider(boto3_client=self._client)
        return self._provider.get(self._secret_id, max_age=self._max_age, transform="json", force_fetch=force)
