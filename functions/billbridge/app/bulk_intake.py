"""Use cases: bulk intake of a file of actuals (docs/decisions/0012-feed-and-bulk-intake.md).

A PSA (or an export of one) drops a file of time entries, withdrawals, expenses
and milestone completions at `intake/{source}/NAME.csv` (or `.jsonl`) in the
intake bucket. Two steps, so that no function's work grows with the file:

1. `SplitIntakeFile` (one per dropped file) reads the rows, writes them in chunks
   of `topology.INTAKE_CHUNK_ROWS` to the raw payload store (where each row's raw
   text is then kept as long as a webhook body) and announces one ticket per chunk.
2. `IngestIntakeChunk` (one per chunk, in parallel) turns each row into the
   canonical event of its type, with an identity taken from the row's business
   keys alone (`bulk:time_entry.approved:TE-1:r2`), and passes the chunk through
   the webhook's own canonical path (`IngestWebhook.accept_translated`): the same
   models, the same decimal reader, the same system-of-record rules and rollout
   switches, the same `(source, id)` claims. A row already delivered, by this file,
   an earlier file or an overlapping one, is a duplicate and bills nothing twice.
   The worker that counts the last chunk writes the file's result beside it
   (`NAME.csv.result.json`) and publishes `intake.completed`.

Every row ends counted exactly once: accepted, duplicate, or refused with its row
number and reason. A file that cannot be read at all (not UTF-8, no `type`
column, no row) gets a result with `status: failed` and the reason.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from billbridge import topology
from billbridge.app.canonical_events import InvalidEventError, parse_event_data
from billbridge.app.ingest_webhook import (
    DeliveryDeferred,
    DeliveryJudged,
    Outcome,
    canonical_digest,
    read_json_document,
)
from billbridge.app.ports import Clock, EventPublisher, IdGenerator, OutboundEvent

RESULT_SCHEMA_VERSION = 1
IDENTITY_FIELDS: Mapping[str, tuple[str, ...]] = {
    "time_entry.approved": ("entry_id", "revision"),
    "time_entry.rejected": ("entry_id", "revision"),
    "expense.approved": ("expense_id",),
    "milestone.completed": ("contract_id", "milestone_id"),
}
"""The business keys that make a row's identity, whatever file carries it."""
DATE_FIELDS: Mapping[str, str] = {
    "time_entry.approved": "work_date",
    "expense.approved": "date",
    "milestone.completed": "completed_on",
}
"""The row's own date, which is its event's `time` (midnight UTC) unless the row gives `time`."""
ENVELOPE_FIELDS = ("type", "time")
CSV_BOOLEAN_FIELDS = ("billable",)
CSV_INTEGER_FIELDS = ("revision",)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class IntakeFileError(Exception):
    """The file cannot be processed at all (its location, encoding or header)."""


class IntakeDependencyError(Exception):
    """A port of the hub failed: the step is retried (its message returns to the queue)."""


# --- values ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IntakeDrop:
    """One PUT of a file into the intake bucket (an S3 `Object Created` event)."""

    bucket: str
    key: str
    drop_id: str
    """What tells two PUTs of one key apart (S3's `sequencer`): a re-dropped file is a new drop."""

    @property
    def run_id(self) -> str:
        text = f"{self.bucket}/{self.key}#{self.drop_id}"
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


@dataclass(frozen=True, slots=True)
class FileRow:
    row: int
    """1 for the first record of the file (a CSV header is not a row)."""
    line: int
    """The line of the file the record starts on (a CSV header is line 1)."""
    fields: dict[str, Any] | None
    problem: str | None = None
    """Why the record could not be read (then `fields` is None)."""

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"row": self.row, "line": self.line}
        if self.fields is not None:
            body["fields"] = self.fields
        if self.problem is not None:
            body["problem"] = self.problem
        return body

    @staticmethod
    def from_json(body: Mapping[str, Any]) -> FileRow:
        return FileRow(
            row=int(body["row"]), line=int(body["line"]), fields=body.get("fields"), problem=body.get("problem")
        )


@dataclass(frozen=True, slots=True)
class ChunkTicket:
    """The work of one chunk worker: which rows, of which file's run."""

    run_id: str
    file_key: str
    source: str
    chunk: int
    chunks: int
    chunk_key: str
    """Where the chunk's rows are kept (the raw payload store)."""

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "file_key": self.file_key,
            "source": self.source,
            "chunk": self.chunk,
            "chunks": self.chunks,
            "chunk_key": self.chunk_key,
        }

    @staticmethod
    def from_json(body: Mapping[str, Any]) -> ChunkTicket:
        return ChunkTicket(
            run_id=str(body["run_id"]),
            file_key=str(body["file_key"]),
            source=str(body["source"]),
            chunk=int(body["chunk"]),
            chunks=int(body["chunks"]),
            chunk_key=str(body["chunk_key"]),
        )


@dataclass(frozen=True, slots=True)
class IntakeRun:
    run_id: str
    file_key: str
    source: str
    file_format: str
    started_at: str
    chunks: int = 0
    rows: int = 0
    completed: bool = False


@dataclass(frozen=True, slots=True)
class RefusedRow:
    row: int
    line: int
    reason: str
    field: str | None = None
    event_id: str | None = None
    event_type: str | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"row": self.row, "line": self.line}
        if self.event_type is not None:
            body["type"] = self.event_type
        if self.event_id is not None:
            body["id"] = self.event_id
        if self.field is not None:
            body["field"] = self.field
        body["reason"] = self.reason
        return body


@dataclass(slots=True)
class ChunkResult:
    chunk: int
    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    refused: list[RefusedRow] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "chunk": self.chunk,
            "rows": self.rows,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "refused": [r.as_json() for r in self.refused],
        }


@dataclass(frozen=True, slots=True)
class IntakeResult:
    """What `NAME.csv.result.json` holds."""

    document: dict[str, Any]

    @property
    def status(self) -> str:
        return str(self.document.get("status"))


# --- ports -----------------------------------------------------------------------------------------


class IntakeFiles(Protocol):
    """The intake bucket: dropped files, their results, the chunk results of runs in progress."""

    def read(self, key: str) -> bytes: ...

    def read_json(self, key: str) -> dict[str, Any] | None:
        """The JSON document at `key`, None when there is none."""
        ...

    def write_json(self, key: str, document: Mapping[str, Any]) -> None: ...


class RowArchive(Protocol):
    """Where the rows' raw text is kept (the raw payload store of webhook bodies)."""

    def save(self, *, source: str, delivery_id: str, received_at: datetime, body: bytes) -> str: ...

    def load(self, key: str) -> bytes: ...


class ChunkQueue(Protocol):
    def send(self, tickets: Sequence[ChunkTicket]) -> None: ...


class IntakeRuns(Protocol):
    """Each drop's run and which of its chunks are counted (conditional writes)."""

    def get(self, run_id: str) -> IntakeRun | None: ...

    def start(self, run: IntakeRun) -> IntakeRun:
        """Record the run unless it exists; returns the run as recorded (the first one wins)."""
        ...

    def set_chunks(self, run_id: str, *, chunks: int, rows: int) -> None: ...

    def count_chunk(self, run_id: str, chunk: int) -> tuple[int, int]:
        """Count `chunk` as done, once however often it is called: (chunks counted, chunks in the run)."""
        ...

    def mark_completed(self, run_id: str) -> None: ...


class CanonicalIntake(Protocol):
    """The webhook's canonical path for events built by the hub from an authentic input."""

    def accept_translated(
        self,
        *,
        source: str,
        events: Sequence[dict[str, Any]],
        delivery_id: str,
        raw_key: str,
        received_at: datetime,
    ) -> DeliveryJudged | DeliveryDeferred: ...


# --- locations ---------------------------------------------------------------------------------------


def file_location(key: str) -> tuple[str, str]:
    """(source, format) of a file dropped at `intake/{source}/NAME.csv|.jsonl`; raises IntakeFileError."""
    if not key.startswith(topology.INTAKE_PREFIX):
        raise IntakeFileError(f"{key!r} is not under {topology.INTAKE_PREFIX}")
    source, _, name = key[len(topology.INTAKE_PREFIX) :].partition("/")
    if source not in topology.WEBHOOK_SOURCES:
        raise IntakeFileError(
            f"{key!r}: {source!r} is not a source; drop files at {topology.INTAKE_PREFIX}"
            f"{{{'|'.join(topology.WEBHOOK_SOURCES)}}}/NAME.csv or .jsonl"
        )
    lowered = name.lower()
    for suffix, file_format in topology.INTAKE_FILE_SUFFIXES.items():
        if lowered.endswith(suffix) and len(name) > len(suffix):
            return source, file_format
    raise IntakeFileError(f"{key!r}: a file name ends in one of {', '.join(topology.INTAKE_FILE_SUFFIXES)}")


def is_intake_file(key: str) -> bool:
    """Whether a key is a file to process (not a result written beside one)."""
    return key.startswith(topology.INTAKE_PREFIX) and not key.endswith(topology.INTAKE_RESULT_SUFFIX)


def result_key(file_key: str) -> str:
    return file_key + topology.INTAKE_RESULT_SUFFIX


def chunk_result_key(run_id: str, chunk: int) -> str:
    return f"{topology.INTAKE_WORK_PREFIX}{run_id}/chunk-{chunk:05d}{topology.INTAKE_RESULT_SUFFIX}"


# --- reading a file ----------------------------------------------------------------------------------


def read_rows(body: bytes, file_format: str) -> Iterator[FileRow]:
    """The records of a file, in order; a record that cannot be read is a row with its problem.

    Raises IntakeFileError when the file as a whole cannot be read."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise IntakeFileError(f"the file is not UTF-8 (byte {error.start})") from None
    text = text.removeprefix("\ufeff")
    if file_format == "csv":
        return _csv_rows(text)
    return _json_lines(text)


def _csv_rows(text: str) -> Iterator[FileRow]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise IntakeFileError("the file is empty: a CSV file starts with a header naming its columns") from None
    except csv.Error as error:
        raise IntakeFileError(f"the header is not valid CSV: {error}") from None
    columns = [name.strip() for name in header]
    if "type" not in columns:
        raise IntakeFileError(f"the header has no `type` column (columns: {', '.join(columns)[:200]})")
    duplicated = sorted({name for name in columns if columns.count(name) > 1})
    if duplicated:
        raise IntakeFileError(f"the header names a column twice: {', '.join(duplicated)}")
    return _csv_records(reader, columns)


def _csv_records(reader: Any, columns: list[str]) -> Iterator[FileRow]:
    row = 0
    line = reader.line_num + 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            row += 1
            yield FileRow(row=row, line=line, fields=None, problem=f"not valid CSV: {error}")
            line = reader.line_num + 1
            continue
        start, line = line, reader.line_num + 1
        if not values or all(not v.strip() for v in values):
            continue
        row += 1
        if len(values) != len(columns):
            problem = f"has {len(values)} values but the header names {len(columns)} columns"
            yield FileRow(row=row, line=start, fields=None, problem=problem)
            continue
        yield FileRow(row=row, line=start, fields=_csv_fields(columns, values))


def _csv_fields(columns: Sequence[str], values: Sequence[str]) -> dict[str, Any]:
    """A CSV record as event data: an empty cell is an absent field; `billable` is true/false and
    `revision` an integer when written as such (anything else is left for the model to refuse)."""
    fields: dict[str, Any] = {}
    for name, raw in zip(columns, values, strict=True):
        value = raw.strip()
        if not value:
            continue
        if name in CSV_BOOLEAN_FIELDS and value.lower() in ("true", "false"):
            fields[name] = value.lower() == "true"
        elif name in CSV_INTEGER_FIELDS and value.isascii() and value.isdigit():
            fields[name] = int(value)
        else:
            fields[name] = value
    return fields


def _json_lines(text: str) -> Iterator[FileRow]:
    row = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        row += 1
        try:
            document = read_json_document(line.encode("utf-8"))
        except InvalidEventError as invalid:
            yield FileRow(row=row, line=number, fields=None, problem=invalid.message)
            continue
        if not isinstance(document, dict):
            yield FileRow(row=row, line=number, fields=None, problem="a line must be a JSON object")
            continue
        yield FileRow(row=row, line=number, fields=document)


# --- a row as a canonical event ----------------------------------------------------------------------


class _RowRefusedError(Exception):
    def __init__(self, reason: str, field_name: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field_name


def _column(path: str | None) -> str | None:
    """A model's field path (`data.days[0].hours`) as the row's field (`days[0].hours`)."""
    if path is None:
        return None
    return path.removeprefix("data.") if path.startswith("data.") else path


def row_identity(event_type: str, fields: Mapping[str, Any]) -> str:
    """The row's delivery identity, from its business keys only (`bulk:expense.approved:EX-9`)."""
    parts = [event_type]
    for name in IDENTITY_FIELDS[event_type]:
        value = fields.get(name)
        if name == "revision":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise _RowRefusedError("must be an integer from 1 (part of the row's identity)", name)
            parts.append(f"r{value}")
            continue
        if not isinstance(value, str) or not value:
            raise _RowRefusedError("is required (part of the row's identity)", name)
        parts.append(value)
    identity = "bulk:" + ":".join(parts)
    if len(identity) > 256:
        raise _RowRefusedError("the row's identity is longer than 256 characters", IDENTITY_FIELDS[event_type][0])
    return identity


def _row_time(event_type: str, fields: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    given = fields.get("time")
    if given is not None:
        if not isinstance(given, str):
            raise _RowRefusedError("must be an RFC 3339 timestamp with a zone, e.g. 2026-03-16T09:30:00Z", "time")
        return given
    day: Any = data.get(DATE_FIELDS.get(event_type, ""))
    days = data.get("days")
    if day is None and event_type == "time_entry.approved" and isinstance(days, list) and days:
        first = days[0]
        day = first.get("date") if isinstance(first, dict) else None
    if isinstance(day, str) and _DATE.fullmatch(day):
        return f"{day}T00:00:00Z"
    raise _RowRefusedError(f"is required for {event_type} rows (RFC 3339: when it happened at the source)", "time")


def event_for_row(source: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical CloudEvent of one row, validated with the event type's own model.

    Everything that makes the event comes from the row, so the same row in any
    file is the same event (same identity, same body): a duplicate, never a second delivery."""
    event_type = fields.get("type")
    if not isinstance(event_type, str) or event_type not in topology.INTAKE_ROW_TYPES:
        shown = repr(event_type)[:64] if event_type is not None else "missing"
        raise _RowRefusedError(f"is {shown}; a row is one of {', '.join(topology.INTAKE_ROW_TYPES)}", "type")
    data = {name: value for name, value in fields.items() if name not in ENVELOPE_FIELDS}
    identity = row_identity(event_type, fields)
    try:
        parse_event_data(event_type, data)
    except InvalidEventError as invalid:
        raise _RowRefusedError(invalid.message, _column(invalid.field)) from None
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": identity,
        "source": source,
        "type": event_type,
        "time": _row_time(event_type, fields, data),
        "data": data,
    }
    subject = data.get(IDENTITY_FIELDS[event_type][0]) if event_type != "milestone.completed" else None
    if isinstance(subject, str):
        event["subject"] = subject
    return event


# --- step 1: split --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SplitOutcome:
    run_id: str
    chunks: int = 0
    rows: int = 0
    skipped: str | None = None
    """Why nothing was done (the drop was already processed, or the key is not a file)."""
    failed: str | None = None
    """Why the file could not be processed at all (its result says so too)."""


@dataclass
class SplitIntakeFile:
    files: IntakeFiles
    archive: RowArchive
    chunks: ChunkQueue
    runs: IntakeRuns
    publisher: EventPublisher
    clock: Clock
    chunk_rows: int = topology.INTAKE_CHUNK_ROWS

    def handle(self, drop: IntakeDrop) -> SplitOutcome:
        run_id = drop.run_id
        if not is_intake_file(drop.key):
            return SplitOutcome(run_id, skipped=f"{drop.key!r} is not an intake file")
        recorded = self.runs.get(run_id)
        if recorded is not None and recorded.completed:
            return SplitOutcome(run_id, chunks=recorded.chunks, rows=recorded.rows, skipped="already processed")
        started_at = recorded.started_at if recorded is not None else self.clock.now().isoformat()
        try:
            source, file_format = file_location(drop.key)
            run = self.runs.start(IntakeRun(run_id, drop.key, source, file_format, started_at))
            tickets, rows = self._split(run, self.files.read(drop.key))
        except IntakeFileError as unreadable:
            self._fail(drop, run_id, started_at, str(unreadable))
            return SplitOutcome(run_id, failed=str(unreadable))
        self.runs.set_chunks(run_id, chunks=len(tickets), rows=rows)
        self.chunks.send(tickets)
        return SplitOutcome(run_id, chunks=len(tickets), rows=rows)

    def _split(self, run: IntakeRun, body: bytes) -> tuple[list[ChunkTicket], int]:
        received_at = datetime.fromisoformat(run.started_at)
        keys: list[str] = []
        batch: list[FileRow] = []
        rows = 0
        for file_row in read_rows(body, run.file_format):
            rows += 1
            batch.append(file_row)
            if len(batch) == self.chunk_rows:
                keys.append(self._save_chunk(run, len(keys) + 1, batch, received_at))
                batch = []
        if batch:
            keys.append(self._save_chunk(run, len(keys) + 1, batch, received_at))
        if not rows:
            raise IntakeFileError("the file holds no rows")
        return [
            ChunkTicket(run.run_id, run.file_key, run.source, index, len(keys), key)
            for index, key in enumerate(keys, start=1)
        ], rows

    def _save_chunk(self, run: IntakeRun, chunk: int, rows: Sequence[FileRow], received_at: datetime) -> str:
        body = "".join(json.dumps(r.as_json(), separators=(",", ":"), ensure_ascii=False) + "\n" for r in rows)
        return self.archive.save(
            source=run.source,
            delivery_id=f"intake-{run.run_id}-{chunk:05d}",
            received_at=received_at,
            body=body.encode("utf-8"),
        )

    def _fail(self, drop: IntakeDrop, run_id: str, started_at: str, reason: str) -> None:
        source = drop.key[len(topology.INTAKE_PREFIX) :].partition("/")[0]
        document = {
            "schema_version": RESULT_SCHEMA_VERSION,
            "file": drop.key,
            "run_id": run_id,
            "source": source,
            "status": "failed",
            "error": reason,
            "rows": 0,
            "accepted": 0,
            "duplicates": 0,
            "refused": 0,
            "refused_rows": [],
            "started_at": started_at,
            "completed_at": self.clock.now().isoformat(),
        }
        self.files.write_json(result_key(drop.key), document)
        self.publisher.publish([completed_event(document)])
        self.runs.start(IntakeRun(run_id, drop.key, source, "", started_at))
        self.runs.mark_completed(run_id)


def completed_event(document: Mapping[str, Any]) -> OutboundEvent:
    """`intake.completed`: the file's counts and where its result is (docs/spec/events.md)."""
    correlation_id = f"intake-{document['run_id']}"
    return OutboundEvent(
        source=topology.INTAKE_EVENT_SOURCE,
        detail_type=topology.INTAKE_COMPLETED,
        detail={
            "schema_version": 1,
            "correlationid": correlation_id,
            "run_id": document["run_id"],
            "file": document["file"],
            "result": result_key(str(document["file"])),
            "source": document["source"],
            "status": document["status"],
            "rows": document["rows"],
            "accepted": document["accepted"],
            "duplicates": document["duplicates"],
            "refused": document["refused"],
            **({"error": document["error"]} if document.get("error") else {}),
        },
        correlation_id=correlation_id,
    )


# --- step 2: a chunk --------------------------------------------------------------------------------


class _ChunkIds:
    """The correlation id of every event of one chunk: the same on a retry of the chunk, so a
    row the chunk's earlier attempt accepted is told apart from a row some other input delivered."""

    def __init__(self, correlation_id: str) -> None:
        self.correlation_id = correlation_id

    def new_id(self) -> str:
        return self.correlation_id


def chunk_correlation_id(run_id: str, chunk: int) -> str:
    return f"intake-{run_id}-c{chunk:05d}"


@dataclass(frozen=True, slots=True)
class ChunkOutcome:
    result: ChunkResult
    completed: IntakeResult | None = None
    """The file's result, when this chunk was the last one counted."""


@dataclass
class IngestIntakeChunk:
    files: IntakeFiles
    archive: RowArchive
    runs: IntakeRuns
    canonical: Callable[[IdGenerator], CanonicalIntake]
    """The canonical ingest path, built with the chunk's correlation ids."""
    publisher: EventPublisher
    clock: Clock

    def handle(self, ticket: ChunkTicket) -> ChunkOutcome:
        key = chunk_result_key(ticket.run_id, ticket.chunk)
        saved = self.files.read_json(key)
        if saved is not None:
            result = _chunk_result_from(saved)
        else:
            rows = [FileRow.from_json(json.loads(line)) for line in self.archive.load(ticket.chunk_key).splitlines()]
            result = self._ingest(ticket, rows)
            self.files.write_json(key, result.as_json())
        counted, total = self.runs.count_chunk(ticket.run_id, ticket.chunk)
        if counted < total:
            return ChunkOutcome(result)
        return ChunkOutcome(result, completed=self.complete(ticket.run_id))

    def _ingest(self, ticket: ChunkTicket, rows: Sequence[FileRow]) -> ChunkResult:
        result = ChunkResult(chunk=ticket.chunk, rows=len(rows))
        events: list[dict[str, Any]] = []
        sent: list[FileRow] = []
        seen: dict[str, tuple[int, str]] = {}
        for file_row in rows:
            if file_row.fields is None:
                result.refused.append(RefusedRow(file_row.row, file_row.line, file_row.problem or "unreadable"))
                continue
            try:
                event = event_for_row(ticket.source, file_row.fields)
            except _RowRefusedError as refused:
                event_type = file_row.fields.get("type")
                result.refused.append(
                    RefusedRow(
                        file_row.row,
                        file_row.line,
                        refused.reason,
                        field=refused.field,
                        event_type=event_type if isinstance(event_type, str) else None,
                    )
                )
                continue
            digest = canonical_digest(event)
            earlier = seen.get(event["id"])
            if earlier is not None:
                if earlier[1] == digest:
                    result.duplicates += 1
                else:
                    result.refused.append(
                        RefusedRow(
                            file_row.row,
                            file_row.line,
                            f"has the identity of row {earlier[0]} with other content "
                            "(a correction needs a higher revision)",
                            field="id",
                            event_id=event["id"],
                            event_type=event["type"],
                        )
                    )
                continue
            seen[event["id"]] = (file_row.row, digest)
            events.append(event)
            sent.append(file_row)
        if events:
            self._accept(ticket, events, sent, result)
        return result

    def _accept(
        self, ticket: ChunkTicket, events: list[dict[str, Any]], sent: list[FileRow], result: ChunkResult
    ) -> None:
        correlation_id = chunk_correlation_id(ticket.run_id, ticket.chunk)
        response = self.canonical(_ChunkIds(correlation_id)).accept_translated(
            source=ticket.source,
            events=events,
            delivery_id=f"intake-{ticket.run_id}-{ticket.chunk:05d}",
            raw_key=ticket.chunk_key,
            received_at=self.clock.now(),
        )
        if isinstance(response, DeliveryDeferred):
            raise IntakeDependencyError(response.message)
        for outcome in response.outcomes:
            file_row, event = sent[outcome.index], events[outcome.index]
            if outcome.outcome is Outcome.ACCEPTED:
                result.accepted += 1
            elif outcome.outcome is Outcome.DUPLICATE:
                if outcome.correlation_id == correlation_id:
                    result.accepted += 1  # accepted by an earlier attempt of this very chunk
                else:
                    result.duplicates += 1
            elif outcome.outcome is Outcome.CONFLICT:
                result.refused.append(
                    RefusedRow(
                        file_row.row,
                        file_row.line,
                        "was delivered before with other content (a correction needs a higher revision)",
                        field="id",
                        event_id=event["id"],
                        event_type=event["type"],
                    )
                )
            else:
                result.refused.append(
                    RefusedRow(
                        file_row.row,
                        file_row.line,
                        _reason(outcome.error, outcome.field),
                        field=_column(outcome.field),
                        event_id=event["id"],
                        event_type=event["type"],
                    )
                )

    def complete(self, run_id: str) -> IntakeResult:
        """Assemble the file's result from its chunks, write it beside the file, announce it."""
        run = self.runs.get(run_id)
        if run is None:
            raise IntakeDependencyError(f"intake run {run_id} is not recorded")
        chunks: list[dict[str, Any]] = []
        for chunk in range(1, run.chunks + 1):
            saved = self.files.read_json(chunk_result_key(run_id, chunk))
            if saved is None:
                raise IntakeDependencyError(f"intake run {run_id}: the result of chunk {chunk} is missing")
            chunks.append(saved)
        refused = sorted((r for c in chunks for r in c["refused"]), key=lambda r: int(r["row"]))
        document: dict[str, Any] = {
            "schema_version": RESULT_SCHEMA_VERSION,
            "file": run.file_key,
            "run_id": run_id,
            "source": run.source,
            "format": run.file_format,
            "status": "completed",
            "rows": sum(int(c["rows"]) for c in chunks),
            "accepted": sum(int(c["accepted"]) for c in chunks),
            "duplicates": sum(int(c["duplicates"]) for c in chunks),
            "refused": len(refused),
            "chunks": run.chunks,
            "started_at": run.started_at,
            "completed_at": self.clock.now().isoformat(),
            "correlation_id_prefix": f"intake-{run_id}-c",
            "refused_rows": refused,
        }
        self.files.write_json(result_key(run.file_key), document)
        if not run.completed:
            self.publisher.publish([completed_event(document)])
            self.runs.mark_completed(run_id)
        return IntakeResult(document)


def _reason(error: str | None, field_path: str | None) -> str:
    """The use case's message without the field prefix it repeats (`data.hours: ...`)."""
    text = error or "refused"
    if field_path and text.startswith(f"{field_path}: "):
        return text[len(field_path) + 2 :]
    return text


def _chunk_result_from(saved: Mapping[str, Any]) -> ChunkResult:
    return ChunkResult(
        chunk=int(saved["chunk"]),
        rows=int(saved["rows"]),
        accepted=int(saved["accepted"]),
        duplicates=int(saved["duplicates"]),
        refused=[
            RefusedRow(
                row=int(r["row"]),
                line=int(r["line"]),
                reason=str(r["reason"]),
                field=r.get("field"),
                event_id=r.get("id"),
                event_type=r.get("type"),
            )
            for r in saved["refused"]
        ],
    )
