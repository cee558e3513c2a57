"""Throughput of the billing domain core on a generated book.

    python -m benchmarks.domain_throughput [--contracts N --entries M]

Generates a deterministic book (seeded random): `N` contracts with a rate card
of roles and named resources, amendments on a share of them (a second version
effective mid-quarter, so their entries split), and `M` approved time entries
of 1-5 days in February-April (weekly ones straddle a month end). It then times,
in the same process:

- rating: `rate_time_entry` over every entry against its contract's timeline;
- composition: `compose_invoice` per contract for one period over the rated book;
- the floor: a bare loop over the same entries that sums the hours and does one
  Decimal multiply-and-round (quantize half-up) per entry, nothing else.

Each is run `--repeat` times twice: with the cyclic GC off (as `timeit` does)
and with the GC on as in production, where what lived before the timed call is
frozen first (`gc.freeze()`: the parallel run freezes its books; a Lambda
invocation's heap is small), so collections walk what rating allocates, not
the generated book. Times are the process's CPU time (`time.process_time`), not
the wall clock, so that other processes on a shared machine do not enter the
figures. The medians are reported in entries/second with the ratio
to the floor of the same GC setting. The figures
are written to `benchmarks/results/domain.json`.
The large variant is `--contracts 10000 --entries 1000000` (amendments on 10%).
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from billbridge.domain.billing_run import compose_invoice
from billbridge.domain.book_draft import RuleContext
from billbridge.domain.model import (
    BillingConfig,
    BillingLine,
    ContractBook,
    ContractVersion,
    LegalEntityRoute,
    RateCardLine,
    TaxRate,
    TimeEntry,
    WorkDay,
)
from billbridge.domain.rating import rate_time_entries, rate_time_entry
from billbridge.domain.versions import VersionTimeline

RESULTS = Path(__file__).resolve().parent / "results" / "domain.json"
ROLES = ("consultant", "architect", "analyst", "engineer")
PERIOD = "2026-03"
QUANTUM = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class GeneratedBook:
    versions: dict[str, tuple[ContractVersion, ...]]
    entries: tuple[TimeEntry, ...]
    config: BillingConfig


def generate(contracts: int, entries: int, amend_share: float, seed: int) -> GeneratedBook:
    rng = random.Random(seed)
    versions: dict[str, tuple[ContractVersion, ...]] = {}
    for index in range(contracts):
        contract_id = f"SOW-{index:06d}"
        rate_card = tuple(
            RateCardLine(rate=Decimal(rng.randrange(8000, 25000)) / 100, role=role) for role in ROLES
        ) + tuple(
            RateCardLine(rate=Decimal(rng.randrange(15000, 30000)) / 100, resource_id=f"R-{index}-{n}")
            for n in range(2)
        )
        v1 = ContractVersion(
            contract_id=contract_id,
            version=1,
            effective_date=date(2026, 1, 1),
            customer_id=f"CUST-{index}",
            legal_entity="US01",
            currency="USD",
            tax_jurisdiction="US-NY",
            start_date=date(2026, 1, 1),
            end_date=date(2026, 12, 31),
            rate_card=rate_card,
        )
        known = [v1]
        if rng.random() < amend_share:
            raised = tuple(
                RateCardLine(
                    rate=line.rate + Decimal(rng.randrange(500, 3000)) / 100,
                    role=line.role,
                    resource_id=line.resource_id,
                )
                for line in rate_card
            )
            effective = date(2026, 2, 1) + timedelta(days=rng.randrange(0, 60))
            known.append(
                ContractVersion(**{**_fields(v1), "version": 2, "effective_date": effective, "rate_card": raised})
            )
        versions[contract_id] = tuple(known)

    contract_ids = list(versions)
    # Drawn entry by entry, made contract by contract: a book is read one contract at a time,
    # so a contract's entries lie together in memory (rating and the floor walk them so).
    drawn: dict[str, list[tuple[int, date, list[int], str | None, str]]] = {cid: [] for cid in contract_ids}
    first = date(2026, 2, 1)
    for index in range(entries):
        contract_id = contract_ids[rng.randrange(contracts)]
        start = first + timedelta(days=rng.randrange(0, 85))
        length = rng.choice((1, 1, 1, 5))  # mostly daily entries, some weekly timesheets
        hundredths = [rng.randrange(25, 1000, 25) for _ in range(length)]
        named = rng.random() < 0.2
        number = int(contract_id[4:]) if named else 0
        resource_id = f"R-{number}-{rng.randrange(2)}" if named else None
        drawn[contract_id].append((index, start, hundredths, resource_id, rng.choice(ROLES)))
    generated: list[TimeEntry] = []
    for contract_id, drawn_entries in drawn.items():
        for index, start, hundredths, resource_id, role in drawn_entries:
            days = tuple(
                WorkDay(date=start + timedelta(days=n), hours=Decimal(value) / 100)
                for n, value in enumerate(hundredths)
            )
            generated.append(
                TimeEntry(
                    entry_id=f"TE-{index:07d}",
                    revision=1,
                    contract_id=contract_id,
                    resource_id=resource_id,
                    role=role,
                    billable=True,
                    days=days,
                )
            )
    config = BillingConfig(
        tax_rates=(TaxRate("US-NY", Decimal("0.08875"), date(2020, 1, 1)),),
        legal_entities=(LegalEntityRoute("US01", "erp-us"),),
    )
    return GeneratedBook(versions=versions, entries=tuple(generated), config=config)


def _fields(version: ContractVersion) -> dict[str, object]:
    return {name: getattr(version, name) for name in ContractVersion.__slots__}  # type: ignore[attr-defined]


def timelines_of(book: GeneratedBook) -> dict[str, VersionTimeline]:
    return {
        contract_id: VersionTimeline.of({v.version: v for v in known}) for contract_id, known in book.versions.items()
    }


def rate_all(book: GeneratedBook, timelines: dict[str, VersionTimeline]) -> list[BillingLine]:
    """One call per entry, as an arriving entry is rated (`rate_time_entry`)."""
    lines: list[BillingLine] = []
    for entry in book.entries:
        lines.extend(rate_time_entry(entry, timelines[entry.contract_id]).lines)
    return lines


def entries_by_contract(book: GeneratedBook) -> dict[str, tuple[TimeEntry, ...]]:
    grouped: dict[str, list[TimeEntry]] = {contract_id: [] for contract_id in book.versions}
    for entry in book.entries:
        grouped[entry.contract_id].append(entry)
    return {contract_id: tuple(entries) for contract_id, entries in grouped.items()}


def rate_contracts(
    grouped: dict[str, tuple[TimeEntry, ...]], timelines: dict[str, VersionTimeline]
) -> list[BillingLine]:
    """One call per contract, as a book's entries are re-rated (`rate_time_entries`)."""
    lines: list[BillingLine] = []
    for contract_id, entries in grouped.items():
        lines.extend(rate_time_entries(entries, timelines[contract_id]).lines)
    return lines


def rate_books(book: GeneratedBook, grouped: dict[str, tuple[TimeEntry, ...]]) -> list[BillingLine]:
    """`rate_contracts` with each contract's timeline made in the call, as `reconcile_book`
    makes it: nothing worked out before (rate-card bases) is reused."""
    lines: list[BillingLine] = []
    for contract_id, entries in grouped.items():
        timeline = VersionTimeline.of({v.version: v for v in book.versions[contract_id]})
        lines.extend(rate_time_entries(entries, timeline).lines)
    return lines


def floor_loop(book: GeneratedBook, rates: list[Decimal]) -> Decimal:
    """One Decimal multiply-and-round per entry over the same entries: the floor."""
    total = Decimal(0)
    for entry, rate in zip(book.entries, rates, strict=True):
        hours = sum((day.hours for day in entry.days), Decimal(0))
        total += (hours * rate).quantize(QUANTUM, rounding=ROUND_HALF_UP)
    return total


def books_of(book: GeneratedBook, lines: list[BillingLine]) -> list[ContractBook]:
    by_contract: dict[str, dict[str, BillingLine]] = {contract_id: {} for contract_id in book.versions}
    contract_of = {entry.entry_id: entry.contract_id for entry in book.entries}
    for line in lines:
        by_contract[contract_of[line.ref]][line.line_id] = line
    return [
        ContractBook(
            contract_id=contract_id,
            versions={v.version: v for v in book.versions[contract_id]},
            lines=by_contract[contract_id],
        )
        for contract_id in book.versions
    ]


def compose_all(books: list[ContractBook], config: BillingConfig) -> int:
    context = RuleContext(correlation_id="bench")
    invoices = 0
    for contract_book in books:
        outcome = compose_invoice(contract_book, period=PERIOD, config=config, run_id="bench", context=context)
        invoices += outcome.invoice is not None
    return invoices


def timed(action: Callable[[], object], *, collect: bool = False) -> float:
    """CPU time of one call (the process's own, `time.process_time`: on a shared machine the
    wall clock also counts the time other processes hold the cores, which moved the ratios of
    one run by up to 1.6x). The cyclic GC is off unless `collect` (as `timeit` does); with
    `collect` it runs as in production, with what already lived before the call frozen
    (`gc.freeze()`, as the parallel run does with its books and as a Lambda invocation's
    small heap amounts to): collections walk what the call allocates, not the whole book."""
    gc.collect()
    if collect:
        gc.freeze()
    else:
        gc.disable()
    try:
        start = time.process_time()
        action()
        return time.process_time() - start
    finally:
        gc.enable()
        if collect:
            gc.unfreeze()


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=1000)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--amend-share", type=float, default=0.10)
    parser.add_argument("--seed", type=int, default=20260301)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    book = generate(args.contracts, args.entries, args.amend_share, args.seed)
    generation_s = time.perf_counter() - started
    timelines = timelines_of(book)
    first_rates: list[Decimal] = []
    for entry in book.entries:
        version = timelines[entry.contract_id].applicable_on(entry.days[0].date)
        assert version is not None
        rate_line = version.rate_for(entry.resource_id, entry.role)
        assert rate_line is not None
        first_rates.append(rate_line.rate)

    grouped = entries_by_contract(book)
    lines = rate_contracts(grouped, timelines)
    if lines != rate_all(book, timelines):
        raise AssertionError("rating a contract's entries in one call and one by one gave other lines")
    books = books_of(book, lines)
    time_entries_in_period = sum(1 for line in lines if line.line_date.strftime("%Y-%m") == PERIOD)

    measured: dict[str, Callable[[], object]] = {
        "floor": lambda: floor_loop(book, first_rates),
        "rating": lambda: rate_contracts(grouped, timelines),
        "rating_per_entry": lambda: rate_all(book, timelines),
        "rating_fresh_timelines": lambda: rate_books(book, grouped),
        "compose": lambda: compose_all(books, book.config),
    }
    seconds: dict[tuple[str, bool], list[float]] = {(name, gc_on): [] for name in measured for gc_on in (False, True)}
    for _ in range(args.repeat):
        for gc_on in (False, True):
            for name, action in measured.items():
                seconds[(name, gc_on)].append(timed(action, collect=gc_on))
    median = {key: statistics.median(values) for key, values in seconds.items()}

    entries = len(book.entries)
    amended = sum(1 for known in book.versions.values() if len(known) > 1)

    def setting(gc_on: bool) -> dict[str, object]:
        floor = median[("floor", gc_on)]
        shown: dict[str, object] = {}
        for name in measured:
            shown[f"{name}_entries_per_s"] = round(entries / median[(name, gc_on)])
            if name != "floor":
                shown[f"{name}_vs_floor_ratio"] = round(median[(name, gc_on)] / floor, 2)
        shown["us_per_entry"] = {name: round(median[(name, gc_on)] / entries * 1e6, 2) for name in measured}
        return shown

    gc_off, gc_on = setting(False), setting(True)
    figures: dict[str, object] = {
        "contracts": args.contracts,
        "entries": entries,
        "amended_contracts": amended,
        "lines": len(lines),
        "lines_in_period": time_entries_in_period,
        "period": PERIOD,
        "repeat": args.repeat,
        "seed": args.seed,
        "generation_s": round(generation_s, 3),
        "rating": "rate_time_entries, one call per contract (a book's re-rate); rating_per_entry: "
        "rate_time_entry, one call per entry (an arriving entry); rating_fresh_timelines: one call "
        "per contract with its timeline made in the call, as reconcile_book does",
        "rating_s_median": round(median[("rating", False)], 4),
        "floor_s_median": round(median[("floor", False)], 4),
        "compose_s_median": round(median[("compose", False)], 4),
        **gc_off,
        "rating_entries_per_s_gc_on": gc_on["rating_entries_per_s"],
        "gc_on": {"how": "cyclic GC enabled, objects alive before the timed call frozen (gc.freeze)", **gc_on},
        "clock": "process CPU time (time.process_time)",
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(figures, indent=2) + "\n")
    rows = [f"{entries} entries, {args.contracts} contracts ({amended} amended), {len(lines)} lines"]
    for title, shown in (("GC off (as timeit)", gc_off), ("GC on, as in production", gc_on)):
        rows.append(title)
        for name, label in (
            ("rating", "rating, one call per contract"),
            ("rating_per_entry", "rating, one call per entry"),
            ("rating_fresh_timelines", "rating per contract, timeline made in the call"),
            ("compose", "composition"),
        ):
            rows.append(
                f"  {label:<48} {shown[f'{name}_entries_per_s']:>10,} entries/s  "
                f"({shown[f'{name}_vs_floor_ratio']}x the floor)"
            )
        rows.append(
            f"  {'floor (Decimal multiply + quantize half-up)':<48} {shown['floor_entries_per_s']:>10,} entries/s"
        )
    rows.append(f"figures written to {args.output.name}")
    print("\n".join(rows), file=sys.stdout)
    return figures


if __name__ == "__main__":
    main()
