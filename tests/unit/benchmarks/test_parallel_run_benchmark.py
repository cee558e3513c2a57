"""The history-scale benchmark: a deterministic generator, and a run at a tiny size
that produces its named figures (values are not judged here)."""

from __future__ import annotations

from pathlib import Path

from benchmarks import parallel_run, run_all


def _files(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def test_the_generator_is_deterministic_and_writes_every_export(tmp_path: Path) -> None:
    first = parallel_run.generate(tmp_path / "a", entries=400, contracts=12, months=3, seed=3)
    second = parallel_run.generate(tmp_path / "b", entries=400, contracts=12, months=3, seed=3)
    parallel_run.generate(tmp_path / "c", entries=400, contracts=12, months=3, seed=4)

    assert first == second
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert _files(tmp_path / "a") != _files(tmp_path / "c")
    assert set(_files(tmp_path / "a")) == {
        "config.json",
        "contracts.json",
        "time_entries.csv",
        "expenses.csv",
        "milestones.csv",
        "legacy_invoices.csv",
    }
    rows = (tmp_path / "a" / "time_entries.csv").read_text().splitlines()[1:]
    assert len(rows) == first["entries"] + first["corrections"]


def test_a_tiny_history_runs_end_to_end_and_renders(tmp_path: Path) -> None:
    figures = parallel_run.run(entries=300, contracts=10, months=2, seed=5, workdir=tmp_path)

    assert figures["records"] >= 300
    assert figures["billing_runs"] == ["SUCCEEDED", "SUCCEEDED"]
    assert figures["invoices"] > 0
    assert figures["rejected_rows"] == 0
    assert figures["entries_per_s"] > 0 and figures["peak_rss_mb"] > 0
    assert figures["reconciliation"]["lines_compared"] > 0
    assert "entries/s end to end" in run_all.render_parallel_run(figures)
