"""Downstream commands in memory (runs of the core without AWS, the parallel run)."""

from __future__ import annotations

import threading
from dataclasses import replace

from billbridge.app.ports import ConcurrentCommandUpdateError
from billbridge.domain.downstream_commands import DownstreamCommand


class InMemoryCommandLog:
    def __init__(self) -> None:
        self._commands: dict[str, DownstreamCommand] = {}
        self._lock = threading.Lock()

    def get(self, command_id: str) -> DownstreamCommand | None:
        return self._commands.get(command_id)

    def save(self, command: DownstreamCommand) -> DownstreamCommand:
        with self._lock:
            current = self._commands.get(command.command_id)
            if (current.revision if current else 0) != command.revision:
                raise ConcurrentCommandUpdateError(command.command_id)
            saved = replace(command, revision=command.revision + 1)
            self._commands[command.command_id] = saved
            return saved

    def of_contract(self, contract_id: str) -> list[DownstreamCommand]:
        return [c for c in self._commands.values() if c.contract_id == contract_id]

    def all_commands(self) -> list[DownstreamCommand]:
        return list(self._commands.values())
