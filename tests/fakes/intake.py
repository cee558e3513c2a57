"""In-memory fakes of the bulk intake's ports (the intake bucket, the chunk queue, the runs)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from billbridge.app.bulk_intake import ChunkTicket, IntakeRun

from tests.fakes.edge import InMemoryRawPayloadStore


class InMemoryIntakeFiles:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def read(self, key: str) -> bytes:
        return self.objects[key]

    def read_json(self, key: str) -> dict[str, Any] | None:
        body = self.objects.get(key)
        return None if body is None else dict(json.loads(body))

    def write_json(self, key: str, document: Mapping[str, Any]) -> None:
        self.objects[key] = json.dumps(document).encode("utf-8")


class InMemoryRowArchive(InMemoryRawPayloadStore):
    def load(self, key: str) -> bytes:
        return self.objects[key]


class InMemoryChunkQueue:
    def __init__(self) -> None:
        self.tickets: list[ChunkTicket] = []

    def send(self, tickets: Sequence[ChunkTicket]) -> None:
        self.tickets.extend(tickets)

    def take_all(self) -> list[ChunkTicket]:
        taken, self.tickets = self.tickets, []
        return taken


class InMemoryIntakeRuns:
    def __init__(self) -> None:
        self.runs: dict[str, IntakeRun] = {}
        self.counted: dict[str, set[int]] = {}

    def get(self, run_id: str) -> IntakeRun | None:
        return self.runs.get(run_id)

    def start(self, run: IntakeRun) -> IntakeRun:
        return self.runs.setdefault(run.run_id, run)

    def set_chunks(self, run_id: str, *, chunks: int, rows: int) -> None:
        self.runs[run_id] = replace(self.runs[run_id], chunks=chunks, rows=rows)

    def count_chunk(self, run_id: str, chunk: int) -> tuple[int, int]:
        counted = self.counted.setdefault(run_id, set())
        counted.add(chunk)
        return len(counted), self.runs[run_id].chunks

    def mark_completed(self, run_id: str) -> None:
        self.runs[run_id] = replace(self.runs[run_id], completed=True)
