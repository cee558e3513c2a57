"""Entry point of the `billbridge` console script.

Each command family lives in its own module under billbridge.cli.commands and
exposes `register(subparsers)`; the chosen sub-command's `handler(args)` returns
the process exit code.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

COMMAND_MODULES: tuple[str, ...] = (
    "billbridge.cli.commands.local",
    "billbridge.cli.commands.contracts",
    "billbridge.cli.commands.billing",
    "billbridge.cli.commands.replay",
    "billbridge.cli.commands.demo",
    "billbridge.cli.commands.operations",
    "billbridge.cli.commands.config",
    "billbridge.cli.commands.migrate_ledger",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="billbridge",
        description="Billbridge integration hub: contracts (CLM), delivery (PSA) and invoicing (ERP) in step.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as missing:
            if missing.name != module_name:
                raise
            continue
        module.register(subparsers)
    return parser


@contextmanager
def quiet_function_logs() -> Iterator[None]:
    """The functions log JSON lines and EMF metrics for CloudWatch; on a terminal
    (and in `--json` output) the commands print only their own result.
    BILLBRIDGE_VERBOSE=1 shows them. The environment is restored afterwards."""
    if os.environ.get("BILLBRIDGE_VERBOSE"):
        yield
        return
    quiet = {"POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true"}
    saved = {name: os.environ.get(name) for name in quiet}
    for name, value in quiet.items():
        os.environ.setdefault(name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    with quiet_function_logs():
        return int(handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
