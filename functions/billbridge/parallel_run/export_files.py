"""Reading a firm's exported history: contracts, time, expenses, milestones,
configuration and legacy invoices (the formats are in docs/parallel-run.md).

Every row becomes the `data` of the canonical event it stands for and is
validated by the same model the webhook edge uses (`parse_event_data`), so a
bad row gets the same message a vendor would, prefixed with its file and line.
Rows are never dropped silently: a bad row is a `RejectedRow`.
"""

from __future__ import annotations

import csv
import hashlib
import heapq
import json
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from billbridge.app.canonical_events import InvalidEventError, parse_event_data
from billbridge.app.legacy_reconciliation import LegacyInvoice, LegacyLine

KIND_ORDER = {"contract": 0, "termination": 1, "time": 2, "expense": 2, "milestone": 2}
"""On the same day, contract changes take effect before the actuals of that day."""

CONVENTIONAL_NAMES = {
    "config": ("config.json",),
    "contracts": ("contracts.json",),
    "time_entries": ("time_entries.csv", "time_entries.jsonl"),
    "expenses": ("expenses.csv", "expenses.jsonl"),
    "milestones": ("milestones.csv", "milestones.jsonl"),
    "legacy_invoices": ("legacy_invoices.csv",),
}


@dataclass(frozen=True, slots=True)
class Shard:
    """One of `count` worker processes; contracts are split between them by a stable
    hash of the contract id (a contract's book is the unit of consistency, so
    contracts need nothing from each other)."""

    index: int
    count: int

    def keeps(self, event_type: str, data: dict[str, Any]) -> bool:
        contract_id = data.get("contract_id")
        if not isinstance(contract_id, str) or not contract_id:
            # A withdrawal may name only its entry: every shard sees it (the one holding
            # the entry applies it). Anything else without a contract is shard 0's to refuse.
            return self.index == 0 or event_type == "time_entry.rejected"
        return zlib.crc32(contract_id.encode()) % self.count == self.index


class ExportFileError(Exception):
    """A whole file cannot be read (missing, not CSV/JSON, missing columns)."""


@dataclass(frozen=True, slots=True)
class RejectedRow:
    file: str
    line: int
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"

    def as_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "field": self.field, "error": self.message}


@dataclass(frozen=True, slots=True)
class HistoryRecord:
    """One input of the history, in the order the hub would have received it."""

    known_on: date
    kind: str
    event_type: str
    data: dict[str, Any]
    file: str
    line: int
    source: str
    event_id: str

    @property
    def sort_key(self) -> tuple[date, int, str, int]:
        return (self.known_on, KIND_ORDER[self.kind], self.file, self.line)


@dataclass
class HistoryFiles:
    config: Path | None = None
    contracts: list[Path] = field(default_factory=list)
    time_entries: list[Path] = field(default_factory=list)
    expenses: list[Path] = field(default_factory=list)
    milestones: list[Path] = field(default_factory=list)
    legacy_invoices: list[Path] = field(default_factory=list)

    @classmethod
    def in_directory(cls, directory: Path) -> HistoryFiles:
        """The files of a history directory, by their conventional names."""
        if not directory.is_dir():
            raise ExportFileError(f"{directory}: not a directory")
        found: dict[str, list[Path]] = {}
        for role, names in CONVENTIONAL_NAMES.items():
            found[role] = [directory / name for name in names if (directory / name).is_file()]
        config = found.pop("config")
        return cls(config=config[0] if config else None, **found)

    def actuals_files(self) -> list[tuple[str, Path]]:
        return (
            [("time", p) for p in self.time_entries]
            + [("expense", p) for p in self.expenses]
            + [("milestone", p) for p in self.milestones]
        )

    def fingerprint(self) -> str:
        """sha256 over every input file's name and bytes: a resumed run must read the same history."""
        digest = hashlib.sha256()
        paths = ([self.config] if self.config else []) + self.contracts + [p for _, p in self.actuals_files()]
        for path in paths:
            digest.update(path.name.encode() + b"\0")
            with path.open("rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
        return digest.hexdigest()


# --- configuration and contracts -------------------------------------------------------------


def read_config(path: Path) -> dict[str, Any]:
    document = _read_json(path)
    if not isinstance(document, dict):
        raise ExportFileError(f"{path}: the configuration must be a JSON object (a scenario's `config`)")
    return document


CONTRACT_EVENT_TYPES = ("contract.approved", "contract.amended", "contract.terminated")


def read_contracts(path: Path, rejected: list[RejectedRow], shard: Shard | None = None) -> list[HistoryRecord]:
    """A JSON array (or `{"contracts": [...]}`) of contract versions: each object is the
    `data` of a `contract.approved` (version 1) / `contract.amended` event, or of a
    `contract.terminated` one with `"type": "contract.terminated"`. `approved_on`
    (optional) is the day the version was approved in the CLM."""
    document = _read_json(path)
    items = document.get("contracts") if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise ExportFileError(f"{path}: expected a JSON array of contract versions (or {{'contracts': [...]}})")
    records = []
    for index, item in enumerate(items):
        where = f"[{index}]"
        if not isinstance(item, dict):
            rejected.append(RejectedRow(path.name, index + 1, where, "a contract version must be a JSON object"))
            continue
        data = dict(item)
        event_type = data.pop("type", None)
        approved_on_text = data.pop("approved_on", None)
        if event_type is None:
            event_type = "contract.approved" if data.get("version") == 1 else "contract.amended"
        if event_type not in CONTRACT_EVENT_TYPES:
            rejected.append(
                RejectedRow(path.name, index + 1, f"{where}.type", f"must be one of {', '.join(CONTRACT_EVENT_TYPES)}")
            )
            continue
        try:
            parsed = parse_event_data(event_type, data)
            approved_on = _date(approved_on_text, "approved_on") if approved_on_text else parsed.effective_date  # type: ignore[union-attr]
        except InvalidEventError as error:
            rejected.append(RejectedRow(path.name, index + 1, f"{where}.{error.field}", error.message))
            continue
        except ValueError as error:
            rejected.append(RejectedRow(path.name, index + 1, f"{where}.approved_on", str(error)))
            continue
        if shard is not None and not shard.keeps(event_type, data):
            continue
        kind = "termination" if event_type == "contract.terminated" else "contract"
        contract_id = str(data["contract_id"])
        records.append(
            HistoryRecord(
                known_on=approved_on,
                kind=kind,
                event_type=event_type,
                data=data,
                file=path.name,
                line=index + 1,
                source="clm",
                event_id=f"{contract_id}-v{data['version']}" + ("-terminated" if kind == "termination" else ""),
            )
        )
    return records


# --- actuals ---------------------------------------------------------------------------------


def _date(text: Any, name: str) -> date:
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        raise ValueError(f"not a YYYY-MM-DD date: {text!r}") from None


def _bool(text: str, name: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "1"):
        return True
    if lowered in ("false", "no", "0"):
        return False
    raise _RowError(name, f"must be true or false, not {text!r}")


def _int(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise _RowError(name, f"must be an integer, not {text!r}") from None


class _RowError(Exception):
    def __init__(self, field_name: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


def _cleaned(row: dict[str, Any]) -> dict[str, Any]:
    """CSV cells without blanks: an empty cell is an absent field."""
    return {k.strip(): v.strip() for k, v in row.items() if k is not None and v is not None and v.strip() != ""}


def _time_row(row: dict[str, Any], from_csv: bool) -> tuple[str, dict[str, Any], date | None]:
    data = _cleaned(row) if from_csv else dict(row)
    status = str(data.pop("status", "approved")).lower()
    approved_on = data.pop("approved_on", None)
    if status not in ("approved", "rejected"):
        raise _RowError("status", f"must be approved or rejected, not {status!r}")
    if from_csv:
        if "revision" in data:
            data["revision"] = _int(data["revision"], "revision")
        else:
            data["revision"] = 1
        if "billable" in data:
            data["billable"] = _bool(data["billable"], "billable")
        if "days" in data:
            data["days"] = _days(str(data["days"]))
    else:
        data.setdefault("revision", 1)
    if status == "rejected":
        data = {
            "entry_id": data.get("entry_id"),
            "revision": data.get("revision"),
            "contract_id": data.get("contract_id"),
        }
        return "time_entry.rejected", data, _date(approved_on, "approved_on") if approved_on else None
    return "time_entry.approved", data, _date(approved_on, "approved_on") if approved_on else None


def _days(text: str) -> list[dict[str, str]]:
    """`2026-01-05=8;2026-01-06=4.5` into the event's `days` array."""
    days = []
    for index, part in enumerate(p for p in text.split(";") if p.strip()):
        day, separator, hours = part.partition("=")
        if not separator:
            raise _RowError(f"days[{index}]", f"expected DATE=HOURS, got {part!r}")
        days.append({"date": day.strip(), "hours": hours.strip()})
    return days


def _expense_row(row: dict[str, Any], from_csv: bool) -> tuple[str, dict[str, Any], date | None]:
    data = _cleaned(row) if from_csv else dict(row)
    approved_on = data.pop("approved_on", None)
    if from_csv and "billable" in data:
        data["billable"] = _bool(data["billable"], "billable")
    return "expense.approved", data, _date(approved_on, "approved_on") if approved_on else None


def _milestone_row(row: dict[str, Any], from_csv: bool) -> tuple[str, dict[str, Any], date | None]:
    data = _cleaned(row) if from_csv else dict(row)
    approved_on = data.pop("approved_on", None)
    return "milestone.completed", data, _date(approved_on, "approved_on") if approved_on else None


ROW_READERS: dict[str, Callable[[dict[str, Any], bool], tuple[str, dict[str, Any], date | None]]] = {
    "time": _time_row,
    "expense": _expense_row,
    "milestone": _milestone_row,
}


def _known_on(event_type: str, data: dict[str, Any], approved_on: date | None) -> date:
    """The day the hub would have received the row: `approved_on` if given, else the
    last day worked (time), the expense date, the completion date."""
    if approved_on is not None:
        return approved_on
    if event_type == "time_entry.approved":
        days = data.get("days")
        if days:
            return max(_date(d.get("date"), "days.date") for d in days)
        return _date(data.get("work_date"), "work_date")
    if event_type == "expense.approved":
        return _date(data.get("date"), "date")
    if event_type == "milestone.completed":
        return _date(data.get("completed_on"), "completed_on")
    raise _RowError("approved_on", "a rejected entry needs approved_on (the day it was rejected)")


def _event_id(event_type: str, data: dict[str, Any]) -> str:
    if event_type.startswith("time_entry."):
        action = "rejected" if event_type == "time_entry.rejected" else "r"
        return f"{data.get('entry_id')}-{action}{data.get('revision')}"
    if event_type == "expense.approved":
        return str(data.get("expense_id"))
    return f"{data.get('contract_id')}-{data.get('milestone_id')}"


def _raw_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """(line, row, problem) of a CSV (with a header) or JSON-lines file."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames:
                raise ExportFileError(f"{path}: empty file (a CSV needs a header row)")
            for row in reader:
                if None in row:
                    yield reader.line_num, None, f"{len(row[None])} cell(s) more than the header has"
                    continue
                yield reader.line_num, row, None
        return
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        with path.open(encoding="utf-8-sig") as handle:
            for number, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                try:
                    row = json.loads(text)
                except json.JSONDecodeError as error:
                    yield number, None, f"not JSON: {error.msg} at column {error.colno}"
                    continue
                if not isinstance(row, dict):
                    yield number, None, "a JSON-lines row must be a JSON object"
                    continue
                yield number, row, None
        return
    raise ExportFileError(f"{path}: expected a .csv or .jsonl file")


def read_actuals(
    kind: str, path: Path, rejected: list[RejectedRow], *, validate: bool = True, shard: Shard | None = None
) -> Iterator[HistoryRecord]:
    """The file's valid rows as records, in file order; bad rows go to `rejected`.
    `validate=False` skips the event model (a quick pass for dates and counts)."""
    from_csv = path.suffix.lower() == ".csv"
    reader = ROW_READERS[kind]
    name = path.name
    for line, row, problem in _raw_rows(path):
        if row is None:
            rejected.append(RejectedRow(name, line, None, problem or "unreadable row"))
            continue
        try:
            event_type, data, approved_on = reader(row, from_csv)
            if shard is not None and not shard.keeps(event_type, data):
                continue  # another worker's contract: not validated twice
            if validate:
                parse_event_data(event_type, data)
            known_on = _known_on(event_type, data, approved_on)
        except _RowError as error:
            rejected.append(RejectedRow(name, line, error.field, error.message))
            continue
        except InvalidEventError as error:
            field_name = error.field.removeprefix("data.") if error.field else None
            rejected.append(RejectedRow(name, line, field_name, error.message))
            continue
        except ValueError as error:
            rejected.append(RejectedRow(name, line, "approved_on", str(error)))
            continue
        except (TypeError, AttributeError, KeyError) as error:  # only without `validate`: malformed shapes
            rejected.append(RejectedRow(name, line, None, f"malformed row ({error})"))
            continue
        yield HistoryRecord(
            known_on=known_on,
            kind=kind,
            event_type=event_type,
            data=data,
            file=name,
            line=line,
            source="psa",
            event_id=_event_id(event_type, data),
        )


DATE_COLUMNS = {"time": "work_date", "expense": "date", "milestone": "completed_on"}


@dataclass(frozen=True, slots=True)
class FileScan:
    ordered: bool
    rows: int
    last_day: str
    """The latest day a row is known on (ISO), "" if none."""


def _scan_order(kind: str, path: Path) -> FileScan:
    """Whether a file is in date order, its rows and its last day: a quick pass over
    the date cells (ISO dates compare as strings), nothing parsed or validated."""
    if path.suffix.lower() != ".csv":
        return _scan_records(read_actuals(kind, path, [], validate=False))
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [cell.strip() for cell in next(reader, [])]
        approved = header.index("approved_on") if "approved_on" in header else None
        dated = header.index(DATE_COLUMNS[kind]) if DATE_COLUMNS[kind] in header else None
        days = header.index("days") if "days" in header else None
        previous, last, count, ordered = "", "", 0, True
        for row in reader:
            if not row:
                continue
            count += 1
            key = ""
            if approved is not None and approved < len(row):
                key = row[approved].strip()
            if not key and dated is not None and dated < len(row):
                key = row[dated].strip()
            if not key and days is not None and days < len(row):
                key = max((part.partition("=")[0].strip() for part in row[days].split(";")), default="")
            if key and key < previous:
                ordered = False
            previous = key or previous
            if len(key) == 10 and key[:4].isdigit():  # a bad cell is the row's problem, found later
                last = max(last, key)
        return FileScan(ordered, count, last)


def _scan_records(records: Iterable[HistoryRecord]) -> FileScan:
    previous = None
    count = 0
    ordered = True
    last = ""
    for record in records:
        count += 1
        key = record.known_on
        if previous is not None and key < previous:
            ordered = False
        previous = key
        last = max(last, key.isoformat())
    return FileScan(ordered, count, last)


@dataclass
class HistoryStream:
    records: Iterator[HistoryRecord]
    total: int
    """Rows in all files (before any split between workers)."""
    last_day: date | None


def history_stream(files: HistoryFiles, rejected: list[RejectedRow], shard: Shard | None = None) -> HistoryStream:
    """Every record of the history (of one worker's contracts, given a shard) in the
    order the hub would have seen them. Files already in date order (the usual
    export) are streamed; a file out of order is sorted in memory."""
    streams: list[Iterable[HistoryRecord]] = []
    total = 0
    last = ""
    for path in files.contracts:
        everything = read_contracts(path, [])
        total += len(everything)
        last = max([last, *(r.known_on.isoformat() for r in everything)])
        streams.append(sorted(read_contracts(path, rejected, shard), key=lambda r: r.sort_key))
    for kind, path in files.actuals_files():
        scan = _scan_order(kind, path)
        total += scan.rows
        last = max(last, scan.last_day)
        if scan.ordered:
            streams.append(_lazy(kind, path, rejected, shard))
        else:
            streams.append(sorted(read_actuals(kind, path, rejected, shard=shard), key=lambda r: r.sort_key))
    try:
        last_day = date.fromisoformat(last) if last else None
    except ValueError:
        last_day = None
    return HistoryStream(heapq.merge(*streams, key=lambda r: r.sort_key), total, last_day)


def _lazy(kind: str, path: Path, rejected: list[RejectedRow], shard: Shard | None) -> Iterator[HistoryRecord]:
    yield from read_actuals(kind, path, rejected, shard=shard)


# --- legacy invoices -------------------------------------------------------------------------

LINE_COLUMNS = ("contract_id", "period", "kind", "ref", "amount")
INVOICE_COLUMNS = ("contract_id", "period", "total")


def read_legacy_invoices(path: Path, rejected: list[RejectedRow]) -> tuple[list[LegacyLine], list[LegacyInvoice]]:
    """A CSV per invoice line (`contract_id,period,kind,ref,quantity,rate,amount[,tax]`)
    or per invoice (`contract_id,period[,subtotal,tax],total`), told apart by the header."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [h.strip() for h in reader.fieldnames or ()]
        per_line = all(column in header for column in LINE_COLUMNS)
        if not per_line and not all(column in header for column in INVOICE_COLUMNS):
            raise ExportFileError(
                f"{path}: a legacy invoice CSV needs the columns {','.join(LINE_COLUMNS)} (per line) "
                f"or {','.join(INVOICE_COLUMNS)} (per invoice); found {','.join(header)}"
            )
        lines: list[LegacyLine] = []
        invoices: list[LegacyInvoice] = []
        for row in reader:
            where = f"{path.name}:{reader.line_num}"
            if None in row:
                rejected.append(RejectedRow(path.name, reader.line_num, None, "more cells than the header has"))
                continue
            cells = _cleaned(row)
            try:
                contract_id = _text(cells, "contract_id")
                period = _period(cells)
                if per_line:
                    lines.append(
                        LegacyLine(
                            contract_id=contract_id,
                            period=period,
                            kind=_text(cells, "kind"),
                            ref=_text(cells, "ref"),
                            quantity=_decimal(cells, "quantity"),
                            rate=_decimal(cells, "rate"),
                            amount=_required_decimal(cells, "amount"),
                            tax=_decimal(cells, "tax"),
                            location=where,
                        )
                    )
                else:
                    invoices.append(
                        LegacyInvoice(
                            contract_id=contract_id,
                            period=period,
                            subtotal=_decimal(cells, "subtotal"),
                            tax=_decimal(cells, "tax"),
                            total=_required_decimal(cells, "total"),
                            location=where,
                        )
                    )
            except _RowError as error:
                rejected.append(RejectedRow(path.name, reader.line_num, error.field, error.message))
    return lines, invoices


def _text(cells: dict[str, str], name: str) -> str:
    if name not in cells:
        raise _RowError(name, "is required")
    return cells[name]


def _period(cells: dict[str, str]) -> str:
    period = _text(cells, "period")
    if len(period) != 7 or period[4] != "-" or not (period[:4] + period[5:]).isdigit():
        raise _RowError("period", f"must be YYYY-MM, not {period!r}")
    return period


def _decimal(cells: dict[str, str], name: str) -> Decimal | None:
    if name not in cells:
        return None
    try:
        value = Decimal(cells[name])
    except InvalidOperation:
        raise _RowError(name, f"must be a decimal number, not {cells[name]!r}") from None
    if not value.is_finite():
        raise _RowError(name, f"must be a finite decimal number, not {cells[name]!r}")
    return value


def _required_decimal(cells: dict[str, str], name: str) -> Decimal:
    value = _decimal(cells, name)
    if value is None:
        raise _RowError(name, "is required")
    return value


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ExportFileError(f"{path}: no such file") from None
    except json.JSONDecodeError as error:
        raise ExportFileError(f"{path}: not JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
