"""Failures worth retrying become `TransientError`, the error name the state machine
retries with backoff; everything else is caught into RecordFailure.

Nothing but the standard library is imported with this module: the error types it
sorts by (the ledger's contention, a connector's transient fault, the AWS SDK's errors
as billbridge.adapters.aws_transient_errors sorts them, `TransientError` itself) are
imported only when a task fails, so a task that only
needs this wrapper does not load the domain model or the AWS SDK at import (cold
start, decision record 0015).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def retried_when_transient() -> Iterator[None]:
    try:
        yield
    except Exception as error:
        reason = transient_reason(error)
        if reason is None:
            raise
        from billbridge.app.run_billing import TransientError

        if isinstance(error, TransientError):
            raise
        raise TransientError(reason) from error


def transient_reason(error: BaseException) -> str | None:
    """Why `error` is worth retrying (the TransientError's message), or None when it is not."""
    from billbridge.app.ledger import LedgerContentionError
    from billbridge.app.ports import TransientConnectorError
    from billbridge.app.run_billing import TransientError

    if isinstance(error, TransientError):
        return str(error)
    if isinstance(error, (LedgerContentionError, TransientConnectorError, ConnectionError, TimeoutError)):
        return f"{type(error).__name__}: {error}"
    from billbridge.adapters.aws_transient_errors import transient_aws_reason

    return transient_aws_reason(error)
