"""The parallel run at history scale: a generated year of a firm's exports through
`billbridge parallel-run`, end to end.

    python -m benchmarks.parallel_run [--entries 1000000 --contracts 2000 --months 12 --seed 7]

The generator is deterministic (seeded) and writes the export files a firm would
hand over (docs/parallel-run.md): `contracts.json` (versions 1 and amendments
with rate changes, caps on some contracts, milestones, expense policies),
`time_entries.csv` (one row per entry and day worked, in date order, some
corrected by a later revision), `expenses.csv`, `milestones.csv`,
`config.json`, and `legacy_invoices.csv` (one row per invoice line, as a legacy
system that rates hours by the rate card in force on the day and ignores caps
would bill them, with a few deliberate errors).

The run itself is a separate process (`python -m billbridge.cli.main
parallel-run --history DIR --out DIR`): its wall time gives end-to-end entries/s
(reading and validating the files, ingest, twelve billing runs, the report, the
reconciliation, checkpoints to SQLite) and its peak resident memory is read from
the child's rusage.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

YEAR = 2026
ROLES = ("consultant", "senior", "manager", "partner")
BASE_RATES = {"consultant": 120, "senior": 160, "manager": 210, "partner": 300}
CURRENCY = {"US01": ("USD", "US-NY"), "DE01": ("EUR", "DE")}
CONFIG = {
    "tax_rates": [
        {"jurisdiction": "US-NY", "rate": "0.08875", "effective_from": "2020-01-01"},
        {"jurisdiction": "DE", "rate": "0.19", "effective_from": "2020-01-01"},
    ],
    "legal_entities": [
        {"legal_entity": "US01", "erp_instance": "erp-us"},
        {"legal_entity": "DE01", "erp_instance": "erp-eu"},
    ],
}
CENT = Decimal("0.01")
GOAL_ENTRIES_PER_S = 1700
GOAL_SECONDS_FOR_1M = 600


@dataclass
class Version:
    number: int
    effective: date
    approved_on: date
    rates: dict[str, Decimal]
    resource_rates: dict[str, Decimal]


@dataclass
class Contract:
    contract_id: str
    legal_entity: str
    end: date
    team: list[tuple[str, str]]
    versions: list[Version] = field(default_factory=list)
    cap: Decimal | None = None
    milestones: list[tuple[str, Decimal, date]] = field(default_factory=list)
    markup: Decimal | None = None

    def rate_on(self, day: date, resource_id: str, role: str) -> Decimal:
        version = [v for v in self.versions if v.effective <= day][-1]
        return version.resource_rates.get(resource_id, version.rates[role])


def _business_days(months: int) -> list[date]:
    day, end = date(YEAR, 1, 1), date(YEAR, months + 1, 1) if months < 12 else date(YEAR + 1, 1, 1)
    days = []
    while day < end:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def generate(directory: Path, *, entries: int, contracts: int, months: int = 12, seed: int = 7) -> dict[str, Any]:
    """Write a history of `entries` time-entry rows over `contracts` contracts and `months` months."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    days = _business_days(months)
    last_day = days[-1]
    book: list[Contract] = []
    for n in range(1, contracts + 1):
        legal_entity = "US01" if n % 3 else "DE01"
        team = [(f"R{n:05d}-{k}", ROLES[rng.randrange(len(ROLES))]) for k in range(rng.randint(3, 6))]
        rates = {role: Decimal(BASE_RATES[role] + rng.randrange(-20, 21, 5)) for role in ROLES}
        named = {team[0][0]: rates[team[0][1]] + 15} if rng.random() < 0.1 else {}
        contract = Contract(f"C{n:05d}", legal_entity, date(YEAR, 12, 31), team)
        contract.versions.append(Version(1, date(YEAR, 1, 1), date(YEAR, 1, 1), rates, named))
        if rng.random() < 0.2:  # an amendment with a rate change; some approved after they take effect
            effective = days[rng.randrange(len(days) // 6, len(days) * 5 // 6)]
            approved = effective if rng.random() < 0.7 else min(effective + timedelta(days=rng.randint(1, 6)), last_day)
            uplift = Decimal(1) + Decimal(rng.randrange(3, 11)) / 100
            contract.versions.append(
                Version(
                    2,
                    effective,
                    approved,
                    {role: (rate * uplift).quantize(Decimal(1)) for role, rate in rates.items()},
                    {r: (rate * uplift).quantize(Decimal(1)) for r, rate in named.items()},
                )
            )
        if rng.random() < 0.15:  # a cap the work will reach
            contract.cap = Decimal(entries // contracts * 6 * 150 * rng.randrange(50, 90) // 100)
        if rng.random() < 0.2:
            contract.milestones = [
                (f"M{k}", Decimal(rng.randrange(2000, 10001, 500)), days[rng.randrange(len(days))]) for k in (1, 2)
            ]
        if rng.random() < 0.3:
            contract.markup = Decimal(rng.choice(("0", "0.05", "0.10")))
        book.append(contract)

    contract_documents = []
    for contract in book:
        currency, jurisdiction = CURRENCY[contract.legal_entity]
        for version in contract.versions:
            contract_documents.append(
                {
                    "contract_id": contract.contract_id,
                    "version": version.number,
                    "approved_on": version.approved_on.isoformat(),
                    "effective_date": version.effective.isoformat(),
                    "customer_id": f"CUST-{contract.contract_id}",
                    "legal_entity": contract.legal_entity,
                    "currency": currency,
                    "tax_jurisdiction": jurisdiction,
                    "start_date": f"{YEAR}-01-01",
                    "end_date": contract.end.isoformat(),
                    "rate_card": [{"role": role, "rate": str(rate)} for role, rate in version.rates.items()]
                    + [{"resource_id": r, "rate": str(rate)} for r, rate in version.resource_rates.items()],
                    "cap_amount": None if contract.cap is None else str(contract.cap),
                    "milestones": [
                        {"milestone_id": m, "name": f"Milestone {m}", "amount": str(a)}
                        for m, a, _ in contract.milestones
                    ],
                    "expense_policy": None
                    if contract.markup is None
                    else {"billable_categories": ["travel", "lodging"], "markup_pct": str(contract.markup)},
                }
            )
    (directory / "contracts.json").write_text(json.dumps(contract_documents, indent=1) + "\n", encoding="utf-8")
    (directory / "config.json").write_text(json.dumps(CONFIG, indent=2) + "\n", encoding="utf-8")

    legacy_rows: list[list[str]] = []
    deliberate_errors = 0
    per_day = entries / len(days)
    written = 0
    corrections: dict[date, list[list[str]]] = {}
    corrected = 0
    with (directory / "time_entries.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "entry_id",
                "revision",
                "contract_id",
                "resource_id",
                "role",
                "billable",
                "work_date",
                "hours",
                "approved_on",
            ]
        )
        for index, day in enumerate(days):
            target = round(per_day * (index + 1)) if index < len(days) - 1 else entries
            for row in corrections.pop(day, []):
                writer.writerow(row)
                corrected += 1
            while written < target:
                written += 1
                contract = book[rng.randrange(contracts)]
                resource_id, role = contract.team[rng.randrange(len(contract.team))]
                hours = Decimal(rng.randrange(4, 33)) / 4
                billable = rng.random() < 0.95
                entry_id = f"E{written:08d}"
                writer.writerow(
                    [
                        entry_id,
                        1,
                        contract.contract_id,
                        resource_id,
                        role,
                        str(billable).lower(),
                        day.isoformat(),
                        str(hours),
                        day.isoformat(),
                    ]
                )
                if rng.random() < 0.005:  # corrected a few days later (sometimes after the month was billed)
                    later = day + timedelta(days=rng.randint(1, 5))
                    while later.weekday() >= 5:
                        later += timedelta(days=1)
                    if later <= last_day:
                        corrections.setdefault(later, []).append(
                            [
                                entry_id,
                                2,
                                contract.contract_id,
                                resource_id,
                                role,
                                str(billable).lower(),
                                day.isoformat(),
                                str(hours + Decimal("0.5")),
                                later.isoformat(),
                            ]
                        )
                if billable:
                    rate = contract.rate_on(day, resource_id, role)
                    if rng.random() < 0.001:
                        rate += 5
                        deliberate_errors += 1
                    legacy_rows.append(
                        [
                            contract.contract_id,
                            f"{day:%Y-%m}",
                            "time",
                            entry_id,
                            str(hours),
                            str(rate),
                            _money(hours * rate),
                        ]
                    )

    expenses = 0
    with (directory / "expenses.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["expense_id", "contract_id", "date", "category", "amount", "currency", "billable"])
        for day in days:
            for _ in range(max(1, entries // 50 // len(days))):
                contract = book[rng.randrange(contracts)]
                expenses += 1
                category = rng.choice(("travel", "lodging", "meals"))
                amount = Decimal(rng.randrange(2000, 60000)) / 100
                currency, _ = CURRENCY[contract.legal_entity]
                writer.writerow(
                    [f"X{expenses:07d}", contract.contract_id, day.isoformat(), category, str(amount), currency, "true"]
                )
                if contract.markup is not None and category in ("travel", "lodging"):
                    legacy_rows.append(
                        [
                            contract.contract_id,
                            f"{day:%Y-%m}",
                            "expense",
                            f"X{expenses:07d}",
                            "1",
                            "",
                            _money(amount * (1 + contract.markup)),
                        ]
                    )

    completions = sorted((when, c.contract_id, m, amount) for c in book for m, amount, when in c.milestones)
    with (directory / "milestones.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["contract_id", "milestone_id", "completed_on"])
        for when, contract_id, milestone_id, amount in completions:
            writer.writerow([contract_id, milestone_id, when.isoformat()])
            legacy_rows.append(
                [contract_id, f"{when:%Y-%m}", "milestone", milestone_id, "1", str(amount), _money(amount)]
            )

    legacy_rows.sort(key=lambda row: (row[0], row[1]))
    with (directory / "legacy_invoices.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["contract_id", "period", "kind", "ref", "quantity", "rate", "amount"])
        writer.writerows(legacy_rows)
    return {
        "entries": entries,
        "corrections": corrected,
        "contracts": contracts,
        "contract_versions": len(contract_documents),
        "amended_contracts": sum(1 for c in book if len(c.versions) > 1),
        "capped_contracts": sum(1 for c in book if c.cap is not None),
        "expenses": expenses,
        "milestones": len(completions),
        "legacy_lines": len(legacy_rows),
        "legacy_deliberate_rate_errors": deliberate_errors,
        "seed": seed,
        "months": months,
    }


def run(
    *,
    entries: int = 1_000_000,
    contracts: int = 2000,
    months: int = 12,
    seed: int = 7,
    workdir: Path | None = None,
    checkpoint_every: int = 100_000,
    workers: int = 2,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="parallel-run-") as temp:
        base = workdir or Path(temp)
        history, out = base / "history", base / "out"
        started = time.perf_counter()
        generated = generate(history, entries=entries, contracts=contracts, months=months, seed=seed)
        generate_s = time.perf_counter() - started
        size_mb = sum(p.stat().st_size for p in history.iterdir()) / 1e6
        command = [
            sys.executable,
            "-m",
            "billbridge.cli.main",
            "parallel-run",
            "--history",
            str(history),
            "--out",
            str(out),
            "--no-progress",
            "--checkpoint-every",
            str(checkpoint_every),
            "--workers",
            str(workers),
        ]
        load_before = os.getloadavg()[0]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        completed = subprocess.run(command, capture_output=True, text=True, env={**os.environ}, check=False)
        wall_s = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        load_after = os.getloadavg()[0]
        if completed.returncode not in (0, 1):  # 1: differences with the legacy invoices, expected here
            raise RuntimeError(f"parallel-run exited {completed.returncode}:\n{completed.stdout}\n{completed.stderr}")
        summary = json.loads((out / "run-summary.json").read_text(encoding="utf-8"))
        reconciliation = json.loads((out / "reconciliation.json").read_text(encoding="utf-8"))["summary"]
        store_mb = sum(Path(store).stat().st_size for store in summary["stores"]) / 1e6
    entries_per_s = entries / wall_s
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "generated": generated,
        "generate_s": round(generate_s, 1),
        "export_mb": round(size_mb, 1),
        "records": summary["records"],
        "wall_s": round(wall_s, 1),
        "run_s": summary["seconds"],
        "entries_per_s": round(entries_per_s, 1),
        "workers": workers,
        "peak_rss_mb": round(after.ru_maxrss / 1024, 1),
        "peak_rss_mb_all_processes": round(
            summary["peak_rss_mb_main"] + (sum(summary["peak_rss_mb_per_worker"]) if workers > 1 else 0), 1
        ),
        "cpu_s": round(cpu_s, 1),
        "entries_per_cpu_s": round(entries / cpu_s, 1),
        "load_average_1m": [round(load_before, 1), round(load_after, 1)],
        "cpus": os.cpu_count(),
        "store_mb": round(store_mb, 1),
        "invoices": summary["invoices"],
        "exceptions": summary["exceptions"],
        "checkpoints": summary["checkpoints"],
        "billing_runs": [r["status"] for r in summary["billing_runs"]],
        "rejected_rows": len(summary["rejected_rows"]),
        "reconciliation": reconciliation,
        "goal_entries_per_s_min": GOAL_ENTRIES_PER_S,
        "goal_met": entries_per_s >= GOAL_ENTRIES_PER_S,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--contracts", type=int, default=2000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--checkpoint-every", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2, help="processes of the parallel run (one per core)")
    parser.add_argument("--keep", type=Path, help="generate into (and keep) this directory")
    parser.add_argument("--output", type=Path, help="also write the figures here (JSON)")
    args = parser.parse_args(argv)
    figures = run(
        entries=args.entries,
        contracts=args.contracts,
        months=args.months,
        seed=args.seed,
        workdir=args.keep,
        checkpoint_every=args.checkpoint_every,
        workers=args.workers,
    )
    text = json.dumps(figures, indent=2)
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + "\n", encoding="utf-8")
    return figures


if __name__ == "__main__":
    main()
