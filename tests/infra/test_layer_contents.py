"""The dependency layer as built: at most 25 MB unpacked, and every function still has at run
time what it imports (infra.layer_check). Builds the layer with pip from the pinned
requirements, as the stack does (the package index must be reachable)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from infra import bundling, layer_check
from infra.bundling import LayerExclusion, LayerExclusionError, leave_out
from infra.layer_check import Build
from tests.infra.conftest import Synthesized

LAYER_BUDGET_MB = 25.0
"""Issue 19: the dependency layer at most 25 MB unpacked (benchmarks/README.md, "Package size")."""


def _write(path: Path, text: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def lambda_build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Build]:
    yield layer_check.build(tmp_path_factory.mktemp("lambda-build"))


def test_the_layer_is_at_most_25_mb_unpacked(lambda_build: Build) -> None:
    size = sum(path.stat().st_size for path in lambda_build.layer.rglob("*") if path.is_file())
    assert size / (1024 * 1024) <= LAYER_BUDGET_MB


def test_the_layer_ships_neither_cryptography_nor_the_runtimes_sdk(lambda_build: Build) -> None:
    tops = {path.name for path in lambda_build.site.iterdir()}
    assert not tops & {"cryptography", "cffi", "pycparser", "boto3", "botocore"}
    assert {"Crypto", "aws_lambda_powertools", "pydantic", "pydantic_core"} <= tops


def test_every_exclusion_took_something_out_and_left_the_rest(lambda_build: Build) -> None:
    assert any(path.startswith("Crypto/SelfTest/") for path in lambda_build.left_out)
    assert "aws_lambda_powertools/event_handler/openapi/swagger_ui/swagger-ui-bundle.min.js" in lambda_build.left_out
    assert (lambda_build.site / "Crypto" / "Cipher" / "_mode_gcm.py").is_file()
    swagger_ui = lambda_build.site / "aws_lambda_powertools" / "event_handler" / "openapi" / "swagger_ui"
    assert (swagger_ui / "html.py").is_file()


def test_what_the_code_imports_is_shipped_and_nothing_kept_needs_what_was_left_out(lambda_build: Build) -> None:
    findings = layer_check.static_findings(lambda_build)
    assert findings.problems == []
    assert {"Crypto.Cipher.AES", "Crypto.Signature.pss", "pydantic"} <= findings.third_party


@pytest.mark.skipif(bundling.runtime_python() is None, reason="needs the Lambda runtime's Python 3.13")
def test_every_deployed_handler_imports_and_the_crypto_runs_from_the_code_asset_and_layer_alone(
    synthesized: Synthesized, tmp_path: Path
) -> None:
    handlers = layer_check.deployed_handlers(synthesized.template)
    assert "billbridge.entrypoints.api.webhook.lambda_handler" in handlers
    assert "billbridge.entrypoints.queues.consume_contracts.lambda_handler" in handlers
    local_build = layer_check.build(tmp_path, wheel_platform=layer_check.this_machines_wheel_platform())
    third_party = layer_check.static_findings(local_build).third_party

    report = layer_check.run_time_report(local_build, handlers=handlers, third_party=third_party)

    assert report["failures"] == []
    assert report["from_outside"] == []
    assert report["handlers"] == handlers
    assert report["crypto"] == ["AES-GCM", "PS256", "ES256"]


# --- the check and the exclusions can fail -----------------------------------------------------


def test_a_glob_that_matches_nothing_stops_the_build(tmp_path: Path) -> None:
    _write(tmp_path / "Crypto/__init__.py")
    with pytest.raises(LayerExclusionError, match="matches nothing"):
        leave_out(tmp_path, [LayerExclusion("pycryptodome", ("Crypto/SelfTest",), "tests")])


def test_left_out_files_leave_their_record_too(tmp_path: Path) -> None:
    _write(tmp_path / "Crypto/SelfTest/__init__.py")
    _write(tmp_path / "Crypto/Cipher/AES.py")
    _write(
        tmp_path / "pycryptodome-1.0.dist-info/RECORD",
        "Crypto/SelfTest/__init__.py,,\nCrypto/Cipher/AES.py,,\n",
    )
    removed = leave_out(tmp_path, [LayerExclusion("pycryptodome", ("Crypto/SelfTest",), "tests")])
    assert removed == ["Crypto/SelfTest/__init__.py"]
    assert not (tmp_path / "Crypto/SelfTest").exists()
    assert (tmp_path / "pycryptodome-1.0.dist-info/RECORD").read_text() == "Crypto/Cipher/AES.py,,\n"


def test_the_check_reports_a_kept_module_that_imports_a_left_out_one_and_a_missing_import(tmp_path: Path) -> None:
    site = tmp_path / "layer" / "python"
    _write(site / "Crypto/__init__.py")
    _write(site / "Crypto/Signature/pss.py", "def sign():\n    from ..PublicKey import MLKEM\n")
    _write(tmp_path / "code/billbridge/__init__.py")
    _write(
        tmp_path / "code/billbridge/adapters/signing.py",
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import annotations_only_package\n"
        "def sign():\n    import not_in_the_layer\n    from Crypto.Signature import pss\n"
        "def ui(app):\n    app.enable_swagger()\n",
    )
    built = Build(code=tmp_path / "code", layer=tmp_path / "layer", left_out=("Crypto/PublicKey/MLKEM.py",))

    findings = layer_check.static_findings(
        built, exclusions=[LayerExclusion("aws-lambda-powertools", ("x.js",), "ui", unused_names=("enable_swagger",))]
    )

    assert findings.imports_of_excluded == [
        "layer's Crypto/Signature/pss.py imports Crypto.PublicKey.MLKEM, which the layer leaves out"
    ]
    assert findings.missing == [
        "billbridge/adapters/signing.py imports not_in_the_layer, which neither the layer nor the runtime provides"
    ]
    assert len(findings.uses_of_unused_names) == 1
    assert "annotations_only_package" not in findings.third_party
