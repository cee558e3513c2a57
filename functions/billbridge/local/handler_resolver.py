"""Handlers named by dotted path in topology, imported when first called.

Some handler modules may not exist yet, or a test wants a small stand-in: the
resolver looks in its overrides first and imports the module only at call time.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

LambdaHandler = Callable[[dict[str, Any], Any], Any]


class HandlerNotFoundError(LookupError):
    """A handler path names a module or attribute that cannot be imported."""


class HandlerResolver:
    def __init__(self, overrides: Mapping[str, LambdaHandler] | None = None) -> None:
        self._overrides = dict(overrides or {})

    def override(self, path: str, handler: LambdaHandler) -> None:
        self._overrides[path] = handler

    def resolve(self, path: str) -> LambdaHandler:
        if path in self._overrides:
            return self._overrides[path]
        module_name, _, attribute = path.rpartition(".")
        if not module_name:
            raise HandlerNotFoundError(f"handler path {path!r} is not of the form package.module.function")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as missing:
            raise HandlerNotFoundError(f"handler module {module_name!r} cannot be imported: {missing}") from missing
        handler = getattr(module, attribute, None)
        if not callable(handler):
            raise HandlerNotFoundError(f"{module_name!r} has no callable {attribute!r}")
        return handler  # type: ignore[no-any-return]
