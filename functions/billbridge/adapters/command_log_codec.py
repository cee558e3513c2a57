"""A downstream command record as JSON (the same document in every store)."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from typing import Any

from billbridge.domain.downstream_commands import CommandState, DownstreamCommand


def encode_command(command: DownstreamCommand) -> str:
    document = asdict(command)
    document["state"] = command.state.value
    document.pop("revision")
    return json.dumps(document, sort_keys=True, default=str)


def decode_command(text: str, revision: int) -> DownstreamCommand:
    document: dict[str, Any] = json.loads(text)
    document["state"] = CommandState(document["state"])
    document["history"] = tuple(tuple(entry) for entry in document.get("history", ()))
    return replace(DownstreamCommand(**document), revision=revision)
