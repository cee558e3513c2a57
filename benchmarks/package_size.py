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


def run() -> dict[str, Any]:
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
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    figures = run()
    print(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
