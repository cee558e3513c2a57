"""The Docker-free bundlers: what goes into the code asset, what leaves the layer."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra import bundling
from infra.bundling import CodeAssetBundler, remove_distributions


def _write(path: Path, text: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_code_asset_leaves_out_the_cli_the_local_stack_and_caches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bundling, "compile_bytecode", lambda directory, runtime_path: False)
    source = tmp_path / "functions"
    for kept in (
        "billbridge/__init__.py",
        "billbridge/domain/rating.py",
        "billbridge/entrypoints/api/webhook.py",
    ):
        _write(source / kept)
    for dropped in (
        "billbridge/cli/main.py",
        "billbridge/local/server.py",
        "billbridge/__pycache__/topology.cpython-311.pyc",
        "billbridge.egg-info/PKG-INFO",
    ):
        _write(source / dropped)
    output = tmp_path / "out"

    assert CodeAssetBundler(source=source).try_bundle(str(output)) is True

    files = {p.relative_to(output).as_posix() for p in output.rglob("*") if p.is_file()}
    assert files == {
        "billbridge/__init__.py",
        "billbridge/domain/rating.py",
        "billbridge/entrypoints/api/webhook.py",
    }


def test_runtime_provided_distributions_are_removed_by_their_record(tmp_path: Path) -> None:
    site = tmp_path / "python"
    _write(site / "botocore/__init__.py")
    _write(site / "botocore/data/s3.json")
    _write(site / "botocore-1.0.dist-info/RECORD", "botocore/__init__.py,,\nbotocore/data/s3.json,,\n")
    _write(site / "pydantic/__init__.py")
    _write(site / "pydantic-2.0.dist-info/RECORD", "pydantic/__init__.py,,\n")

    remove_distributions(site, ["botocore"])

    assert sorted(p.relative_to(site).as_posix() for p in site.rglob("*")) == [
        "pydantic",
        "pydantic-2.0.dist-info",
        "pydantic-2.0.dist-info/RECORD",
        "pydantic/__init__.py",
    ]


@pytest.mark.skipif(bundling.runtime_python() is None, reason="needs the Lambda runtime's Python 3.13")
def test_byte_code_is_reproducible_and_names_the_runtime_path(tmp_path: Path) -> None:
    outputs = []
    for name in ("a", "b"):
        directory = tmp_path / name
        _write(directory / "module.py", "def f():\n    return 1\n")
        assert bundling.compile_bytecode(directory, runtime_path="/var/task") is True
        (pyc,) = directory.rglob("*.cpython-313.pyc")
        outputs.append(pyc.read_bytes())
    assert outputs[0] == outputs[1]
    assert b"/var/task/module.py" in outputs[0]
