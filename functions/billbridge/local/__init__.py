"""The embedded local stack: the same handlers and state machine, moto standing in for AWS.

`from billbridge.local import LocalStack` imports moto on first use only.
"""

from __future__ import annotations

TYPE_CHECKING = False  # `typing` costs ~4 ms to import: its names serve annotations only
if TYPE_CHECKING:
    from typing import Any

__all__ = ["LocalStack", "default_state_path"]


def __getattr__(name: str) -> Any:
    if name == "LocalStack":
        from billbridge.local.stack import LocalStack

        return LocalStack
    if name == "default_state_path":
        from billbridge.local.store import default_state_path

        return default_state_path
    raise AttributeError(name)
