"""ComposeInvoice: compose, validate and reserve one contract's proposal."""

from __future__ import annotations

from typing import Any

from billbridge.entrypoints.workflow.run_correlation import correlation_id_of
from billbridge.entrypoints.workflow.transient_failures import retried_when_transient
from billbridge.observability import lambda_entrypoint


@lambda_entrypoint
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from billbridge import bootstrap
    from billbridge.observability import count, flush_metrics

    with retried_when_transient():
        result = bootstrap.compose_invoice().handle(
            contract_id=str(event["contract_id"]),
            period=str(event["period"]),
            run_id=str(event["run_id"]),
            correlation_id=correlation_id_of(event),
        )
        if result["proposal_id"]:
            count("InvoicesProposed")
            flush_metrics()
        return {**event, "proposal_id": result["proposal_id"]}
