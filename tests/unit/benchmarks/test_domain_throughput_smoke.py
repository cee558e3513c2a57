"""The domain benchmark runs on a small book and reports every path against the floor."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import domain_throughput


def test_the_domain_benchmark_times_every_rating_path_and_composition(tmp_path: Path) -> None:
    output = tmp_path / "domain.json"
    figures = domain_throughput.main(
        ["--contracts", "20", "--entries", "400", "--repeat", "1", "--output", str(output)]
    )
    assert json.loads(output.read_text()) == json.loads(json.dumps(figures))
    assert figures["entries"] == 400
    for setting in (figures, figures["gc_on"]):
        assert isinstance(setting, dict)
        for name in ("rating", "rating_per_entry", "rating_fresh_timelines", "compose"):
            assert setting[f"{name}_entries_per_s"] > 0
            assert setting[f"{name}_vs_floor_ratio"] > 0


def test_the_book_is_made_contract_by_contract_with_the_entries_drawn_one_by_one() -> None:
    book = domain_throughput.generate(5, 60, 0.5, seed=3)
    contracts = [entry.contract_id for entry in book.entries]
    assert contracts == sorted(contracts, key=list(book.versions).index)
    numbers = sorted(int(entry.entry_id[3:]) for entry in book.entries)
    assert numbers == list(range(60))
