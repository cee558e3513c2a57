"""`billbridge demo` bills the built-in engagement; a failing billing step makes
`demo`, `replay` and `bill` say so and exit non-zero (3), with the traceback logged."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from billbridge.cli.main import EXIT_HUB_FAILED, EXIT_USAGE, main
from billbridge.local.store import LocalStore

from tests.acceptance.multi_contract import multi_contract_scenario

COMPOSE_HANDLER_MODULE = "billbridge.entrypoints.workflow.compose_invoice"
BROKEN_CONTRACT = "SOW-MC-02"


class ComposeCrashedError(RuntimeError):
    """What a bug in the compose step looks like to the state machine."""


def test_demo_bills_the_engagement(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.chdir(tmp_path)
    report_path, state = tmp_path / "demo-report.json", tmp_path / "state.sqlite"

    code = main(["demo", "--report", str(report_path), "--state-file", str(state)])

    printed = capsys.readouterr()
    out = printed.out
    assert code == 0, out + printed.err
    report = json.loads(report_path.read_text())
    invoices = {i["proposal_id"]: (i["currency"], i["status"], i["total"]) for i in report["invoices"]}
    assert invoices == {
        "SOW-GLX-2026-01-2026-01-1": ("USD", "paid", "31075.10"),
        "SOW-GLX-2026-01-2026-02-1": ("USD", "posted", "35645.68"),
        "SOW-GLX-2026-01-2026-03-1": ("USD", "proposed", "13173.88"),
        "SOW-GLX-DE-7-2026-02-1": ("EUR", "posted", "0.00"),
    }
    retainer = next(i for i in report["invoices"] if i["proposal_id"] == "SOW-GLX-DE-7-2026-02-1")
    assert sorted((line["kind"], line["amount"]) for line in retainer["lines"]) == [
        ("retainer", "-3150.00"),
        ("time", "3150.00"),
    ]
    assert {e["type"] for e in report["exceptions"]} == {
        "no_rate",
        "currency_mismatch",
        "invoiced_entry_changed",
        "sync_refused",
    }
    (refused,) = [e for e in report["exceptions"] if e["type"] == "sync_refused"]
    assert (refused["refs"], refused["state"]) == (["psa/UpsertProject/SOW-GLX-DE-7-v1"], "resolved")
    assert "psa refused psa/UpsertProject/SOW-GLX-DE-7-v1" in out and "retried: acknowledged as PRJ-" in out
    with LocalStore(state, create=False) as store:
        id_maps = {i["pk"]["S"]: json.loads(i["ids"]["S"]) for i in store.items("ledger") if i["sk"]["S"] == "IDS"}
    for contract_id in ("SOW-GLX-2026-01", "SOW-GLX-DE-7"):
        ids = id_maps[f"MAP#{contract_id}"]
        assert ids["psa_project_ref"].startswith("PRJ-") and ids["erp_billing_schedule_ref"].startswith("SCH-")
    for period in ("2026-01", "2026-02", "2026-03"):
        assert f"billing run {period}: SUCCEEDED" in out
    with LocalStore(state, create=False) as store:
        assert len([i for i in store.items("ledger") if i["sk"]["S"] == "HEAD"]) == 2


@pytest.fixture
def broken_compose(monkeypatch: pytest.MonkeyPatch) -> None:
    """The compose step crashes for one contract (every attempt), as a bug would."""
    import importlib

    module = importlib.import_module(COMPOSE_HANDLER_MODULE)
    real = module.lambda_handler

    def lambda_handler(event: dict[str, Any], context: Any) -> Any:
        if event.get("contract_id") == BROKEN_CONTRACT:
            raise ComposeCrashedError(f"cannot compose {BROKEN_CONTRACT}")
        return real(event, context)

    monkeypatch.setattr(module, "lambda_handler", lambda_handler)


def failure_output(capsys: Any, caplog: pytest.LogCaptureFixture) -> str:
    captured = capsys.readouterr()
    return captured.out + captured.err + caplog.text


def test_a_failing_billing_step_fails_replay(
    tmp_path: Path, broken_compose: None, capsys: Any, caplog: pytest.LogCaptureFixture
) -> None:
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps(multi_contract_scenario(contracts=4, entries_per_contract=1)))
    caplog.set_level(logging.ERROR)

    code = main(["replay", str(scenario), "--report", str(tmp_path / "r.json"), "--state-file", str(tmp_path / "s")])

    output = failure_output(capsys, caplog)
    assert code == EXIT_HUB_FAILED, output
    assert "FAILED" in output and BROKEN_CONTRACT in output and "ComposeCrashedError" in output
    assert "Traceback" in output and f"cannot compose {BROKEN_CONTRACT}" in output
    invoiced = {i["contract_id"] for i in json.loads((tmp_path / "r.json").read_text())["invoices"]}
    assert invoiced == {"SOW-MC-01", "SOW-MC-03", "SOW-MC-04"}


def test_a_failing_billing_step_fails_bill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, caplog: pytest.LogCaptureFixture
) -> None:
    scenario = multi_contract_scenario(contracts=4, entries_per_contract=1)
    scenario["steps"] = [step for step in scenario["steps"] if "billing_run" not in step]
    (tmp_path / "scenario.json").write_text(json.dumps(scenario))
    state = tmp_path / "state.sqlite"
    assert (
        main(
            [
                "replay",
                str(tmp_path / "scenario.json"),
                "--report",
                str(tmp_path / "r.json"),
                "--state-file",
                str(state),
            ]
        )
        == 0
    )
    capsys.readouterr()
    caplog.set_level(logging.ERROR)
    import importlib

    module = importlib.import_module(COMPOSE_HANDLER_MODULE)

    def crash(event: dict[str, Any], context: Any) -> Any:
        raise ComposeCrashedError("compose is broken")

    monkeypatch.setattr(module, "lambda_handler", crash)

    code = main(["bill", "--period", "2026-03", "--state-file", str(state)])

    output = failure_output(capsys, caplog)
    assert code == EXIT_HUB_FAILED, output
    assert "billing run" in output and "FAILED" in output and "ComposeCrashedError" in output
    assert "Traceback" in output


def test_a_failing_billing_step_fails_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, caplog: pytest.LogCaptureFixture
) -> None:
    import importlib

    module = importlib.import_module(COMPOSE_HANDLER_MODULE)
    real = module.lambda_handler

    def lambda_handler(event: dict[str, Any], context: Any) -> Any:
        if event.get("contract_id") == "SOW-GLX-DE-7":
            raise ComposeCrashedError("cannot compose the German SOW")
        return real(event, context)

    monkeypatch.setattr(module, "lambda_handler", lambda_handler)
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.ERROR)

    code = main(["demo", "--report", str(tmp_path / "d.json"), "--state-file", str(tmp_path / "s")])

    output = failure_output(capsys, caplog)
    assert code == EXIT_HUB_FAILED, output
    assert "billing run 2026-02: FAILED" in output and "SOW-GLX-DE-7" in output
    assert "Traceback" in output and "cannot compose the German SOW" in output


def test_exit_codes_are_documented_in_help(capsys: Any) -> None:
    for command in (["--help"], ["demo", "--help"], ["replay", "--help"], ["bill", "--help"]):
        with pytest.raises(SystemExit):
            main(command)
        text = capsys.readouterr().out
        assert "exit codes:" in text and f"{EXIT_HUB_FAILED}  the hub failed" in text


def test_a_message_dead_lettered_for_a_stated_reason_is_reported_and_the_replay_succeeds(
    tmp_path: Path, capsys: Any
) -> None:
    scenario = multi_contract_scenario(contracts=2, entries_per_contract=1)
    scenario["steps"].append(
        {
            "deliver": {
                "specversion": "1.0",
                "id": "erp-unknown-1",
                "source": "erp",
                "type": "invoice.posted",
                "time": "2026-04-02T09:00:00Z",
                "datacontenttype": "application/json",
                "data": {
                    "proposal_id": "SOW-NOPE-2026-03-1",
                    "invoice_number": "INV-X",
                    "posting_date": "2026-04-02",
                    "subtotal": "1.00",
                    "tax": "0.00",
                    "total": "1.00",
                    "currency": "EUR",
                },
            }
        }
    )
    (tmp_path / "scenario.json").write_text(json.dumps(scenario))

    code = main(
        [
            "replay",
            str(tmp_path / "scenario.json"),
            "--report",
            str(tmp_path / "r.json"),
            "--state-file",
            str(tmp_path / "s"),
        ]
    )

    out = capsys.readouterr().out
    assert code == 0, out
    assert "dead-lettered (the sender's error): 1 x feedback: UnknownInvoiceError" in out
    assert "SOW-NOPE-2026-03-1" in out and "billing run 2026-03 (step 5): SUCCEEDED" in out


def test_billing_a_contract_the_ledger_does_not_hold_is_refused_and_starts_nothing(tmp_path: Path, capsys: Any) -> None:
    scenario = multi_contract_scenario(contracts=2, entries_per_contract=1)
    scenario["steps"] = [step for step in scenario["steps"] if "billing_run" not in step]
    (tmp_path / "scenario.json").write_text(json.dumps(scenario))
    state = tmp_path / "state.sqlite"
    replay = [
        "replay",
        str(tmp_path / "scenario.json"),
        "--report",
        str(tmp_path / "r.json"),
        "--state-file",
        str(state),
    ]
    assert main(replay) == 0
    capsys.readouterr()

    code = main(["bill", "--period", "2026-03", "--contract", "SOW-NOPE", "--state-file", str(state), "--json"])

    captured = capsys.readouterr()
    assert code == EXIT_USAGE
    assert captured.err == "billbridge: no such contract: SOW-NOPE (see `billbridge contracts list`)\n"
    assert captured.out == ""
