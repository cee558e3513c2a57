"""PostInvoice: post the contract's proposals to the ERP instance that owns the legal entity."""

from __future__ import annotations

from typing import Any

from billbridge.entrypoints.workflow.run_correlation import correlation_id_of
from billbridge.entrypoints.workflow.transient_failures import retried_when_transient
from billbridge.observability import lambda_entrypoint


@lambda_entrypoint
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from billbridge import bootstrap

    with retried_when_transient():
        posted = bootstrap.post_invoice().handle(
            contract_id=str(event["contract_id"]), correlation_id=correlation_id_of(event)
        )
        return {**event, "posted": posted}
