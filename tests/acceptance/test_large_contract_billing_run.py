"""A contract with thousands of unbilled lines is composed and reserved end to end through the
billing run's state machine on the local stack (the deployed definition, the real task
handlers): one invoice holding every line, no DynamoDB transaction over 100 items, no task
input or output over Step Functions' 256 KB. The 20,000-line contract of issue 21 is marked
`large` (minutes); the one `make test` runs takes the same path with 300 lines."""

from __future__ import annotations

import os

import pytest
from billbridge.local.stand_in_boundary import faster_stand_ins

from benchmarks.billing_scale import STATE_PAYLOAD_LIMIT_BYTES, TRANSACTION_ITEMS_LIMIT, run_large_contract
from benchmarks.ingest_throughput import quiet_functions


def _assert_billed_end_to_end_within_limits(lines: int) -> dict[str, object]:
    with faster_stand_ins(), quiet_functions():
        figures = run_large_contract(lines)

    assert figures["status"] == "SUCCEEDED"
    assert (figures["invoices"], figures["invoice_lines"]) == (1, lines)
    assert 0 < int(figures["transaction_items_max"]) <= TRANSACTION_ITEMS_LIMIT  # type: ignore[call-overload]
    assert int(figures["task_payload_bytes_max"]) <= STATE_PAYLOAD_LIMIT_BYTES  # type: ignore[call-overload]
    assert figures["within_limits"] is True
    return figures


def test_a_contract_with_300_unbilled_lines_is_billed_through_the_state_machine_within_limits() -> None:
    figures = _assert_billed_end_to_end_within_limits(300)
    assert int(figures["transactions"]) >= 1  # type: ignore[call-overload]


@pytest.mark.large
@pytest.mark.skipif(not os.environ.get("BILLBRIDGE_LARGE"), reason="set BILLBRIDGE_LARGE=1 (minutes)")
def test_a_contract_with_20000_unbilled_lines_is_billed_through_the_state_machine_within_limits() -> None:
    figures = _assert_billed_end_to_end_within_limits(20_000)
    assert int(figures["transaction_items_max"]) <= TRANSACTION_ITEMS_LIMIT  # type: ignore[call-overload]
