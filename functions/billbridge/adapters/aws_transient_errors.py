"""Which errors of the AWS SDK are worth retrying: throttling, contention, a service's own
fault, a dropped connection. The billing tasks' retry wrapper asks here, so that it
never imports botocore itself."""

from __future__ import annotations

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


def transient_aws_reason(error: BaseException) -> str | None:
    """Why an AWS SDK error is worth retrying, or None (not one, or one that would fail again)."""
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
