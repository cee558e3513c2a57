"""`billbridge parallel-run` over the example history shipped in examples/parallel-run:
the reconciliation names every planted difference with the legacy invoices; bad
rows are refused by file, line and field; a run interrupted after a checkpoint
resumes to the same result as an uninterrupted one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from billbridge.cli.main import main
from billbridge.parallel_run import history_run
from billbridge.parallel_run.export_files import HistoryFiles
from billbridge.parallel_run.history_run import ResumeError, run_history

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "parallel-run"


def _differences(out: Path) -> set[tuple[str, str, str, str | None]]:
    reconciliation = json.loads((out / "reconciliation.json").read_text())
    return {
        (d["difference"], d["contract_id"], d["period"], None if d["line"] is None else d["line"]["ref"])
        for d in reconciliation["differences"]
    }


def test_the_example_history_reconciles_to_its_planted_differences(tmp_path: Path) -> None:
    out = tmp_path / "out"
    status = main(["parallel-run", "--history", str(EXAMPLE), "--out", str(out), "--no-progress"])

    assert status == 1  # differences with the legacy invoices
    report = json.loads((out / "replay-report.json").read_text())
    assert {i["proposal_id"] for i in report["invoices"]} == {
        f"{contract}-2026-{month:02d}-1" for contract in ("C-ACME", "C-BETA", "C-GAMMA") for month in (1, 2, 3)
    }
    assert {(e["type"], e["contract_id"]) for e in report["exceptions"]} == {
        ("invoiced_entry_changed", "C-BETA"),
        ("cap_exceeded", "C-BETA"),
    }
    assert _differences(out) == {
        ("amount", "C-ACME", "2026-02", "T-010"),  # the legacy system ignored the amendment
        ("rate", "C-ACME", "2026-02", "T-010"),
        ("tax", "C-ACME", "2026-02", None),
        ("tax", "C-ACME", "2026-03", None),  # an old tax rate
        ("amount", "C-BETA", "2026-01", "T-008"),  # the correction came after the invoice
        ("tax", "C-BETA", "2026-01", None),
        ("amount", "C-BETA", "2026-02", "T-012"),  # the legacy system ignored the cap
        ("missing", "C-BETA", "2026-02", "T-014"),
        ("tax", "C-BETA", "2026-02", None),
        ("missing", "C-GAMMA", "2026-02", "T-016"),  # a rejected entry billed anyway
        ("tax", "C-GAMMA", "2026-02", None),
        ("extra", "C-GAMMA", "2026-03", None),  # an invoice the legacy system never made
    }
    reconciliation = json.loads((out / "reconciliation.json").read_text())
    currencies = {i["contract_id"]: i["currency"] for i in report["invoices"]}
    assert currencies["C-BETA"] == "EUR" and currencies["C-ACME"] == "USD"
    assert all(d["currency"] == currencies[d["contract_id"]] for d in reconciliation["differences"])
    page = (out / "reconciliation.html").read_text()
    assert "<table>" in page and "T-016" in page and "C-GAMMA" in page and "<td>EUR</td>" in page
    summary = json.loads((out / "run-summary.json").read_text())
    assert summary["months_billed"] == ["2026-01", "2026-02", "2026-03"]
    assert [run["status"] for run in summary["billing_runs"]] == ["SUCCEEDED"] * 3
    assert summary["rejected_rows"] == []


def test_bad_rows_are_refused_by_file_line_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history = tmp_path / "history"
    shutil.copytree(EXAMPLE, history)
    entries = (history / "time_entries.csv").read_text().splitlines()
    entries.append("T-900,1,C-ACME,R-JO,senior,maybe,2026-03-24,8,,,")
    entries.append("T-901,1,C-ACME,R-JO,senior,true,2026-03-25,8.5.1,,,")
    (history / "time_entries.csv").write_text("\n".join(entries) + "\n")

    status = main(["parallel-run", "--history", str(history), "--out", str(tmp_path / "out"), "--no-progress"])

    assert status == 2
    printed = capsys.readouterr().out
    assert "time_entries.csv:27: billable: must be true or false, not 'maybe'" in printed
    assert "time_entries.csv:28: hours:" in printed
    refused = json.loads((tmp_path / "out" / "run-summary.json").read_text())["rejected_rows"]
    assert [(r["file"], r["line"], r["field"]) for r in refused] == [
        ("time_entries.csv", 27, "billable"),
        ("time_entries.csv", 28, "hours"),
    ]


def _comparable(report: dict[str, Any]) -> str:
    return json.dumps(report, sort_keys=True)


class _Crash(Exception):
    pass


def test_an_interrupted_run_resumes_from_its_last_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = HistoryFiles.in_directory(EXAMPLE)
    uninterrupted = run_history(files, tmp_path / "clean.sqlite", checkpoint_every=4)

    applied = 0
    original = history_run._apply

    def crash_after_twenty_records(hub: Any, record: Any) -> None:
        nonlocal applied
        applied += 1
        if applied > 20:
            raise _Crash
        original(hub, record)

    monkeypatch.setattr(history_run, "_apply", crash_after_twenty_records)
    store = tmp_path / "interrupted.sqlite"
    with pytest.raises(_Crash):
        run_history(files, store, checkpoint_every=4)
    monkeypatch.setattr(history_run, "_apply", original)

    resumed = run_history(files, store, checkpoint_every=4, resume=True)

    assert resumed.resumed_from == 20  # the last checkpoint before the crash: records 1-20 acknowledged
    assert resumed.records == uninterrupted.records
    assert _comparable(resumed.report) == _comparable(uninterrupted.report)


def test_resuming_another_history_is_refused(tmp_path: Path) -> None:
    store = tmp_path / "ledger.sqlite"
    run_history(HistoryFiles.in_directory(EXAMPLE), store)
    other = tmp_path / "other"
    shutil.copytree(EXAMPLE, other)
    (other / "milestones.csv").write_text("contract_id,milestone_id,completed_on\n")
    with pytest.raises(ResumeError):
        run_history(HistoryFiles.in_directory(other), store, resume=True)


def test_a_scenario_file_runs_directly_and_matches_its_expected_report(tmp_path: Path) -> None:
    scenarios = Path(__file__).resolve().parents[1] / "scenarios"
    status = main(
        [
            "parallel-run",
            "--scenario",
            str(scenarios / "02-amendment-split.json"),
            "--expected",
            str(scenarios / "02-amendment-split.expected.json"),
            "--out",
            str(tmp_path),
            "--no-progress",
        ]
    )
    assert status == 0
    summary = json.loads((tmp_path / "run-summary.json").read_text())
    assert summary["accepted"] > 0 and summary["refused"] == 0
    assert [run["status"] for run in summary["billing_runs"]] == ["SUCCEEDED"] * len(summary["billing_runs"])


def test_a_scenario_with_a_wrong_expectation_exits_non_zero(tmp_path: Path) -> None:
    scenarios = Path(__file__).resolve().parents[1] / "scenarios"
    wrong = tmp_path / "wrong.expected.json"
    wrong.write_text(json.dumps({"invoices": []}))
    status = main(
        [
            "parallel-run",
            "--scenario",
            str(scenarios / "01-time-and-materials.json"),
            "--expected",
            str(wrong),
            "--out",
            str(tmp_path / "out"),
            "--no-progress",
        ]
    )
    assert status == 1


def test_a_failing_billing_step_is_held_reported_and_exits_non_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from billbridge.app import run_billing

    compose = run_billing.compose_invoice

    def compose_failing_for_gamma(book: Any, **kwargs: Any) -> Any:
        if book.contract_id == "C-GAMMA":
            raise RuntimeError("the ERP mapping is broken")
        return compose(book, **kwargs)

    monkeypatch.setattr(run_billing, "compose_invoice", compose_failing_for_gamma)
    out = tmp_path / "out"
    status = main(["parallel-run", "--history", str(EXAMPLE), "--out", str(out), "--no-progress"])

    assert status == 3
    printed = capsys.readouterr().out
    assert "billing run 2026-01: FAILED" in printed
    assert "C-GAMMA: RuntimeError: the ERP mapping is broken" in printed
    assert "Traceback" in printed
    report = json.loads((out / "replay-report.json").read_text())
    assert not [i for i in report["invoices"] if i["contract_id"] == "C-GAMMA"]
    assert [e["type"] for e in report["exceptions"] if e["contract_id"] == "C-GAMMA"] == ["billing_failed"] * 3


def test_two_workers_give_the_report_of_one(tmp_path: Path) -> None:
    files = HistoryFiles.in_directory(EXAMPLE)
    alone = run_history(files, tmp_path / "one" / "ledger.sqlite", checkpoint_every=5)
    shared = run_history(files, tmp_path / "two" / "ledger.sqlite", checkpoint_every=5, workers=2)

    assert _comparable(shared.report) == _comparable(alone.report)
    assert [run.as_json() for run in shared.runs] == [run.as_json() for run in alone.runs]
    assert shared.published == alone.published
    assert [path.name for path in shared.stores] == ["ledger-1-of-2.sqlite", "ledger-2-of-2.sqlite"]
    assert all(path.exists() for path in shared.stores)
    assert len(shared.peak_rss_mb) == 2
