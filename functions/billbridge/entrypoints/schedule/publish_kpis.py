"""Publishes the operating KPIs as CloudWatch metrics (EMF), on a schedule.

Reporting computes the figures (`reporting.kpis.compute_kpis`) and names them as
metrics (`reporting.kpis.kpi_metrics`); writing them through Powertools is this
edge's job, in the namespace the settings give.

Dead-letter queue depths are not recomputed here: CloudWatch has them natively
(`ApproximateNumberOfMessagesVisible` of each DLQ).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from billbridge.observability import lambda_entrypoint


@lambda_entrypoint
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from datetime import timedelta

    from billbridge.bootstrap import ledger
    from billbridge.reporting.kpis import compute_kpis, timings_from_audit
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
    return {"as_of": as_of.isoformat(), "metrics": emit_kpi_metrics(kpis, namespace=hub_settings().metrics_namespace)}


def emit_kpi_metrics(kpis: Mapping[str, Any], *, namespace: str) -> int:
    """Write the KPIs' metrics in the embedded metric format (one EMF document per metric
    and dimension set, to stdout, which Lambda ships to CloudWatch); returns how many."""
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    from billbridge.reporting.kpis import kpi_metrics

    metrics = kpi_metrics(kpis)
    for metric in metrics:
        # CloudWatch takes doubles: the conversion happens here, at the edge, and nowhere else.
        value = float(metric.value)
        with single_metric(name=metric.name, unit=MetricUnit(metric.unit), value=value, namespace=namespace) as written:
            for name, dimension in metric.dimensions:
                written.add_dimension(name=name, value=dimension)
    return len(metrics)


def _as_of(event: dict[str, Any]) -> date:
    text = event.get("as_of") or event.get("time")
    if text:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).date()
    return datetime.now(UTC).date()
