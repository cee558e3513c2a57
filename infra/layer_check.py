"""Every function has at run time what it imports: the code asset and the dependency layer as built.

    python -m infra.layer_check

Builds the code asset and the layer with the stack's own bundlers (infra.bundling) and checks:

1. On the layer Lambda gets (Linux arm64), by reading the modules:
   - every module the functions' code imports (at the top of a module or inside a function;
     not under `if TYPE_CHECKING:`), outside the standard library, is in the code asset, the
     layer or the distributions the Lambda runtime provides;
   - no module kept in the layer or the code asset imports a module that a
     `LayerExclusion` left out, and the functions' code uses none of an exclusion's
     `unused_names`.
2. On a layer built the same way for this machine's platform (arm64 binaries do not load on
   an x86_64 machine; the exclusions are the same file names on both), by running it: the
   runtime's Python 3.13, isolated from the development environment (`-I -S`, nothing on its
   path but the code asset, the layer and the runtime-provided distributions), imports the
   handler of every function the stack deploys and every third-party module the code
   imports, then seals and opens a personal-data token (AES-GCM) and signs a PS256 and an
   ES256 NetSuite client assertion with the layer's PyCryptodome.
"""

from __future__ import annotations

import ast
import json
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from infra.bundling import (
    DEPENDENCIES_DIR,
    FUNCTIONS_DIR,
    LAMBDA_PLATFORM,
    LAYER_EXCLUSIONS,
    RUNTIME_PROVIDED_DISTRIBUTIONS,
    CodeAssetBundler,
    DependencyLayerBundler,
    LayerExclusion,
    runtime_python,
)

REQUIREMENTS = DEPENDENCIES_DIR / "requirements.txt"
OWN_PACKAGE = "billbridge"


@dataclass(frozen=True)
class Build:
    """A code asset and a layer (`python/` inside) built side by side."""

    code: Path
    layer: Path
    left_out: tuple[str, ...]

    @property
    def site(self) -> Path:
        return self.layer / "python"


def build(directory: Path, *, wheel_platform: str = LAMBDA_PLATFORM) -> Build:
    code, layer = directory / "code", directory / "layer"
    code.mkdir(parents=True)
    layer.mkdir(parents=True)
    CodeAssetBundler(source=FUNCTIONS_DIR).try_bundle(str(code))
    bundler = DependencyLayerBundler(requirements=REQUIREMENTS, platform=wheel_platform)
    bundler.try_bundle(str(layer))
    return Build(code=code, layer=layer, left_out=bundler.left_out)


def this_machines_wheel_platform() -> str:
    return f"manylinux2014_{platform.machine()}"


# --- reading imports -------------------------------------------------------------------------


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk_run_time(node: ast.AST) -> Iterator[ast.AST]:
    """The nodes of `node`, without the bodies of `if TYPE_CHECKING:` (annotations only)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            for orelse in child.orelse:
                yield orelse
                yield from _walk_run_time(orelse)
            continue
        yield child
        yield from _walk_run_time(child)


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    else:
        parts[-1] = parts[-1].split(".", 1)[0]  # extension modules: name.abi3.so
    return ".".join(parts)


def imported_modules(root: Path, path: Path) -> set[str]:
    """Absolute names of the modules `path` imports at run time (`from a import b`: `a` and `a.b`)."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
    package = module_name(root, path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    names: set[str] = set()
    for node in _walk_run_time(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join([*base_parts, node.module] if node.module else base_parts)
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def used_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_bytes(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.Name):
            found.add(node.id)
    return found


def _python_files(root: Path) -> Iterator[Path]:
    return (path for path in sorted(root.rglob("*.py")) if "__pycache__" not in path.parts)


def module_exists(name: str, roots: Iterable[Path]) -> bool:
    parts = name.split(".")
    for root in roots:
        base = root.joinpath(*parts)
        if base.with_suffix(".py").is_file() or base.is_dir():
            return True
        if base.parent.is_dir() and any(base.parent.glob(f"{parts[-1]}.*.so")):
            return True
    return False


def excluded_modules(removed: Iterable[str]) -> set[str]:
    """Module names of the removed files (a package's modules each by its own name)."""
    names: set[str] = set()
    for relative in removed:
        path = Path(relative)
        if path.suffix in (".py", ".so") and "__pycache__" not in path.parts:
            names.add(module_name(Path("."), path))
    return names


# --- the runtime-provided distributions, from this environment --------------------------------


def runtime_provided_tops() -> dict[str, Path]:
    """Top-level module names of the runtime-provided distributions, and where they are installed here."""
    tops: dict[str, Path] = {}
    for name in RUNTIME_PROVIDED_DISTRIBUTIONS:
        distribution = metadata.distribution(name.replace("_", "-"))
        for file in distribution.files or ():
            first = file.parts[0]
            if first.endswith((".dist-info", ".egg-info")) or first in ("..", "__pycache__", "bin"):
                continue
            top = first.removesuffix(".py")
            tops[top] = Path(str(distribution.locate_file(first)))
    return tops


# --- the checks --------------------------------------------------------------------------------


@dataclass
class StaticFindings:
    third_party: set[str] = field(default_factory=set)
    missing: list[str] = field(default_factory=list)
    imports_of_excluded: list[str] = field(default_factory=list)
    uses_of_unused_names: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return [*self.missing, *self.imports_of_excluded, *self.uses_of_unused_names]


def static_findings(built: Build, *, exclusions: Iterable[LayerExclusion] = LAYER_EXCLUSIONS) -> StaticFindings:
    exclusions = tuple(exclusions)
    findings = StaticFindings()
    provided = runtime_provided_tops()
    stdlib = set(sys.stdlib_module_names)
    excluded = excluded_modules(built.left_out)

    def is_excluded(name: str) -> bool:
        return any(name == gone or name.startswith(gone + ".") for gone in excluded)

    for path in _python_files(built.code):
        where = path.relative_to(built.code).as_posix()
        for name in sorted(imported_modules(built.code, path)):
            top = name.split(".", 1)[0]
            if top in stdlib or top == "__future__":
                continue
            if is_excluded(name):
                findings.imports_of_excluded.append(f"{where} imports {name}, which the layer leaves out")
                continue
            if top == OWN_PACKAGE:
                parent = name.rpartition(".")[0]
                if not (module_exists(name, [built.code]) or module_exists(parent, [built.code])):
                    findings.missing.append(f"{where} imports {name}, which the code asset does not ship")
                continue
            findings.third_party.add(name)
            if top in provided:
                continue
            parent = name.rpartition(".")[0]
            if not (module_exists(name, [built.site]) or (parent and module_exists(parent, [built.site]))):
                findings.missing.append(f"{where} imports {name}, which neither the layer nor the runtime provides")
        names = used_names(path)
        for exclusion in exclusions:
            for unused in exclusion.unused_names:
                if unused in names:
                    findings.uses_of_unused_names.append(
                        f"{where} uses {unused}: {exclusion.distribution}'s {', '.join(exclusion.paths)} "
                        "are left out of the layer"
                    )
    for path in _python_files(built.site):
        for name in imported_modules(built.site, path):
            if is_excluded(name):
                where = path.relative_to(built.site).as_posix()
                findings.imports_of_excluded.append(f"layer's {where} imports {name}, which the layer leaves out")
    return findings


EXERCISED = {
    "seal": "billbridge.adapters.field_encryption:seal_aes_gcm",
    "open": "billbridge.adapters.field_encryption:open_aes_gcm",
    "sign": "billbridge.adapters.vendors.netsuite_oauth:signed_assertion",
    "credentials": "billbridge.adapters.vendors.netsuite_oauth:MachineCredentials",
}
"""What the probe runs in the built code asset (the infrastructure itself imports no function code)."""

RUN_TIME_PROBE = r"""
import importlib, json, sys
request = json.loads(sys.argv[1])
sys.path[:0] = request["path"]
report = {"handlers": [], "third_party": [], "failures": []}
for handler in request["handlers"]:
    module, _, function = handler.rpartition(".")
    try:
        if not callable(getattr(importlib.import_module(module), function)):
            report["failures"].append(f"{handler} is not callable")
        report["handlers"].append(handler)
    except Exception as error:
        report["failures"].append(f"{handler}: {type(error).__name__}: {error}")
for name in request["third_party"]:
    # `from a import b` is recorded as `a.b`: a module, or else an attribute of `a`
    try:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as error:
            parent, _, attribute = name.rpartition(".")
            if error.name != name or not parent or not hasattr(importlib.import_module(parent), attribute):
                raise
        report["third_party"].append(name)
    except Exception as error:
        report["failures"].append(f"import {name}: {type(error).__name__}: {error}")
try:
    # the functions' own AES-GCM and NetSuite signing, by the names infra.layer_check.EXERCISED gives
    def resolve(reference):
        module, _, name = reference.partition(":")
        return getattr(importlib.import_module(module), name)
    roles = ("seal", "open", "sign", "credentials")
    seal, open_, sign, credentials = (resolve(request["exercised"][role]) for role in roles)
    key, nonce, field = bytes(range(32)), bytes(12), b"SOW-1\x1f1\x1fbilling_contact.email"
    assert open_(key, nonce, seal(key, nonce, b"ap@acme.example", field), field) == b"ap@acme.example"
    for algorithm, pem in request["keys"].items():
        sign(credentials("client", "cert", pem), token_url="https://a.example/token",
             scopes=("rest_webservices",), algorithm=algorithm, issued_at=1, jwt_id="probe")
    report["crypto"] = ["AES-GCM", *request["keys"]]
except Exception as error:
    report["failures"].append(f"cryptography at run time: {type(error).__name__}: {error}")
report["modules_loaded"] = len(sys.modules)
report["from_outside"] = sorted(
    name for name, module in sys.modules.items()
    if getattr(module, "__file__", None) and not any(module.__file__.startswith(p) for p in request["allowed"])
)
print(json.dumps(report))
"""


def _signing_keys() -> dict[str, str]:
    """A throw-away RSA and P-256 key for the probe's signatures (made by the development environment)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    def pem(key: Any) -> str:
        return str(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode()
        )

    return {
        "PS256": pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        "ES256": pem(ec.generate_private_key(ec.SECP256R1())),
    }


def run_time_report(built: Build, *, handlers: Iterable[str], third_party: Iterable[str]) -> dict[str, Any]:
    """What the isolated runtime Python found importing the handlers and the third-party modules."""
    python = runtime_python()
    if python is None:
        raise RuntimeError("the Lambda runtime's Python 3.13 is needed to import the built layer")
    command, extra_env = python
    with tempfile.TemporaryDirectory(prefix="billbridge-runtime-") as provided_dir:
        provided = Path(provided_dir)
        for location in runtime_provided_tops().values():
            (provided / location.name).symlink_to(location)
        stdlib = Path(
            subprocess.run(
                [*command, "-I", "-S", "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"],
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ, **extra_env},
            ).stdout.strip()
        )
        request = {
            "path": [str(built.code), str(built.site), str(provided)],
            "handlers": sorted(set(handlers)),
            "third_party": sorted(set(third_party)),
            "keys": _signing_keys(),
            "exercised": EXERCISED,
            "allowed": [str(built.code), str(built.site), str(provided), str(stdlib)]
            + [str(location) for location in runtime_provided_tops().values()],
        }
        environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))},
            **extra_env,
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "POWERTOOLS_SERVICE_NAME": "billbridge",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
        result = subprocess.run(
            [*command, "-I", "-S", "-c", RUN_TIME_PROBE, json.dumps(request)],
            capture_output=True,
            text=True,
            env=environment,
            timeout=300,
            check=False,
        )
    if result.returncode != 0:
        raise RuntimeError(f"the probe failed: {result.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def deployed_handlers(template: dict[str, Any]) -> list[str]:
    return sorted(
        {
            resource["Properties"]["Handler"]
            for resource in template["Resources"].values()
            if resource["Type"] == "AWS::Lambda::Function"
            and str(resource.get("Properties", {}).get("Handler", "")).startswith(f"{OWN_PACKAGE}.")
        }
    )


def main() -> int:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from infra.synth import synthesize_template

    handlers = deployed_handlers(synthesize_template())
    with tempfile.TemporaryDirectory(prefix="billbridge-layer-check-") as temp:
        root = Path(temp)
        lambda_build = build(root / "lambda")
        findings = static_findings(lambda_build)
        local_build = build(root / "local", wheel_platform=this_machines_wheel_platform())
        report = run_time_report(local_build, handlers=handlers, third_party=findings.third_party)
    problems = findings.problems + report["failures"] + [f"loaded from outside: {m}" for m in report["from_outside"]]
    print(
        json.dumps(
            {
                "handlers_imported": len(report["handlers"]),
                "third_party_modules_imported": len(report["third_party"]),
                "modules_loaded": report["modules_loaded"],
                "crypto_exercised": report.get("crypto", []),
                "problems": problems,
            },
            indent=2,
        )
    )
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
