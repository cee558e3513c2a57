"""The dependency direction (domain <- app <- adapters/entrypoints) is enforced
by import-linter's contracts in pyproject.toml, not by a README."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_entrypoints_may_not_import_the_aws_sdk_is_a_contract() -> None:
    import tomllib

    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"][
        "contracts"
    ]
    forbidden = [
        set(contract["forbidden_modules"])
        for contract in contracts
        if contract.get("type") == "forbidden" and contract["source_modules"] == ["billbridge.entrypoints"]
    ]
    assert forbidden and {"boto3", "botocore"} <= forbidden[0]


ENVIRONMENT_READERS = {
    "settings.py": "the functions' settings",
    "local/": "the local stack gives each function it runs that function's environment",
    "cli/environment.py": "the command line's own variables (the target stack, the state file, debug)",
    "cli/main.py": "quiets the functions it runs in process, and puts their log switches back",
}


def test_the_functions_read_their_environment_only_in_settings() -> None:
    package = ROOT / "functions" / "billbridge"
    readers = sorted(
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if "os.environ" in (text := path.read_text(encoding="utf-8")) or "getenv(" in text
    )
    unexpected = [path for path in readers if not path.startswith(tuple(ENVIRONMENT_READERS))]
    assert unexpected == [], f"read the environment through billbridge.settings: {unexpected}"


def test_the_infrastructure_takes_shared_names_from_topology_not_from_lambda_code() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {line.strip()}"
        for path in (ROOT / "infra").rglob("*.py")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.lstrip().startswith(
            ("from billbridge.adapters", "from billbridge.entrypoints", "import billbridge.adapters")
        )
    ]
    assert offenders == []
