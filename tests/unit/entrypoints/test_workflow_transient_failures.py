"""Throttling and write races inside a billing task surface as TransientError,
the name the state machine retries; other errors pass through to its Catch."""

from __future__ import annotations

import pytest
from billbridge.app.ledger import LedgerContentionError
from billbridge.app.run_billing import TransientError
from billbridge.entrypoints.workflow.transient_failures import retried_when_transient
from botocore.exceptions import ClientError


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "slow down"}}, "TransactWriteItems")


@pytest.mark.parametrize(
    "failure",
    [
        client_error("ProvisionedThroughputExceededException"),
        client_error("ThrottlingException"),
        client_error("TransactionConflictException"),
        LedgerContentionError("SOW-1"),
        TimeoutError("read timed out"),
    ],
)
def test_transient_failures_are_retried_by_name(failure: Exception) -> None:
    with pytest.raises(TransientError), retried_when_transient():
        raise failure


@pytest.mark.parametrize("failure", [client_error("ValidationException"), KeyError("contract_id"), ValueError("x")])
def test_other_failures_reach_the_catch_unchanged(failure: Exception) -> None:
    with pytest.raises(type(failure)), retried_when_transient():
        raise failure
