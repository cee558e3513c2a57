"""Local stack states built once per module by replaying published scenarios; each test
works on its own copy and drives the operator CLI (`billbridge.cli.main.main`)."""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from billbridge.cli.hub_target import add_target_options
from billbridge.cli.main import main
from billbridge.local.scenario_replay import ScenarioReplayer, generate_webhook_secrets
from billbridge.local.stack import LocalStack

from tests.scenarios.catalog import load_scenario

AMENDMENTS = "02-amendment-split"
CAP = "03-cap-and-release"


def replayed_state(name: str, target: Path) -> Path:
    scenario, _ = load_scenario(name)
    secrets = generate_webhook_secrets()
    with LocalStack(secrets=secrets) as stack, ScenarioReplayer(stack, secrets) as replayer:
        result = replayer.run(scenario)
        stack.save(target)
    assert all(run.status == "SUCCEEDED" for run in result.runs), result.runs
    return target


@pytest.fixture(scope="session")
def amendments_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Scenario 02: an invoiced, paid month, then a retroactive amendment (an open retroactive_change)."""
    return replayed_state(AMENDMENTS, tmp_path_factory.mktemp("amendments") / "state.json")


@pytest.fixture(scope="session")
def cap_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Scenario 03: a not-to-exceed cap reached, then raised by a change order."""
    return replayed_state(CAP, tmp_path_factory.mktemp("cap") / "state.json")


@pytest.fixture
def state(amendments_state: Path, tmp_path: Path) -> Path:
    """A private copy of scenario 02's state: commands that change it do not leak into other tests."""
    return Path(shutil.copy(amendments_state, tmp_path / "state.json"))


def state_flag() -> str:
    """The target option naming the local state file."""
    probe = argparse.ArgumentParser()
    add_target_options(probe)
    options = {option for action in probe._actions for option in action.option_strings}
    return "--state" if "--state" in options else "--state-file"


@pytest.fixture(scope="session")
def state_option() -> str:
    return state_flag()


CliRunner = Callable[..., tuple[int, str]]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """`cli(*argv, state=path)` -> (exit code, stdout)."""
    monkeypatch.delenv("BILLBRIDGE_LOCAL_STATE", raising=False)

    def run(*argv: str, state: Path) -> tuple[int, str]:
        capsys.readouterr()
        code = main([*argv, state_flag(), str(state)])
        return code, capsys.readouterr().out

    yield run


@pytest.fixture
def cli_json(cli: CliRunner) -> Callable[..., Any]:
    """`cli_json(*argv, state=path)` -> the parsed `--json` output (the command must succeed)."""

    def run(*argv: str, state: Path) -> Any:
        code, out = cli(*argv, "--json", state=state)
        assert code == 0, out
        return json.loads(out)

    return run


def modules_loaded_by(commands: list[list[str]], state: Path, watched: tuple[str, ...]) -> list[str]:
    """Which of `watched` modules a fresh process has loaded once it has run `commands` (each
    `billbridge` argv, on `state`, each succeeding), as a user runs them one process at a time."""
    import subprocess
    import sys

    probe = (
        "import contextlib, io, json, sys\n"
        "from billbridge.cli.main import main\n"
        f"for argv in {commands!r}:\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        f"        assert main([*argv, '--state-file', {str(state)!r}]) == 0, argv\n"
        f"print(json.dumps(sorted(m for m in {watched!r} if m in sys.modules)), file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stderr.strip().splitlines()[-1]))
