"""The command line's one error handler: a user's mistake ends in one line on stderr and a
documented exit code, never in a traceback (unless asked with --debug)."""

from __future__ import annotations

from pathlib import Path

import pytest
from billbridge.cli.main import EXIT_HUB_FAILED, EXIT_OK, EXIT_USAGE, describe_error, main


def test_a_missing_scenario_file_is_one_line_and_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["replay", str(tmp_path / "missing.json"), "--report", str(tmp_path / "r.json")])

    captured = capsys.readouterr()
    assert code == EXIT_USAGE
    assert captured.err.startswith("billbridge: cannot read or write ") and "No such file" in captured.err
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert captured.out == ""


def test_a_file_that_is_not_json_is_one_line_and_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "scenario.json"
    scenario.write_text("contract_id,period\n", encoding="utf-8")

    code = main(["replay", str(scenario), "--report", str(tmp_path / "r.json")])

    assert code == EXIT_USAGE
    assert capsys.readouterr().err == "billbridge: not JSON: Expecting value at line 1, column 1\n"


def test_debug_shows_the_error_itself(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        main(["--debug", "replay", str(tmp_path / "missing.json"), "--report", str(tmp_path / "r.json")])


@pytest.mark.parametrize("period", ["2026-13", "2026-3", "March", "2026-00"])
def test_a_period_that_is_not_a_calendar_month_is_refused_before_anything_starts(
    period: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["bill", "--period", period])

    assert exit_.value.code == EXIT_USAGE
    assert f"argument --period: {period!r} is not a calendar month written YYYY-MM" in capsys.readouterr().err


def test_version_names_the_installed_package(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])

    assert exit_.value.code == EXIT_OK
    assert capsys.readouterr().out.startswith("billbridge ")


def test_an_unexpected_error_is_a_failure_with_a_hint_not_a_usage_error() -> None:
    code, message = describe_error(RuntimeError("boom"))

    assert code == EXIT_HUB_FAILED
    assert message == "failed: RuntimeError: boom (run with --debug, or BILLBRIDGE_DEBUG=1, for the traceback)"


def test_the_stack_comes_from_the_environment_when_not_given(monkeypatch: pytest.MonkeyPatch) -> None:
    from billbridge.cli.main import build_parser

    monkeypatch.setenv("BILLBRIDGE_STACK", "Billbridge-staging")
    assert build_parser(["contracts", "list"]).parse_args(["contracts", "list"]).stack == "Billbridge-staging"
    given = build_parser(["contracts", "list"]).parse_args(["contracts", "list", "--stack", "Billbridge-prod"])
    assert given.stack == "Billbridge-prod"
    monkeypatch.delenv("BILLBRIDGE_STACK")
    assert build_parser(["contracts", "list"]).parse_args(["contracts", "list"]).stack is None
