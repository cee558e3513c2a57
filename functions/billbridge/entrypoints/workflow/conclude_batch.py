"""ConcludeBatch: count one batch's per-contract outcomes into its summary (last step of a child execution)."""

from __future__ import annotations

from typing import Any

from billbridge.entrypoints.workflow.transient_failures import retried_when_transient
from billbridge.observability import lambda_entrypoint


@lambda_entrypoint
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from billbridge import bootstrap
    from billbridge.observability import count, flush_metrics

    with retried_when_transient():
        batch = event["batch"]
        summary = bootstrap.conclude_batch().handle(
            workspace=str(event["workspace"]),
            batch=int(batch["batch"]),
            contract_ids=[str(c) for c in batch["contract_ids"]],
            outcomes=event.get("outcomes") or [],
        )
        count("BillingBatchesConcluded")
        flush_metrics()
        return {"batch": summary.batch, "contracts": summary.contracts, "failed": len(summary.failed_contract_ids)}
