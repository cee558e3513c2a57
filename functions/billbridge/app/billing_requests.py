"""Billing run requests: which period, and a deterministic execution name."""

from __future__ import annotations

import hashlib
import re
from datetime import date

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
