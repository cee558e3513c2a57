"""Size of the function code asset and of the dependency layer, built as the stack builds them.

    python -m benchmarks.package_size

Both are produced by the stack's own local bundlers (`infra.bundling`): the code
asset by `CodeAssetBundler` (the application package without the excluded
paths, byte-compiled), the layer by `DependencyLayerBundler` (pip for Linux arm64
and Python 3.13 from layers/dependencies/requirements.txt, downloads from the
package index, runtime-provided distributions removed, `LAYER_EXCLUSIONS` left
out, byte-compiled), each into a temporary directory. Reported: unpacked MB
(Lambda's limit is 250 MB for the function and its layers together; issue 19's
goal for the layer is 25 MB), zipped MB, file count, the largest top-level
packages of the layer, and the layer built without the exclusions, to show what
they take out.

What the smaller layer costs (decision 26): the first use of the cryptography
in a fresh process (import, key or cipher set-up, one operation), with the
layer's PyCryptodome and with the `cryptography` the layer shipped before, in
the runtime's Python 3.13 isolated from the development environment
(`-I -S`), both built for this machine's platform (arm64 binaries do not run
here), alternating, median of `--rounds`; once in a bare process and once after
what a function has loaded by then (boto3 with a KMS client, pydantic,
Powertools' logger and batch utilities), which already brings much of what the
libraries import (typing, ctypes, subprocess). The personal-data seal is the first
AES-GCM a contract delivery or the contracts consumer makes in a container;
the signature is the NetSuite client assertion, made once per access token.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
MB = 1024 * 1024
LAMBDA_UNZIPPED_LIMIT_MB = 250
LAYER_GOAL_MB = 25
PREVIOUS_CRYPTOGRAPHY = ("cryptography==50.0.2", "cffi==2.1.1", "pycparser==3.12")
"""What layers/dependencies/requirements.txt pinned for AES-GCM and signatures before decision 26."""

FUNCTION_PRELOAD = (
    "import boto3, pydantic, aws_lambda_powertools.logging, aws_lambda_powertools.utilities.batch\n"
    "boto3.client('kms', region_name='eu-west-1')\n"
)
"""What a function that seals or signs has imported before it does (its handler's module graph, roughly)."""
CONTEXTS = {"bare process": "", "after a function's imports": FUNCTION_PRELOAD}

FIRST_USE: dict[str, dict[str, str]] = {
    "AES-GCM seal (personal data)": {
        "PyCryptodome": "from Crypto.Cipher import AES\n"
        "c = AES.new(bytes(32), AES.MODE_GCM, nonce=bytes(12), mac_len=16)\n"
        "c.update(b'SOW-1'); c.encrypt_and_digest(b'ap@acme.example')",
        "cryptography": "from cryptography.hazmat.primitives.ciphers.aead import AESGCM\n"
        "AESGCM(bytes(32)).encrypt(bytes(12), b'ap@acme.example', b'SOW-1')",
    },
    "PS256 signature (NetSuite assertion, key read from PEM)": {
        "PyCryptodome": "from Crypto.Hash import SHA256\nfrom Crypto.PublicKey import RSA\n"
        "from Crypto.Signature import pss\n"
        "pss.new(RSA.import_key(PEM)).sign(SHA256.new(b'header.payload'))",
        "cryptography": "from cryptography.hazmat.primitives import hashes, serialization\n"
        "from cryptography.hazmat.primitives.asymmetric import padding\n"
        "key = serialization.load_pem_private_key(PEM.encode(), password=None)\n"
        "key.sign(b'header.payload', padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())",
    },
}
TOP_PACKAGES = 8


def tree_bytes(directory: Path) -> tuple[int, int]:
    """(bytes, files) under `directory`."""
    total = files = 0
    for path in directory.rglob("*"):
        if path.is_file():
            total += path.stat().st_size
            files += 1
    return total, files


def zipped_bytes(directory: Path, archive: Path) -> int:
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                zipped.write(path, path.relative_to(directory).as_posix())
    return archive.stat().st_size


def largest_packages(site: Path) -> dict[str, float]:
    sizes = {p.name: tree_bytes(p)[0] if p.is_dir() else p.stat().st_size for p in site.iterdir()}
    top = sorted(sizes.items(), key=lambda kv: kv[1], reverse=True)[:TOP_PACKAGES]
    return {name: round(size / MB, 2) for name, size in top}


def describe(directory: Path, archive: Path) -> dict[str, float | int]:
    size, files = tree_bytes(directory)
    return {
        "unpacked_mb": round(size / MB, 2),
        "zipped_mb": round(zipped_bytes(directory, archive) / MB, 2),
        "files": files,
    }


def _rsa_pem() -> str:
    from Crypto.PublicKey import RSA

    return RSA.generate(2048).export_key(format="PEM", pkcs=8).decode()


def first_use_ms(rounds: int) -> dict[str, Any]:
    """Median ms of each FIRST_USE statement in a fresh isolated runtime process, per library."""
    import statistics
    import subprocess

    from infra.bundling import DependencyLayerBundler, runtime_python
    from infra.layer_check import runtime_provided_tops, this_machines_wheel_platform

    python = runtime_python()
    if rounds <= 0 or python is None:
        return {"skipped": "no rounds asked" if rounds <= 0 else "the runtime's Python 3.13 is not installed"}
    command, extra_env = python
    wheel_platform = this_machines_wheel_platform()
    with tempfile.TemporaryDirectory(prefix="billbridge-first-use-") as temp:
        root = Path(temp)
        previous_requirements = root / "previous.txt"
        previous_requirements.write_text("\n".join(PREVIOUS_CRYPTOGRAPHY) + "\n", encoding="utf-8")
        sites = {"PyCryptodome": root / "layer", "cryptography": root / "previous"}
        for directory in sites.values():
            directory.mkdir()
        DependencyLayerBundler(
            requirements=REPO_ROOT / "layers" / "dependencies" / "requirements.txt", platform=wheel_platform
        ).try_bundle(str(sites["PyCryptodome"]))
        DependencyLayerBundler(requirements=previous_requirements, platform=wheel_platform, exclusions=()).try_bundle(
            str(sites["cryptography"])
        )
        provided = root / "runtime-provided"
        provided.mkdir()
        for location in runtime_provided_tops().values():
            (provided / location.name).symlink_to(location)
        pem = _rsa_pem()
        timings: dict[str, dict[str, list[float]]] = {
            f"{operation}, {context}": {library: [] for library in libraries}
            for operation, libraries in FIRST_USE.items()
            for context in CONTEXTS
        }
        for _ in range(rounds):
            for operation, libraries in FIRST_USE.items():
                for context, preload in CONTEXTS.items():
                    for library, statement in libraries.items():
                        path = [str(sites[library] / "python"), str(sites["PyCryptodome"] / "python"), str(provided)]
                        probe = (
                            "import sys, time\n"
                            f"sys.path[:0] = {path!r}\n"
                            f"PEM = {pem!r}\n"
                            f"{preload}"
                            "started = time.perf_counter()\n"
                            f"exec({statement!r})\n"
                            "print((time.perf_counter() - started) * 1000)\n"
                        )
                        result = subprocess.run(
                            [*command, "-I", "-S", "-c", probe],
                            capture_output=True,
                            text=True,
                            env={**os.environ, **extra_env},
                            check=True,
                        )
                        timings[f"{operation}, {context}"][library].append(float(result.stdout.strip()))
    return {
        "rounds": rounds,
        "platform": wheel_platform,
        "median_ms": {
            operation: {library: round(statistics.median(values), 1) for library, values in libraries.items()}
            for operation, libraries in timings.items()
        },
    }


def run(first_use_rounds: int = 0) -> dict[str, Any]:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from infra.bundling import CodeAssetBundler, DependencyLayerBundler

    with tempfile.TemporaryDirectory(prefix="billbridge-size-") as temp:
        root = Path(temp)
        code, layer = root / "code", root / "layer"
        code.mkdir()
        layer.mkdir()
        CodeAssetBundler(source=REPO_ROOT / "functions").try_bundle(str(code))
        requirements = REPO_ROOT / "layers" / "dependencies" / "requirements.txt"
        DependencyLayerBundler(requirements=requirements).try_bundle(str(layer))
        unexcluded = root / "layer-without-exclusions"
        unexcluded.mkdir()
        DependencyLayerBundler(requirements=requirements, exclusions=()).try_bundle(str(unexcluded))
        code_figures = describe(code, root / "code.zip")
        layer_figures = describe(layer, root / "layer.zip") | {"largest_mb": largest_packages(layer / "python")}
        unexcluded_figures = describe(unexcluded, root / "unexcluded.zip")
    total = code_figures["unpacked_mb"] + layer_figures["unpacked_mb"]
    return {
        "code_asset": code_figures,
        "dependency_layer": layer_figures,
        "code_asset_unpacked_mb": code_figures["unpacked_mb"],
        "layer_unpacked_mb": layer_figures["unpacked_mb"],
        "layer_goal_mb": LAYER_GOAL_MB,
        "layer_without_exclusions": unexcluded_figures,
        "total_unpacked_mb": round(total, 2),
        "lambda_unzipped_limit_mb": LAMBDA_UNZIPPED_LIMIT_MB,
        "first_use": first_use_ms(first_use_rounds),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=11, help="fresh processes per library for the first-use times")
    figures = run(first_use_rounds=parser.parse_args(argv).rounds)
    print(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
