"""PostInvoice: post the contract's proposals to the ERP instance that owns the legal entity."""

from __future__ import annotations

from typing import Any

from billbridge.entrypoints.workflow.run_correlation import correlation_id_of


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from billbridge import bootstrap

    posted = bootstrap.post_invoice().handle(
        contract_id=str(event["contract_id"]), correlation_id=correlation_id_of(event)
    )
    return {**event, "posted": posted}
