"""SelectContracts: which contracts this run bills."""

from __future__ import annotations

from typing import Any

from billbridge.entrypoints.workflow.transient_failures import retried_when_transient


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from billbridge import bootstrap

    with retried_when_transient():
        contract_ids = bootstrap.select_contracts().handle(
            period=str(event["period"]), contract_ids=event.get("contract_ids") or None
        )
        return {**event, "contracts": [{"contract_id": contract_id} for contract_id in contract_ids]}
