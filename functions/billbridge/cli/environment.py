"""The command line's environment variables, read in one place.

The functions' settings are `billbridge.settings`; these are the operator's own
(which stack, which local state file, debug output, the read API's token of
`local serve`, the segregation-of-duties thresholds), plus the two hub variables
`billbridge status` shows as configured for this shell. Standard library only:
a read-only command pays nothing for them.
"""

from __future__ import annotations

import os

STACK = "BILLBRIDGE_STACK"
STATE_FILE = "BILLBRIDGE_STATE_FILE"
LEGACY_STATE_FILE = "BILLBRIDGE_LOCAL_STATE"
DEBUG = "BILLBRIDGE_DEBUG"
VERBOSE = "BILLBRIDGE_VERBOSE"
READ_TOKEN = "BILLBRIDGE_READ_TOKEN"
SEGREGATION_THRESHOLD = "BILLBRIDGE_SEGREGATION_THRESHOLD"
SEGREGATION_THRESHOLDS = "BILLBRIDGE_SEGREGATION_THRESHOLDS"
TERMINAL_COLUMNS = "COLUMNS"


def value(name: str) -> str | None:
    """The variable's value, None when unset or empty."""
    return os.environ.get(name) or None


def stack_name() -> str | None:
    return value(STACK)


def state_file() -> str | None:
    return value(STATE_FILE) or value(LEGACY_STATE_FILE)


def debug() -> bool:
    return value(DEBUG) is not None


def verbose() -> bool:
    return value(VERBOSE) is not None


def read_token() -> str | None:
    return value(READ_TOKEN)


def segregation_thresholds() -> tuple[str | None, str | None]:
    """(one threshold for every currency, per-currency thresholds as JSON)."""
    return value(SEGREGATION_THRESHOLD), value(SEGREGATION_THRESHOLDS)


def terminal_columns() -> int | None:
    """`COLUMNS` as a number (None when unset or not one)."""
    try:
        return int(value(TERMINAL_COLUMNS) or "") or None
    except ValueError:
        return None


def configured_rollout() -> str:
    from billbridge import event_names  # only `status` asks: the light commands do not load it

    return value(event_names.ENV_ROLLOUT) or ""


def configured_systems_of_record() -> str:
    from billbridge import event_names

    return value(event_names.ENV_SYSTEMS_OF_RECORD) or ""
