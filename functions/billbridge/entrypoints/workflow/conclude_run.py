"""ConcludeRun: add up the batches' summaries; the state machine fails the run unless it is complete."""

from __future__ import annotations

from typing import Any

from billbridge.entrypoints.workflow.transient_failures import retried_when_transient
from billbridge.observability import lambda_entrypoint


@lambda_entrypoint
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from billbridge import bootstrap
    from billbridge.observability import count, flush_metrics, logger

    with retried_when_transient():
        plan = event["plan"]
        summary = bootstrap.conclude_run().handle(
            workspace=str(plan["workspace"]),
            contract_count=int(plan["contract_count"]),
            batch_count=int(plan["batch_count"]),
        )
        if not summary.complete:
            count("BillingRunsIncomplete")
            flush_metrics()
            logger().error("billing run incomplete", extra={"run_id": event.get("run_id"), "cause": summary.cause})
        return summary.document()
