"""Failures worth retrying become `TransientError`, the error name the state
machine retries with backoff; everything else is caught into RecordFailure."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from billbridge.app.ledger import LedgerContentionError
from billbridge.app.ports import TransientConnectorError
from billbridge.app.run_billing import TransientError

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
    from botocore.exceptions import ClientError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    try:
        yield
    except TransientError:
        raise
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in RETRYABLE_AWS_ERROR_CODES:
            raise TransientError(f"{code}: {error}") from error
        raise
    except (
        LedgerContentionError,
        TransientConnectorError,
        BotoConnectionError,
        ConnectionError,
        TimeoutError,
    ) as error:
        raise TransientError(f"{type(error).__name__}: {error}") from error
