"""Publishes the operating KPIs as CloudWatch metrics (EMF), on a schedule.

Dead-letter queue depths are not recomputed here: CloudWatch has them natively
(`ApproximateNumberOfMessagesVisible` of each DLQ).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from billbridge.observability import lambda_entrypoint


@lambda_entrypoint
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from datetime import timedelta

    from billbridge.bootstrap import ledger
    from billbridge.reporting.kpis import compute_kpis, emit_kpi_metrics, timings_from_audit
    from billbridge.settings import hub_settings

    as_of = _as_of(event)
    books = ledger().books()
    trails = {book.contract_id: ledger().audit_trail_of_contract(book.contract_id) for book in books}
    kpis = compute_kpis(
        books,
        as_of=as_of,
        timings=timings_from_audit(trails),
        commands=ledger().commands.all_commands(),
        now=datetime.now(UTC),
        propagation_stale_after=timedelta(hours=hub_settings().propagation_stale_after_hours),
    )
    return {"as_of": as_of.isoformat(), "metrics": emit_kpi_metrics(kpis)}


def _as_of(event: dict[str, Any]) -> date:
    text = event.get("as_of") or event.get("time")
    if text:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).date()
    return datetime.now(UTC).date()
