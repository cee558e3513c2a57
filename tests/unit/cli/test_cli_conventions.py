"""The command line's conventions (docs/decisions/0014-cli-conventions.md): every mistake a user
can make is one line on stderr and a documented exit code; --output table|json|csv; warnings for
filters that match nothing; no overwriting of a local state without --yes; --actor only where a
command writes; tables that right-align amounts; read-only commands that import only what they print with."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from billbridge.cli import output, tables
from billbridge.cli.hub_target import wait_for_execution
from billbridge.cli.main import EXIT_DIFFERENCES, EXIT_OK, EXIT_USAGE, main
from billbridge.local.store import LocalStore

SCENARIO = {"name": "one delivery", "steps": []}


@pytest.fixture
def empty_state(tmp_path: Path) -> Path:
    """A local state with the store's schema and no rows (what `local serve` leaves before any delivery)."""
    path = tmp_path / "state.sqlite"
    LocalStore(path).close()
    return path


@pytest.fixture
def damaged_state(tmp_path: Path) -> Path:
    path = tmp_path / "damaged.sqlite"
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 200)
    return path


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `billbridge argv`, whether the command returned or argparse exited."""
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exited:
        code = int(exited.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


MISTAKES: list[tuple[str, Any, int, str]] = [
    ("a month that is not a calendar month", lambda p: ["bill", "--period", "2026-13"], EXIT_USAGE, "'2026-13'"),
    (
        "a scenario file that does not exist",
        lambda p: ["replay", str(p / "missing.json"), "--report", str(p / "r.json")],
        EXIT_USAGE,
        "cannot read or write",
    ),
    (
        "a scenario file that is not JSON",
        lambda p: ["replay", str(p / "scenario.csv"), "--report", str(p / "r.json")],
        EXIT_USAGE,
        "not JSON",
    ),
    (
        "an HTML report into a path under a file",
        lambda p: ["report", "--html", str(p / "scenario.csv" / "r.html"), "--state-file", str(p / "state.sqlite")],
        EXIT_USAGE,
        "cannot read or write",
    ),
    (
        "an exception state that is not one (no longer read as a path)",
        lambda p: ["exceptions", "list", "--state", "bogus"],
        EXIT_USAGE,
        "invalid choice: 'bogus'",
    ),
    (
        "--actor on a read-only command",
        lambda p: ["contracts", "list", "--actor", "alice", "--state-file", str(p / "state.sqlite")],
        EXIT_USAGE,
        "unrecognized arguments: --actor alice",
    ),
    (
        "a local state that does not exist",
        lambda p: ["contracts", "list", "--state-file", str(p / "nowhere.sqlite")],
        EXIT_USAGE,
        "no local state at",
    ),
    (
        "a damaged local state",
        lambda p: ["exceptions", "list", "--state-file", str(p / "damaged.sqlite")],
        EXIT_USAGE,
        "is damaged or not a Billbridge local state",
    ),
    (
        "a replay into an existing local state without --yes, not from a terminal",
        lambda p: [
            "replay",
            str(p / "scenario.json"),
            "--report",
            str(p / "r.json"),
            "--state-file",
            str(p / "state.sqlite"),
        ],
        EXIT_USAGE,
        "pass --yes to replace it",
    ),
    (
        "a demo into an existing local state without --yes, not from a terminal",
        lambda p: ["demo", "--report", str(p / "d.json"), "--state-file", str(p / "state.sqlite")],
        EXIT_USAGE,
        "pass --yes to replace it",
    ),
    ("an unknown command", lambda p: ["frobnicate"], EXIT_USAGE, "invalid choice: 'frobnicate'"),
    ("an unknown output format", lambda p: ["contracts", "list", "--output", "xml"], EXIT_USAGE, "invalid choice"),
    ("a wait that is not a duration", lambda p: ["bill", "--period", "2026-03", "--wait", "soon"], EXIT_USAGE, "soon"),
    (
        "a contract that is not known",
        lambda p: ["contracts", "show", "SOW-NOPE", "--state-file", str(p / "state.sqlite")],
        EXIT_DIFFERENCES,
        "no contract SOW-NOPE is known",
    ),
    (
        "a command that was never sent",
        lambda p: ["sync", "show", "erp/NOPE", "--state-file", str(p / "state.sqlite")],
        EXIT_DIFFERENCES,
        "no command erp/NOPE was sent",
    ),
]


@pytest.mark.parametrize(("mistake", "argv", "code", "says"), MISTAKES, ids=[m[0] for m in MISTAKES])
def test_a_mistake_is_one_line_on_stderr_and_a_documented_exit_code(
    mistake: str,
    argv: Any,
    code: int,
    says: str,
    tmp_path: Path,
    empty_state: Path,
    damaged_state: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "scenario.csv").write_text("contract_id,period\n", encoding="utf-8")
    (tmp_path / "scenario.json").write_text(json.dumps(SCENARIO), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # not a terminal: nobody to ask

    exit_code, out, err = run(argv(tmp_path), capsys)

    assert exit_code == code, err
    assert err.count("\n") == 1 and err.startswith("billbridge"), err
    assert says in err and "Traceback" not in err
    assert out == ""
    assert empty_state.stat().st_size > 0, "nothing replaced the existing state"


def test_every_exit_code_is_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--help"], capsys)

    assert code == EXIT_OK
    for documented in (
        "0  done",
        "1  done, with differences",
        "2  usage error",
        "3  the hub failed",
        "4  bill --stack",
    ):
        assert documented in out


def test_yes_replaces_an_existing_state_without_asking(tmp_path: Path, empty_state: Path) -> None:
    from billbridge.cli.target import confirm_replacing_state

    confirm_replacing_state(str(empty_state), yes=True, command="billbridge replay")  # no error, no question


def test_a_typed_yes_at_the_prompt_replaces_and_anything_else_keeps(
    empty_state: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from billbridge.cli.output import UsageError
    from billbridge.cli.target import confirm_replacing_state

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Terminal("y\n"))
    confirm_replacing_state(str(empty_state), yes=False, command="billbridge demo")
    assert "Replace it? [y/N]" in capsys.readouterr().err

    monkeypatch.setattr(sys, "stdin", Terminal("\n"))
    with pytest.raises(UsageError, match="kept the local state"):
        confirm_replacing_state(str(empty_state), yes=False, command="billbridge demo")


def test_a_filter_that_matches_nothing_warns_on_stderr_and_succeeds(
    empty_state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        ["exceptions", "list", "--type", "no_rate", "--contract", "SOW-X", "--state-file", str(empty_state)], capsys
    )

    assert code == EXIT_OK and out == "(none)\n"
    assert err == "billbridge: warning: no exceptions match --type no_rate --contract SOW-X\n"
    assert run(["exceptions", "list", "--state-file", str(empty_state)], capsys)[2] == ""  # no filter, no warning


def test_write_options_only_on_commands_that_write(capsys: pytest.CaptureFixture[str]) -> None:
    from billbridge.cli.main import build_parser

    approve = ["exceptions", "approve", "X", "--actor", "alice"]
    assert build_parser(approve).parse_args(approve).actor == "alice"
    for read_only in (["contracts", "list"], ["exceptions", "list"], ["report"], ["trace", "X"], ["dlq", "list"]):
        assert run([*read_only, "--actor", "alice"], capsys)[0] == EXIT_USAGE


def test_state_file_comes_from_the_environment(empty_state: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.delenv("BILLBRIDGE_LOCAL_STATE", raising=False)
    monkeypatch.setenv("BILLBRIDGE_STATE_FILE", str(empty_state))

    assert run(["contracts", "list"], capsys)[:2] == (EXIT_OK, "(none)\n")


def test_csv_is_one_row_per_item_with_lists_joined_and_nested_values_as_json(capsys: Any) -> None:
    output.print_csv(
        [
            {"id": "E-1", "amount": "610.00", "refs": ["TE-1", "TE-2"], "decision": None},
            {"id": "E-2", "amount": "-5.00", "refs": [], "decision": {"actor": "alice"}, "late": True},
        ]
    )

    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows == [
        ["id", "amount", "refs", "decision", "late"],
        ["E-1", "610.00", "TE-1; TE-2", "", ""],
        ["E-2", "-5.00", "", '{"actor":"alice"}', "true"],
    ]


def test_a_single_document_is_one_csv_row(capsys: Any) -> None:
    output.print_csv({"contract_id": "SOW-1", "versions": [{"version": 1}]})

    assert capsys.readouterr().out == 'contract_id,versions\nSOW-1,"[{""version"":1}]"\n'


def test_plain_tables_right_align_amounts_and_counts_and_keep_long_cells_whole(capsys: Any) -> None:
    long_detail = "x" * 300
    tables.print_table(
        ["contract", "total", "lines", "detail"],
        [["SOW-1", "610.00 EUR", "3", long_detail], ["SOW-22", "12,345.67 USD", "12", "-"]],
    )

    lines = capsys.readouterr().out.splitlines()
    assert lines[2].startswith("SOW-1   ")
    assert lines[2].index("610.00 EUR") + len("610.00 EUR") == lines[3].index("12,345.67 USD") + len("12,345.67 USD")
    assert lines[2].index(" 3 ") > lines[3].index("12") - 1
    assert lines[2].endswith(long_detail)


def test_a_rich_table_on_a_terminal_wraps_long_cells_and_keeps_markup_as_text(
    monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)

    tables.print_table(["id", "amount", "detail"], [["[bold]E-1[/bold]", "610.00 EUR", "word " * 40]])

    out = re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().out)  # the header's bold
    assert "[bold]E-1[/bold]" in out
    assert all(len(line) <= 60 for line in out.splitlines())
    assert out.count("word") == 40


class FakeStepFunctions:
    """describe_execution answers from a script of statuses (the last one repeats)."""

    def __init__(self, *statuses: str) -> None:
        self.statuses = list(statuses)
        self.calls = 0

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        status = self.statuses[min(self.calls, len(self.statuses) - 1)]
        self.calls += 1
        return {"status": status, **({"error": "States.TaskFailed"} if status == "FAILED" else {})}


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_bill_stack_polls_until_the_run_ends_and_shows_progress() -> None:
    clock, seen = FakeClock(), []
    sfn = FakeStepFunctions("RUNNING", "RUNNING", "FAILED")

    result = wait_for_execution(
        sfn, "arn:x", "2026-03-r1", wait_seconds=60, progress=lambda *a: seen.append(a), clock=clock, sleep=clock.sleep
    )

    assert result["status"] == "FAILED" and result["error"] == "States.TaskFailed"
    assert [s[1] for s in seen] == ["RUNNING", "RUNNING", "FAILED"]
    assert seen[-1][2] == 4.0 and seen[-1][3] == 60


def test_bill_stack_stops_waiting_at_its_limit_and_leaves_the_run_going() -> None:
    clock = FakeClock()
    sfn = FakeStepFunctions("RUNNING")

    result = wait_for_execution(sfn, "arn:x", "2026-03-r1", wait_seconds=10, clock=clock, sleep=clock.sleep)

    assert result["status"] == "RUNNING" and result["waited_out"] is True
    assert clock.now == 10 and sfn.calls == 6  # at 0, 2, 4, 6, 8 and 10 s


def test_read_only_commands_import_no_pydantic_boto3_domain_model_or_rich(empty_state: Path) -> None:
    """What `contracts list`, `exceptions list`, `sync list`, `dlq list` import (a fresh process)."""
    probe = (
        "import sys\n"
        "from billbridge.cli.main import main\n"
        "for argv in ({commands}):\n"
        "    assert main([*argv, '--state-file', {state!r}]) == 0\n"
        "heavy = sorted(m for m in ('pydantic', 'boto3', 'botocore', 'moto', 'rich', 'billbridge.domain.model',"
        " 'billbridge.adapters.dynamo_ledger', 'billbridge.local.stack') if m in sys.modules)\n"
        "print(heavy, file=sys.stderr)\n"
    ).format(
        commands=repr([["contracts", "list"], ["exceptions", "list"], ["sync", "list"], ["dlq", "list"]]),
        state=str(empty_state),
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False, timeout=120)

    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines()[-1] == "[]"
