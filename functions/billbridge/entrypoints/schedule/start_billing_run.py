"""Starts the monthly billing run for the month that just ended.

The execution name is deterministic per (period, run request): a duplicated
trigger of the same schedule tick finds the execution already started and
starts nothing new (the BillingRuns port, billbridge.bootstrap.billing_runs).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from billbridge.observability import lambda_entrypoint


@lambda_entrypoint
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from billbridge import bootstrap
    from billbridge.app.billing_requests import previous_period, start_billing_run

    fired_at = _fired_at(event)
    period = str(event.get("period") or previous_period(fired_at))
    request_id = str(event.get("id") or event.get("request_id") or fired_at.isoformat())
    run = start_billing_run(bootstrap.billing_runs(), period, None, request_id)
    if not run.started:
        return {"started": False, "name": run.name, "reason": "already started for this request"}
    return {"started": True, "execution_arn": run.execution_id, "name": run.name}


def _fired_at(event: dict[str, Any]) -> date:
    text = event.get("time")
    if text:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).date()
    return datetime.now(UTC).date()
