"""Billing run requests: which period, and a deterministic execution name."""

from __future__ import annotations

import hashlib
import re
from datetime import date
from typing import Any

from billbridge.app.ports import BillingRuns, BillingRunStart
from billbridge.domain.billing_run import Period


def previous_period(today: date) -> str:
    """The month before `today`'s: a run on the 1st bills the month that ended."""
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def execution_name(period: str, contract_ids: list[str] | None, request_id: str) -> str:
    """Deterministic per (period, contracts, request): at most 80 characters of
    [A-Za-z0-9-_] as Step Functions requires."""
    Period.parse(period)
    scope = "all" if not contract_ids else hashlib.sha256(",".join(sorted(contract_ids)).encode()).hexdigest()[:10]
    request = re.sub(r"[^A-Za-z0-9_-]", "-", request_id)[:40]
    return f"bill-{period}-{scope}-{request}"[:80]


def run_input(period: str, contract_ids: list[str] | None, run_id: str) -> dict[str, Any]:
    """The billing run state machine's input: which month, which contracts (None: all), the run's id."""
    return {"period": period, "contract_ids": contract_ids, "run_id": run_id}


def start_billing_run(
    runs: BillingRuns, period: str, contract_ids: list[str] | None, request_id: str
) -> BillingRunStart:
    """Start the run of `period` for `request_id`, or find it: a repeated request starts nothing new."""
    name = execution_name(period, contract_ids, request_id)
    return runs.start_or_find(name, run_input(period, contract_ids, name))
