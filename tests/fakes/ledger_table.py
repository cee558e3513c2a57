"""A ledger table in moto, built from the same key-schema constants as the stack,
and a client that serializes calls into moto (its DynamoDB backend is not safe
for concurrent callers; the calls still interleave one by one)."""

from __future__ import annotations

import threading
from typing import Any

from billbridge.local.resources import create_ledger_table

__all__ = ["SerializedClient", "create_ledger_table"]


class SerializedClient:
    """One call into moto at a time; `calls` counts them by operation."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()
        self.exceptions = client.exceptions
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._client, name)
        if not callable(target):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.calls[name] = self.calls.get(name, 0) + 1
                return target(*args, **kwargs)

        return call
