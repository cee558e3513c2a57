"""Docker-free bundling of the Lambda code asset and of the dependencies layer.

Both bundlers run on the synthesizing machine (`cdk.ILocalBundling`) and always
report success, so CDK never falls back to Docker. Byte code is compiled with the
Lambda runtime's Python (3.13) when that interpreter is available: Lambda cannot
write `.pyc` files, and ones compiled by another Python version are ignored.
The `.pyc` files use unchecked hashes, because assets are zipped with fixed
timestamps, which would invalidate timestamp-checked byte code.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii

REPO_ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS_DIR = REPO_ROOT / "functions"
"""The functions' code: the source of the code asset."""
DEPENDENCIES_DIR = REPO_ROOT / "layers" / "dependencies"
"""The dependency layer's folder: its `requirements.txt` is the source of the layer."""
RUNTIME_PYTHON_VERSION = "3.13"
LAMBDA_PLATFORM = "manylinux2014_aarch64"
BUNDLING_IMAGE = cdk.DockerImage.from_registry(f"public.ecr.aws/sam/build-python{RUNTIME_PYTHON_VERSION}")
"""Required by `BundlingOptions` but never pulled: local bundling always succeeds."""

RUNTIME_PROVIDED_DISTRIBUTIONS: tuple[str, ...] = (
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "python_dateutil",
    "six",
    "urllib3",
)
"""The Lambda Python runtime ships these; copies in the layer would shadow them (+35 MB)."""


@dataclass(frozen=True)
class LayerExclusion:
    """Files of an installed distribution that no function uses at run time, and why.

    `paths` are globs relative to the layer's `python/` directory; each must match at least
    one file, so an upgrade that renames or drops them fails the build and this list is
    reviewed. Modules among them must not be imported by any module that stays (checked by
    `infra.layer_check`); `unused_names` are names the functions' code must not use for the
    exclusion to hold (data files are not modules: what reads them is named instead).
    """

    distribution: str
    paths: tuple[str, ...]
    reason: str
    unused_names: tuple[str, ...] = ()


LAYER_EXCLUSIONS: tuple[LayerExclusion, ...] = (
    LayerExclusion(
        distribution="pycryptodome",
        paths=("Crypto/SelfTest",),
        reason="PyCryptodome's own test suite (`python -m Crypto.SelfTest`); no module of the library imports it",
    ),
    LayerExclusion(
        distribution="pycryptodome",
        paths=(
            "Crypto/PublicKey/MLKEM.py",
            "Crypto/PublicKey/_mlkem*.so",
            "Crypto/PublicKey/MLDSA.py",
            "Crypto/PublicKey/_mldsa*.so",
            "Crypto/PublicKey/Hybrid.py",
            "Crypto/Signature/mldsa.py",
            "Crypto/Protocol/HPKE.py",
        ),
        reason="post-quantum ML-KEM / ML-DSA keys and the HPKE and hybrid schemes built on them; the functions "
        "use AES-GCM, RSA-PSS and ECDSA only, and the kept modules do not import these",
    ),
    LayerExclusion(
        distribution="aws-lambda-powertools",
        paths=(
            "aws_lambda_powertools/event_handler/openapi/swagger_ui/swagger-ui-bundle.min.js",
            "aws_lambda_powertools/event_handler/openapi/swagger_ui/swagger-ui.min.css",
        ),
        reason="the Swagger UI's script and style sheet, read only by the route `enable_swagger()` adds; no "
        "function serves a Swagger UI (docs/openapi.yaml is the published description)",
        unused_names=("enable_swagger",),
    ),
)
"""What the dependency layer leaves out of the installed wheels (docs/decisions/0026-a-layer-under-25-mb.md)."""


class LayerExclusionError(RuntimeError):
    """An exclusion no longer matches what the pinned distribution installs."""


CODE_ASSET_EXCLUDES: tuple[str, ...] = (
    "**/__pycache__",
    "**/*.pyc",
    "*.egg-info",
    "billbridge/cli",
    "billbridge/local",
    "**/tests",
    "**/test_*.py",
    # `make openapi`'s generator (it needs PyYAML); no function imports it (infra.layer_check).
    "billbridge/entrypoints/api/openapi_document.py",
)


@lru_cache(maxsize=1)
def runtime_python() -> tuple[tuple[str, ...], dict[str, str]] | None:
    """A command and environment that run Python 3.13, or None when there is none."""
    candidates: list[tuple[tuple[str, ...], dict[str, str]]] = []
    for name in (f"python{RUNTIME_PYTHON_VERSION}", "python"):
        executable = shutil.which(name)
        if executable:
            candidates.append(((executable,), {}))
            # pyenv shims answer only when the version is selected.
            candidates.append(((executable,), {"PYENV_VERSION": f"{RUNTIME_PYTHON_VERSION}.0"}))
    for command, extra_env in candidates:
        env = {**os.environ, **extra_env}
        try:
            result = subprocess.run(
                [*command, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                env=env,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            continue
        if result.returncode == 0 and result.stdout.strip() == RUNTIME_PYTHON_VERSION:
            return command, extra_env
    return None


def compile_bytecode(directory: Path, *, runtime_path: str) -> bool:
    """Compile every module under `directory` with the runtime's Python; False if unavailable.

    File names in the byte code are rewritten to `runtime_path` (where Lambda mounts the
    directory), so the output does not depend on where it was built.
    """
    python = runtime_python()
    if python is None:
        warnings.warn(
            f"Python {RUNTIME_PYTHON_VERSION} not found: {directory.name} is bundled without .pyc files "
            "(Lambda cold starts will compile the modules)",
            stacklevel=2,
        )
        return False
    command, extra_env = python
    subprocess.run(
        [
            *command,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            "-s",
            str(directory),
            "-p",
            runtime_path,
            str(directory),
        ],
        check=True,
        env={**os.environ, **extra_env},
        stdout=subprocess.DEVNULL,
    )
    return True


def _ignore(excludes: Iterable[str], root: Path) -> Any:
    relative_excludes = [pattern.removeprefix("**/") for pattern in excludes]

    def ignore(directory: str, names: list[str]) -> set[str]:
        here = Path(directory).relative_to(root)
        ignored: set[str] = set()
        for name in names:
            relative = (here / name).as_posix()
            if any(Path(relative).match(p) or Path(name).match(p) for p in relative_excludes):
                ignored.add(name)
        return ignored

    return ignore


@jsii.implements(cdk.ILocalBundling)
class CodeAssetBundler:
    """Copies the application package (without excluded paths) and byte-compiles it."""

    def __init__(self, *, source: Path, excludes: Iterable[str] = CODE_ASSET_EXCLUDES) -> None:
        self._source = source
        self._excludes = tuple(excludes)

    def try_bundle(self, output_dir: str, *_args: Any, **_kwargs: Any) -> bool:
        output = Path(output_dir)
        shutil.copytree(self._source, output, dirs_exist_ok=True, ignore=_ignore(self._excludes, self._source))
        compile_bytecode(output, runtime_path="/var/task")
        return True


@jsii.implements(cdk.ILocalBundling)
class DependencyLayerBundler:
    """Installs the pinned requirements as Linux arm64 wheels for Python 3.13 into `python/`,
    without the runtime-provided distributions and without `LAYER_EXCLUSIONS`.

    `platform` is the wheel platform; other than Lambda's only to build a layer this machine
    can import (infra.layer_check).
    """

    def __init__(
        self,
        *,
        requirements: Path,
        platform: str = LAMBDA_PLATFORM,
        exclusions: Iterable[LayerExclusion] = LAYER_EXCLUSIONS,
    ) -> None:
        self._requirements = requirements
        self._platform = platform
        self._exclusions = tuple(exclusions)
        self.left_out: tuple[str, ...] = ()
        """The files the exclusions took out of the last bundle, relative to `python/`."""

    def try_bundle(self, output_dir: str, *_args: Any, **_kwargs: Any) -> bool:
        target = Path(output_dir) / "python"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-compile",
                "--target",
                str(target),
                "--platform",
                self._platform,
                "--implementation",
                "cp",
                "--python-version",
                RUNTIME_PYTHON_VERSION,
                "--only-binary=:all:",
                "-r",
                str(self._requirements),
            ],
            check=True,
        )
        remove_distributions(target, RUNTIME_PROVIDED_DISTRIBUTIONS)
        self.left_out = tuple(leave_out(target, self._exclusions))
        # Console scripts are useless in a layer and carry this machine's interpreter path.
        shutil.rmtree(target / "bin", ignore_errors=True)
        compile_bytecode(target, runtime_path="/opt/python")
        return True


def leave_out(site_packages: Path, exclusions: Iterable[LayerExclusion]) -> list[str]:
    """Delete what each exclusion names (and its RECORD lines); the deleted paths, relative.

    Raises LayerExclusionError when a glob matches nothing.
    """
    removed: list[str] = []
    for exclusion in exclusions:
        for pattern in exclusion.paths:
            matches = sorted(site_packages.glob(pattern))
            if not matches:
                raise LayerExclusionError(
                    f"{exclusion.distribution}: {pattern!r} matches nothing in the installed layer; "
                    "review infra.bundling.LAYER_EXCLUSIONS against the pinned version"
                )
            for path in matches:
                files = [f for f in path.rglob("*") if f.is_file()] if path.is_dir() else [path]
                removed.extend(f.relative_to(site_packages).as_posix() for f in files)
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()
    gone = set(removed)
    for record in site_packages.glob("*.dist-info/RECORD"):
        lines = record.read_text(encoding="utf-8").splitlines()
        kept = [line for line in lines if line.split(",", 1)[0] not in gone]
        if len(kept) != len(lines):
            record.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return removed


def remove_distributions(site_packages: Path, names: Iterable[str]) -> None:
    """Delete installed distributions by the files their RECORD lists."""
    for name in names:
        for dist_info in site_packages.glob(f"{name}-*.dist-info"):
            record = dist_info / "RECORD"
            for line in record.read_text(encoding="utf-8").splitlines() if record.exists() else []:
                path = (site_packages / line.split(",", 1)[0]).resolve()
                if path.is_relative_to(site_packages.resolve()) and path.is_file():
                    path.unlink()
            shutil.rmtree(dist_info, ignore_errors=True)
    for directory in sorted((d for d in site_packages.rglob("*") if d.is_dir()), reverse=True):
        if not any(directory.iterdir()):
            directory.rmdir()
