"""SelectContracts: which contracts this run bills, written in batches to the run's workspace.

Returns the plan only (counts, where the batches are): the contract ids never enter the
state, so the run's state stays small whatever the number of contracts.
"""

from __future__ import annotations

import uuid
from typing import Any

from billbridge.entrypoints.workflow.transient_failures import retried_when_transient
from billbridge.observability import lambda_entrypoint


@lambda_entrypoint
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from billbridge import bootstrap

    with retried_when_transient():
        return bootstrap.plan_billing_run().handle(
            period=str(event["period"]),
            contract_ids=event.get("contract_ids") or None,
            run_id=str(event["run_id"]),
            attempt=uuid.uuid4().hex,
        )
