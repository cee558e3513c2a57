"""RecordFailure: a contract's step failed after its retries; hold it as an exception."""

from __future__ import annotations

from typing import Any

from billbridge.entrypoints.workflow.run_correlation import correlation_id_of
from billbridge.entrypoints.workflow.transient_failures import retried_when_transient
from billbridge.observability import lambda_entrypoint


@lambda_entrypoint
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from billbridge import bootstrap
    from billbridge.observability import count, flush_metrics, logger

    with retried_when_transient():
        error = event.get("error") or {}
        error_name = str(error.get("Error", "UnknownError"))
        cause = str(error.get("Cause", ""))
        count("BillingStepsFailed")
        flush_metrics()  # written before recording the failure, which may itself fail
        logger().error("billing step failed", extra={"error": error_name, "run_id": event.get("run_id")})
        if event.get("contract_id"):
            bootstrap.record_billing_failure().handle(
                contract_id=str(event["contract_id"]),
                period=str(event.get("period", "")),
                error=error_name,
                cause=cause,
                correlation_id=correlation_id_of(event),
            )
        return {"recorded": True, "error": error_name}
