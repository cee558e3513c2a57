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
import multiprocessing
import resource
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from billbridge.adapters.sqlite_ledger import SqliteLedger
from billbridge.app.billing_config_document import billing_config_from
from billbridge.app.event_translation import IngestedEvent
from billbridge.app.ports import RunStatus
from billbridge.domain.billing_run import Period
from billbridge.parallel_run.bulk_hub import BillingRunOutcome, BulkHub, DeadLetter
from billbridge.parallel_run.export_files import (
    HistoryFiles,
    HistoryRecord,
    RejectedRow,
    Shard,
    history_stream,
    read_config,
)
from billbridge.reporting.replay_report import build_replay_report

DEFAULT_CHECKPOINT_EVERY = 100_000

ProgressCallback = Callable[[int, int, str], None]
"""(records done, records in all, what is happening)"""


class ResumeError(Exception):
    """The store holds another history's progress: resuming would mix two inputs."""


@dataclass
class HistoryRunResult:
    report: dict[str, Any]
    records: int
    runs: list[BillingRunOutcome] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    published: Counter[str] = field(default_factory=Counter)
    rejected: list[RejectedRow] = field(default_factory=list)
    resumed_from: int = 0
    checkpoints: int = 0
    seconds: float = 0.0
    periods: list[str] = field(default_factory=list)
    peak_rss_mb: list[float] = field(default_factory=list)
    """Peak resident memory of each process that ran (one per worker)."""
    stores: list[Path] = field(default_factory=list)


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


def shard_stores(store: Path, workers: int) -> list[Path]:
    if workers == 1:
        return [store]
    return [store.with_name(f"{store.stem}-{i + 1}-of-{workers}{store.suffix}") for i in range(workers)]


def run_history(
    files: HistoryFiles,
    store: Path,
    *,
    through: str | None = None,
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    resume: bool = False,
    progress: ProgressCallback | None = None,
    workers: int = 1,
) -> HistoryRunResult:
    """The history through the hub; with `workers` > 1, in that many processes, each
    with its share of the contracts and its own store, the reports merged."""
    started = time.perf_counter()
    if through is not None:
        Period.parse(through)
    if workers < 1:
        raise ValueError("workers: at least 1")
    fingerprint = f"{files.fingerprint()}/{workers}"
    store.parent.mkdir(parents=True, exist_ok=True)
    stores = shard_stores(store, workers)
    if workers == 1:
        result = _run_shard(files, store, None, fingerprint, through, checkpoint_every, resume, progress)
    else:
        result = _run_sharded(files, stores, fingerprint, through, checkpoint_every, resume, progress)
    result.stores = stores
    result.seconds = time.perf_counter() - started
    return result


_SHARED_PROGRESS: Any = None
"""Records done per worker (a shared array inherited by forked workers)."""


def _run_sharded(
    files: HistoryFiles,
    stores: list[Path],
    fingerprint: str,
    through: str | None,
    checkpoint_every: int,
    resume: bool,
    progress: ProgressCallback | None,
) -> HistoryRunResult:
    global _SHARED_PROGRESS
    workers = len(stores)
    # Fork is quick and shares the progress counters; a process with other threads
    # running (a test session, an embedding program) spawns fresh interpreters instead.
    forking = "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1
    context = multiprocessing.get_context("fork" if forking else "spawn")
    _SHARED_PROGRESS = context.Array("q", workers, lock=False) if forking else None
    total = history_stream(files, []).total if progress else 0
    tasks = [
        (files, stores[i], Shard(i, workers), fingerprint, through, checkpoint_every, resume) for i in range(workers)
    ]
    try:
        # A pool of futures: a worker that dies ends the run with BrokenProcessPool, never a hang.
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [pool.submit(_worker, *task) for task in tasks]
            while True:
                done, _ = wait(futures, timeout=0.5)
                if len(done) == len(futures):
                    break
                if progress and _SHARED_PROGRESS is not None:
                    progress(sum(_SHARED_PROGRESS), total, "history")
            parts = [future.result() for future in futures]
    finally:
        _SHARED_PROGRESS = None
    return merge_results(parts)


def _worker(
    files: HistoryFiles,
    store: Path,
    shard: Shard,
    fingerprint: str,
    through: str | None,
    checkpoint_every: int,
    resume: bool,
) -> HistoryRunResult:
    shared = _SHARED_PROGRESS

    def report_progress(done: int, total: int, stage: str) -> None:
        if shared is not None:
            shared[shard.index] = done

    return _run_shard(files, store, shard, fingerprint, through, checkpoint_every, resume, report_progress)


def merge_results(parts: list[HistoryRunResult]) -> HistoryRunResult:
    """One result from the workers': the report as one process would have written it
    (every section in contract order), billing runs combined per month."""
    report: dict[str, Any] = {}
    for section in parts[0].report:
        values = [part.report[section] for part in parts]
        if isinstance(values[0], dict):  # keyed by contract (e.g. `unbilled`)
            report[section] = dict(sorted((k, v) for value in values for k, v in value.items()))
        else:  # items of contracts, each worker's in contract order: stable sort keeps the order within one
            merged = [item for value in values for item in value]
            report[section] = sorted(merged, key=lambda item: str(item.get("contract_id", "")))
    runs: dict[str, BillingRunOutcome] = {}
    for part in parts:
        for run in part.runs:
            combined = runs.setdefault(
                run.period,
                BillingRunOutcome(period=run.period, run_id=run.run_id, status=RunStatus.SUCCEEDED, contracts=0),
            )
            combined.contracts += run.contracts
            combined.proposals += run.proposals
            combined.failures += run.failures
            if run.status != RunStatus.SUCCEEDED:
                combined.status = run.status
    seen: set[RejectedRow] = set()
    rejected = []
    for row in sorted((r for part in parts for r in part.rejected), key=lambda r: (r.file, r.line)):
        if row not in seen:
            seen.add(row)
            rejected.append(row)
    published: Counter[str] = Counter()
    for part in parts:
        published.update(part.published)
    return HistoryRunResult(
        report=report,
        records=sum(part.records for part in parts),
        runs=[runs[period] for period in sorted(runs)],
        dead_letters=[letter for part in parts for letter in part.dead_letters],
        published=published,
        rejected=rejected,
        resumed_from=sum(part.resumed_from for part in parts),
        checkpoints=sum(part.checkpoints for part in parts),
        periods=parts[0].periods,
        peak_rss_mb=[mb for part in parts for mb in part.peak_rss_mb],
    )


def _run_shard(
    files: HistoryFiles,
    store: Path,
    shard: Shard | None,
    fingerprint: str,
    through: str | None,
    checkpoint_every: int,
    resume: bool,
    progress: ProgressCallback | None,
) -> HistoryRunResult:
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
                    f"{store} holds the progress of another history (or of changed files, or another "
                    "number of workers): run without --resume to start afresh"
                )
            done_before = int(marker["records"])
            billed_through = marker.get("billed_through")
        if files.config is not None:
            ledger.save_config(billing_config_from(read_config(files.config)))
        hub = BulkHub(ledger)
        rejected: list[RejectedRow] = []
        history = history_stream(files, rejected, shard)
        total = history.total
        result = HistoryRunResult(report={}, records=0, rejected=rejected, resumed_from=done_before)

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
        for record in history.records:
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
        last_seen = f"{history.last_day:%Y-%m}" if history.last_day else current_month
        last = through or last_seen
        if last is not None:
            bill_until(last, done)
        checkpoint(done)
        if progress:
            progress(done, total, "report")
        result.records = done
        result.report = build_replay_report(ledger.books())
        result.runs, result.dead_letters, result.published = hub.runs, hub.dead_letters, hub.publisher.counts
        result.peak_rss_mb = [peak_rss_mb()]
        return result
    finally:
        ledger.close()


def peak_rss_mb() -> float:
    """This process's peak resident memory (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


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
