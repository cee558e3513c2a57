"""Entry point of the `billbridge` console script.

Each command family lives in its own module under billbridge.cli.commands and
exposes `register(subparsers)`; the chosen sub-command's `handler(args)` returns
the process exit code (see EXIT_CODES).

One error handler for every command: a user's mistake (a file that cannot be read, a
file that is not JSON, a value the command refuses) ends in one line on stderr and
exit 2; an unexpected error in one line and exit 3; the traceback only with `--debug`
(or `BILLBRIDGE_DEBUG=1`). Output cut short by a closed pipe (`... | head`) is not an error.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Sequence

from billbridge.cli import environment
from billbridge.cli.output import UsageError

TYPE_CHECKING = False  # `typing` costs ~4 ms to import: its names serve annotations only
if TYPE_CHECKING:
    from typing import Any, Never


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
    "billbridge.cli.commands.intake",
)


EXIT_OK = 0
EXIT_DIFFERENCES = 1
"""The command ran, and its answer is "no": differences with the legacy or expected report, a refused decision."""
EXIT_USAGE = 2
"""Bad arguments, or a local state that cannot be used (missing, damaged: the message says what to do)."""
EXIT_HUB_FAILED = 3
"""The hub failed: a billing step failed, a function crashed, a delivery was answered 5xx."""

EXIT_STILL_RUNNING = 4
"""`bill --stack`: the run was still going when `--wait` ran out (it goes on in AWS)."""

EXIT_CODES = f"""exit codes:
  {EXIT_OK}  done; every contract billed or held by a rule (deliveries refused with a 4xx and
     messages dead-lettered with a stated reason are the senders' errors: reported, still {EXIT_OK})
  {EXIT_DIFFERENCES}  done, with differences (replay --compare/--expected), a refused decision, or an id
     that names nothing (`contracts show NOPE`; one line on stderr)
  {EXIT_USAGE}  usage error, or the local state is missing or damaged (the message says what to do)
  {EXIT_HUB_FAILED}  the hub failed: a billing step failed, a function crashed or a delivery got a 5xx
     (each printed; tracebacks in the log on stderr)
  {EXIT_STILL_RUNNING}  bill --stack: the run was still going when --wait ran out (it goes on in AWS)"""


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
    "intake": "billbridge.cli.commands.intake",
}
"""Which module registers each command: a command imports only its own module (and what that
needs), not every command's; `billbridge --help` or an unknown name registers them all."""


class TerminalWidthFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse's help layout, sized without `shutil` (argparse imports it, with lzma and bz2,
    for every parser it builds: more than a read-only command's whole time budget)."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None):
        if width is None:
            try:
                width = environment.terminal_columns() or os.get_terminal_size(sys.__stdout__.fileno()).columns
            except (ValueError, OSError, AttributeError):
                width = 80
            width = max(width - 2, 11)
        super().__init__(prog, indent_increment, max_help_position, width)


class CommandParser(argparse.ArgumentParser):
    """Every parser of the command line (sub-commands included) lays out its help with
    TerminalWidthFormatter unless it asks for another."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", TerminalWidthFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> Never:
        """A mistake in the arguments: one line on stderr, exit 2 (`--help` shows the usage)."""
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="billbridge",
        description="Billbridge integration hub: contracts (CLM), delivery (PSA) and invoicing (ERP) in step.",
        epilog=EXIT_CODES,
    )
    parser.add_argument("--version", action=VersionAction, help="show the installed version and exit")
    parser.add_argument(
        "--debug",
        action="store_true",
        default=environment.debug(),
        help="show the traceback of an error (also BILLBRIDGE_DEBUG=1)",
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


class QuietFunctionLogs:
    """The functions log JSON lines and EMF metrics for CloudWatch; on a terminal
    (and in `--json` output) the commands print only their own result.
    BILLBRIDGE_VERBOSE=1 shows them. The environment is restored afterwards.
    (A class, not `contextlib.contextmanager`: every command would import `contextlib` for it.)"""

    QUIET = {"POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true"}

    def __init__(self) -> None:
        self.saved: dict[str, str | None] = {}

    def __enter__(self) -> None:
        if environment.verbose():
            return
        self.saved = {name: os.environ.get(name) for name in self.QUIET}
        for name, value in self.QUIET.items():
            os.environ.setdefault(name, value)

    def __exit__(self, *exc: object) -> None:
        for name, value in self.saved.items():
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
    with QuietFunctionLogs():
        try:
            return int(handler(args) or 0)
        except BrokenPipeError:
            # The reader went away (`billbridge ... | head`): what it wanted was printed.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_OK
        except Exception as error:  # one line for the user; the traceback only when asked
            if _is_local_state_error(error) or isinstance(error, UsageError):
                print(f"billbridge: {error}", file=sys.stderr)
                return EXIT_USAGE
            if getattr(args, "debug", False):
                raise
            code, message = describe_error(error)
            print(f"billbridge: {message}", file=sys.stderr)
            return code


def _is_local_state_error(error: BaseException) -> bool:
    """A `LocalStateError` (the local state is missing or damaged): only raised once the store
    module is loaded, so a command that never opened the store does not import it to ask."""
    store = sys.modules.get("billbridge.local.store")
    return store is not None and isinstance(error, store.LocalStateError)


def describe_error(error: BaseException) -> tuple[int, str]:
    """The exit code and the one-line message for an error that ended a command."""
    if isinstance(
        error, FileNotFoundError | FileExistsError | IsADirectoryError | NotADirectoryError | PermissionError
    ):
        reason = error.strerror or type(error).__name__
        return EXIT_USAGE, f"cannot read or write {error.filename}: {reason}"
    if isinstance(error, json.JSONDecodeError):
        return EXIT_USAGE, f"not JSON: {error.msg} at line {error.lineno}, column {error.colno}"
    if isinstance(error, UnicodeDecodeError):
        return EXIT_USAGE, f"not UTF-8 text: {error.reason} at byte {error.start}"
    return EXIT_HUB_FAILED, (
        f"failed: {type(error).__name__}: {error} (run with --debug, or BILLBRIDGE_DEBUG=1, for the traceback)"
    )


class VersionAction(argparse.Action):
    """`--version`: the installed package's version, looked up only when asked
    (importlib.metadata costs more than a read-only command's whole budget)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        print(f"billbridge {_version()}")
        parser.exit()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("billbridge")
    except PackageNotFoundError:
        return "unknown (not installed)"


if __name__ == "__main__":
    sys.exit(main())
