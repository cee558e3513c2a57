"""Entry point of the `billbridge` console script.

Each command family lives in its own module under billbridge.cli.commands and
exposes `register(subparsers)`; the chosen sub-command's `handler(args)` returns
the process exit code (see EXIT_CODES).
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
    "billbridge.cli.commands.customers",
    "billbridge.cli.commands.status",
    "billbridge.cli.commands.sync",
    "billbridge.cli.commands.billing",
    "billbridge.cli.commands.replay",
    "billbridge.cli.commands.parallel_run",
    "billbridge.cli.commands.demo",
    "billbridge.cli.commands.operations",
    "billbridge.cli.commands.config",
    "billbridge.cli.commands.migrate_ledger",
)


EXIT_OK = 0
EXIT_DIFFERENCES = 1
"""The command ran, and its answer is "no": differences with the legacy or expected report, a refused decision."""
EXIT_USAGE = 2
"""Bad arguments, or a local state that cannot be used (missing, damaged: the message says what to do)."""
EXIT_HUB_FAILED = 3
"""The hub failed: a billing step failed, a function crashed, a delivery was answered 5xx."""

EXIT_CODES = f"""exit codes:
  {EXIT_OK}  done; every contract billed or held by a rule (deliveries refused with a 4xx and
     messages dead-lettered with a stated reason are the senders' errors: reported, still {EXIT_OK})
  {EXIT_DIFFERENCES}  done, with differences (replay --compare/--expected) or a refused decision
  {EXIT_USAGE}  usage error, or the local state is missing or damaged (the message says what to do)
  {EXIT_HUB_FAILED}  the hub failed: a billing step failed, a function crashed or a delivery got a 5xx
     (each printed; tracebacks in the log on stderr)"""


COMMAND_FAMILIES: dict[str, str] = {
    "local": "billbridge.cli.commands.local",
    "contracts": "billbridge.cli.commands.contracts",
    "customers": "billbridge.cli.commands.customers",
    "status": "billbridge.cli.commands.status",
    "sync": "billbridge.cli.commands.sync",
    "bill": "billbridge.cli.commands.billing",
    "replay": "billbridge.cli.commands.replay",
    "demo": "billbridge.cli.commands.demo",
    "exceptions": "billbridge.cli.commands.operations_exceptions",
    "dlq": "billbridge.cli.commands.operations_queues",
    "replay-archive": "billbridge.cli.commands.operations_queues",
    "trace": "billbridge.cli.commands.operations_lineage",
    "report": "billbridge.cli.commands.operations_report",
    "config": "billbridge.cli.commands.config",
}
"""Which module registers each command: a command imports only its own module (and what that
needs), not every command's; `billbridge --help` or an unknown name registers them all."""


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="billbridge",
        description="Billbridge integration hub: contracts (CLM), delivery (PSA) and invoicing (ERP) in step.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    words = list(sys.argv[1:] if argv is None else argv)
    chosen = next((w for w in words if not w.startswith("-")), None)
    modules = (COMMAND_FAMILIES[chosen],) if chosen in COMMAND_FAMILIES else COMMAND_MODULES
    for module_name in modules:
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
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    from billbridge.localstack.store import LocalStateError

    with quiet_function_logs():
        try:
            return int(handler(args) or 0)
        except LocalStateError as error:
            print(f"billbridge: {error}", file=sys.stderr)
            return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
