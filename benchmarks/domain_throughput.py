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
from billbridge.domain.rating import rate_time_entry
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
    generated: list[TimeEntry] = []
    first = date(2026, 2, 1)
    for index in range(entries):
        contract_id = contract_ids[rng.randrange(contracts)]
        start = first + timedelta(days=rng.randrange(0, 85))
        length = rng.choice((1, 1, 1, 5))  # mostly daily entries, some weekly timesheets
        days = tuple(
            WorkDay(date=start + timedelta(days=n), hours=Decimal(rng.randrange(25, 1000, 25)) / 100)
            for n in range(length)
        )
        named = rng.random() < 0.2
        number = int(contract_id[4:]) if named else 0
        generated.append(
            TimeEntry(
                entry_id=f"TE-{index:07d}",
                revision=1,
                contract_id=contract_id,
                resource_id=f"R-{number}-{rng.randrange(2)}" if named else None,
                role=rng.choice(ROLES),
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
    lines: list[BillingLine] = []
    for entry in book.entries:
        lines.extend(rate_time_entry(entry, timelines[entry.contract_id]).lines)
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

    lines = rate_all(book, timelines)
    books = books_of(book, lines)
    time_entries_in_period = sum(1 for line in lines if line.line_date.strftime("%Y-%m") == PERIOD)

    rating_s, floor_s, compose_s = [], [], []
    rating_gc, floor_gc, compose_gc = [], [], []
    for _ in range(args.repeat):
        floor_s.append(timed(lambda: floor_loop(book, first_rates)))
        rating_s.append(timed(lambda: rate_all(book, timelines)))
        compose_s.append(timed(lambda: compose_all(books, book.config)))
        floor_gc.append(timed(lambda: floor_loop(book, first_rates), collect=True))
        rating_gc.append(timed(lambda: rate_all(book, timelines), collect=True))
        compose_gc.append(timed(lambda: compose_all(books, book.config), collect=True))

    rating_gc_s = statistics.median(rating_gc)
    entries = len(book.entries)
    rating_eps = entries / statistics.median(rating_s)
    floor_eps = entries / statistics.median(floor_s)
    compose_eps = entries / statistics.median(compose_s)
    amended = sum(1 for known in book.versions.values() if len(known) > 1)
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
        "rating_s_median": round(statistics.median(rating_s), 4),
        "floor_s_median": round(statistics.median(floor_s), 4),
        "compose_s_median": round(statistics.median(compose_s), 4),
        "rating_entries_per_s": round(rating_eps),
        "compose_entries_per_s": round(compose_eps),
        "floor_entries_per_s": round(floor_eps),
        "rating_entries_per_s_gc_on": round(entries / rating_gc_s),
        "gc_on": {
            "how": "cyclic GC enabled, objects alive before the timed call frozen (gc.freeze)",
            "rating_entries_per_s": round(entries / rating_gc_s),
            "compose_entries_per_s": round(entries / statistics.median(compose_gc)),
            "floor_entries_per_s": round(entries / statistics.median(floor_gc)),
            "rating_vs_floor_ratio": round(statistics.median(rating_gc) / statistics.median(floor_gc), 2),
            "compose_vs_floor_ratio": round(statistics.median(compose_gc) / statistics.median(floor_gc), 2),
        },
        "rating_vs_floor_ratio": round(floor_eps / rating_eps, 2),
        "compose_vs_floor_ratio": round(floor_eps / compose_eps, 2),
        "clock": "process CPU time (time.process_time)",
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(figures, indent=2) + "\n")
    print(
        f"{entries} entries, {args.contracts} contracts ({amended} amended), {len(lines)} lines\n"
        f"rating      {rating_eps:>12,.0f} entries/s  ({floor_eps / rating_eps:.1f}x the floor)\n"
        f"composition {compose_eps:>12,.0f} entries/s  ({floor_eps / compose_eps:.1f}x the floor)\n"
        f"floor       {floor_eps:>12,.0f} entries/s  (Decimal multiply + quantize half-up)\n"
        f"figures written to {args.output.name}",
        file=sys.stdout,
    )
    return figures


if __name__ == "__main__":
    main()
