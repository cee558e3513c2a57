"""Powertools Logger, Metrics and Tracer, built on first use (never at import)."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics, Tracer


@lru_cache(maxsize=1)
def logger() -> Logger:
    from aws_lambda_powertools import Logger

    return Logger()


@lru_cache(maxsize=1)
def metrics() -> Metrics:
    from aws_lambda_powertools import Metrics

    return Metrics()


@lru_cache(maxsize=1)
def tracer() -> Tracer:
    """X-Ray tracing (disabled on the local stack by POWERTOOLS_TRACE_DISABLED)."""
    from aws_lambda_powertools import Tracer

    return Tracer()


def count(metric: str, value: int = 1) -> None:
    """Add to a count metric (EMF, flushed by the handler with `flush_metrics`)."""
    from aws_lambda_powertools.metrics import MetricUnit

    metrics().add_metric(name=metric, unit=MetricUnit.Count, value=value)


def flush_metrics() -> None:
    """Write the metrics recorded so far as one EMF line (nothing when none were recorded).
    Metrics never change a handler's answer: a failure to write them is logged, not raised."""
    try:
        recorder = metrics()
        if getattr(recorder, "metric_set", True):
            recorder.flush_metrics()
    except Exception:
        logger().warning("metrics could not be flushed", exc_info=True)
