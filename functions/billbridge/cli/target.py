"""Where a command acts, as options: `--state-file` (the local stack's saved state,
default $BILLBRIDGE_STATE_FILE), `--stack` (a deployed stack, default
$BILLBRIDGE_STACK), `--profile`/`--region`; `--output`; `--actor` on commands
that write.

Only the standard library: every command imports this module when it registers
(billbridge.cli.hub_target opens the target itself, when a command runs).
"""

from __future__ import annotations

import argparse
import os

from billbridge.cli import environment
from billbridge.cli.output import UsageError, add_output_options

TYPE_CHECKING = False  # `typing` costs ~4 ms to import: its names serve annotations only
if TYPE_CHECKING:
    from typing import Any

DEFAULT_STACK_NAME = "Billbridge"
STACK_ENV_VAR = environment.STACK
"""Names the deployed stack every operator command acts on, as `--stack` does (a shell set up for production)."""


def add_target_options(parser: argparse.ArgumentParser, *, writes: bool = False, output: bool = True) -> None:
    """`--state-file` / `--stack` (where the command acts) and `--output`; `--actor` only on a
    command that writes (`writes=True`): reading records no one."""
    group = parser.add_argument_group("target (default: the local stack's saved state)")
    group.add_argument(
        "--state-file",
        metavar="PATH",
        help="local state (default $BILLBRIDGE_STATE_FILE or .billbridge/local-state.sqlite)",
    )
    group.add_argument(
        "--stack",
        default=environment.stack_name(),
        help=f"act on a deployed stack of this name (e.g. {DEFAULT_STACK_NAME}; default ${STACK_ENV_VAR}, "
        "unset: the local stack)",
    )
    group.add_argument("--profile", help="AWS profile for --stack")
    group.add_argument("--region", help="AWS region for --stack")
    if output:
        add_output_options(parser)
    if writes:
        parser.add_argument("--actor", default=None, help="who is acting (recorded in the audit trail)")


def open_hub(args: argparse.Namespace, *, read_only: bool = False) -> Any:
    """billbridge.cli.hub_target.open_hub, imported when a command runs (not when it registers)."""
    from billbridge.cli.hub_target import open_hub as open_target_hub

    return open_target_hub(args, read_only=read_only)


def local_state_path(args: argparse.Namespace) -> str:
    """`--state-file`, else $BILLBRIDGE_STATE_FILE, else the default; it must exist."""
    state = os.fspath(args.state_file) if getattr(args, "state_file", None) else default_state_path()
    if not os.path.isfile(state):
        raise UsageError(
            f"no local state at {state}: run `billbridge demo`, `billbridge replay SCENARIO --report R.json` "
            "or `billbridge local serve` first (or pass --stack NAME for a deployed stack)"
        )
    return state


class _NoLocalStore:
    """What `with local_read_store(args) as store` gives on a deployed stack: None."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def local_read_store(args: argparse.Namespace) -> Any:
    """The local state's store for reading with the standard library (billbridge.local.read_models),
    as a context manager; None when the command acts on a deployed stack (`--stack`), which it reads
    through `open_hub`. (A class, not `contextlib.contextmanager`: every light command would import
    `contextlib` for it.)"""
    if getattr(args, "stack", None):
        return _NoLocalStore()
    from billbridge.local.read_models import ReadOnlyStore

    return ReadOnlyStore(local_state_path(args))


STATE_FILE_ENV_VAR = environment.STATE_FILE
LEGACY_STATE_ENV_VAR = environment.LEGACY_STATE_FILE
DEFAULT_STATE_PATH = os.path.join(".billbridge", "local-state.sqlite")


def default_state_path() -> str:
    """$BILLBRIDGE_STATE_FILE (or the older $BILLBRIDGE_LOCAL_STATE), else `.billbridge/local-state.sqlite`
    (the same rule as billbridge.local.store.default_state_path, without importing the store)."""
    configured = environment.state_file()
    return configured if configured else os.path.join(os.getcwd(), DEFAULT_STATE_PATH)


def add_replaced_state_options(parser: argparse.ArgumentParser, *, what: str) -> None:
    """`--state-file` and `--yes` of a command that replaces the local state (`demo`, `replay`)."""
    parser.add_argument(
        "--state-file",
        metavar="PATH",
        help=f"the local state {what} replaces (default $BILLBRIDGE_STATE_FILE or .billbridge/local-state.sqlite)",
    )
    parser.add_argument(
        "--yes",
        "-y",
        action="store_true",
        help="replace an existing local state without asking (needed when not run from a terminal)",
    )


class StateNotReplacedError(UsageError):
    """The user kept the existing local state (or could not be asked): a usage error, exit 2."""


def confirm_replacing_state(path: str, *, yes: bool, command: str) -> None:
    """Before a command empties an existing local state: `--yes`, or a `y` typed at the prompt.

    Not from a terminal and without `--yes`, nothing is replaced (StateNotReplacedError)."""
    import sys

    if yes or not os.path.isfile(path) or os.path.getsize(path) == 0:
        return
    if not sys.stdin.isatty():
        raise StateNotReplacedError(
            f"{path} holds a local state that `{command}` would replace: pass --yes to replace it, "
            "or --state-file another path"
        )
    print(f"{path} holds a local state; `{command}` replaces it. Replace it? [y/N] ", end="", file=sys.stderr)
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise StateNotReplacedError(f"kept the local state at {path}: nothing was replaced")
