"""Failures worth retrying become `TransientError`, the error name the state machine
retries with backoff; everything else is caught into RecordFailure.

Nothing but the standard library is imported with this module: the error types it
sorts by (the ledger's contention, a connector's transient fault, botocore's errors,
`TransientError` itself) are imported only when a task fails, so a task that only
needs this wrapper does not load the domain model or the AWS SDK at import (cold
start, decision record 0015).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

RETRYABLE_AWS_ERROR_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "TransactionConflictException",
        "InternalServerError",
        "ServiceUnavailable",
        "TooManyRequestsException",
    }
)


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
    try:
        from botocore.exceptions import ClientError
        from botocore.exceptions import ConnectionError as BotoConnectionError
    except ImportError:  # pragma: no cover - botocore comes with every Lambda runtime
        return None
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        return f"{code}: {error}" if code in RETRYABLE_AWS_ERROR_CODES else None
    if isinstance(error, BotoConnectionError):
        return f"{type(error).__name__}: {error}"
    return None
