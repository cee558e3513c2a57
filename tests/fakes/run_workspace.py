"""An in-memory RunWorkspace: documents by key, copied in and out as JSON would be."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any


class InMemoryRunWorkspace:
    def __init__(self, location: str = "runs-in-memory") -> None:
        self.documents: dict[str, str] = {}
        self._location = location

    @property
    def location(self) -> str:
        return self._location

    def write(self, key: str, document: Any) -> None:
        self.documents[key] = json.dumps(document)

    def read(self, key: str) -> Any:
        return json.loads(self.documents[key])

    def keys(self, prefix: str) -> Iterator[str]:
        yield from sorted(k for k in self.documents if k.startswith(prefix))
