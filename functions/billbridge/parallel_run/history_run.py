"""A year of exported history through the hub's use cases, in bulk, on an SQLite ledger.

Order: every record is applied on the day the hub would have received it
(`HistoryRecord.known_on`); the billing run of a month runs once the history
has moved past that month (before the first record known on a later day), and
the months left at the end run last, up to `through`.

Checkpoints: the ledger keeps the books in memory (write-back) and commits
every `checkpoint_every` records and after every billing run, in one
transaction with the progress marker (records applied, months billed, the
input's fingerprint). A record is acknowledged once its checkpoint committed;
after a crash, `resume=True` reopens the store and skips exactly the
acknowledged records, so nothing acknowledged is lost or applied twice (and
re-applying one would change nothing: the rules are keyed by business identity).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from billbridge.adapters.sqlite_ledger import SqliteLedger
from billbridge.app.event_translation import IngestedEvent, billing_config_from
from billbridge.app.replay_report import build_replay_report
from billbridge.domain.billing_run import Period
from billbridge.parallel_run.bulk_hub import BulkHub
from billbridge.parallel_run.export_files import (
    HistoryFiles,
    HistoryRecord,
    RejectedRow,
    history_stream,
    read_config,
)

DEFAULT_CHECKPOINT_EVERY = 100_000

ProgressCallback = Callable[[int, int, str], None]
"""(records done, records in all, what is happening)"""


class ResumeError(Exception):
    """The store holds another history's progress: resuming would mix two inputs."""


@dataclass
class HistoryRunResult:
    report: dict[str, Any]
    hub: BulkHub
    records: int
    rejected: list[RejectedRow] = field(default_factory=list)
    resumed_from: int = 0
    checkpoints: int = 0
    seconds: float = 0.0
    periods: list[str] = field(default_factory=list)

    @property
    def failed_runs(self) -> list[str]:
        return [run.period for run in self.hub.runs if run.status != "SUCCEEDED"]


def _month(record: HistoryRecord) -> str:
    return f"{record.known_on.year:04d}-{record.known_on.month:02d}"


def _next_month(period: str) -> str:
    year, month = int(period[:4]), int(period[5:])
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}"


def months_between(first: str, last: str) -> list[str]:
    months = [first]
    while months[-1] < last:
        months.append(_next_month(months[-1]))
    return months


def run_history(
    files: HistoryFiles,
    store: Path,
    *,
    through: str | None = None,
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    resume: bool = False,
    progress: ProgressCallback | None = None,
) -> HistoryRunResult:
    started = time.perf_counter()
    if through is not None:
        Period.parse(through)
    fingerprint = files.fingerprint()
    if not resume and store.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{store}{suffix}").unlink(missing_ok=True)
    ledger = SqliteLedger(store, write_back=True)
    try:
        done_before = 0
        billed_through: str | None = None
        marker = ledger.progress()
        if resume and marker is not None:
            if marker.get("fingerprint") != fingerprint:
                raise ResumeError(
                    f"{store} holds the progress of another history (or of changed files): "
                    "run without --resume to start afresh"
                )
            done_before = int(marker["records"])
            billed_through = marker.get("billed_through")
        if files.config is not None:
            ledger.save_config(billing_config_from(read_config(files.config)))
        hub = BulkHub(ledger)
        rejected: list[RejectedRow] = []
        stream, total = history_stream(files, rejected)
        result = HistoryRunResult(report={}, hub=hub, records=0, rejected=rejected, resumed_from=done_before)

        def checkpoint(done: int) -> None:
            ledger.checkpoint({"fingerprint": fingerprint, "records": done, "billed_through": billed_through})
            result.checkpoints += 1
            # The books are long-lived and acyclic (freed by reference counting): keep the
            # cyclic collector from walking millions of them again after every checkpoint.
            gc.freeze()

        def bill_until(period: str, done: int) -> None:
            nonlocal billed_through
            first = _next_month(billed_through) if billed_through else period
            for month in months_between(first, period) if first <= period else []:
                if progress:
                    progress(done, total, f"billing {month}")
                hub.bill(month, None, request_id=f"parallel-run-{month}")
                billed_through = month
                result.periods.append(month)
                checkpoint(done)

        done = 0
        current_month: str | None = None
        for record in stream:
            month = _month(record)
            moved_on = current_month is not None and current_month < month
            if moved_on and current_month is not None and (billed_through is None or billed_through < current_month):
                bill_until(current_month, done)
            current_month = month
            done += 1
            if done <= done_before:
                continue
            _apply(hub, record)
            if done % checkpoint_every == 0:
                checkpoint(done)
            if progress and done % 1000 == 0:
                progress(done, total, f"history {month}")
        last = through or current_month
        if last is not None:
            bill_until(last, done)
        checkpoint(done)
        if progress:
            progress(done, total, "report")
        result.records = done
        result.report = build_replay_report(ledger.books())
        result.seconds = time.perf_counter() - started
        return result
    finally:
        ledger.close()


def _apply(hub: BulkHub, record: HistoryRecord) -> None:
    hub.consume(
        IngestedEvent(
            event_type=record.event_type,
            data=record.data,
            correlation_id=f"history:{record.file}:{record.line}",
            source=record.source,
            event_id=record.event_id,
        ),
        where=f"{record.file}:{record.line}",
    )
