"""Powertools Logger, Metrics and Tracer, built on first use (never at import), and the
handler decorators every Lambda entrypoint wears (`lambda_entrypoint`)."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics, Tracer

Handler = TypeVar("Handler", bound=Callable[..., Any])


@lru_cache(maxsize=1)
def logger() -> Logger:
    from aws_lambda_powertools import Logger

    return Logger()


@lru_cache(maxsize=1)
def metrics() -> Metrics:
    """The namespace is the settings' (`POWERTOOLS_METRICS_NAMESPACE`, `Billbridge` when unset):
    a Metrics built without one fails its flush, and the handler's answer with it."""
    from aws_lambda_powertools import Metrics

    from billbridge.settings import hub_settings

    return Metrics(namespace=hub_settings().metrics_namespace)


@lru_cache(maxsize=1)
def tracer() -> Tracer:
    """X-Ray tracing through Powertools (disabled on the local stack by POWERTOOLS_TRACE_DISABLED);
    decision record 0015 says why the X-Ray SDK stays for now and when OpenTelemetry replaces it."""
    from aws_lambda_powertools import Tracer

    return Tracer()


def lambda_entrypoint(handler: Handler) -> Handler:
    """Powertools' handler decorators, in their documented order: `inject_lambda_context`
    (request id, function name and cold start on every log line; state cleared between
    invocations), `log_metrics` (the metrics written once at the end, even when the handler
    raises) and the tracer's `capture_lambda_handler` (a subsegment per invocation, the
    response left out of it: it may carry personal data).

    Applied on the first invocation, not at import: building the Logger, Metrics and Tracer
    imports Powertools (and the X-Ray SDK when tracing is on), which a module import must
    not pay for (cold start, decision record 0015). A call without a context (a local tool,
    a test calling the function directly) has nothing to inject and runs the handler as is.
    """
    decorated: list[Callable[..., Any]] = []

    @functools.wraps(handler)
    def entrypoint(event: Any, context: Any) -> Any:
        if context is None:
            return handler(event, context)
        if not decorated:
            decorated.append(_with_powertools(handler))
        return decorated[0](event, context)

    return entrypoint  # type: ignore[return-value]


def _with_powertools(handler: Callable[..., Any]) -> Callable[..., Any]:
    # The handlers flush as they go (some before a step that may fail); `log_metrics` is the
    # safety net for what is left, and nothing left is the usual case, not a fault to warn of.
    warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)
    traced = tracer().capture_lambda_handler(handler, capture_response=False)
    measured = metrics().log_metrics(traced, raise_on_empty_metrics=False)
    return logger().inject_lambda_context(measured, clear_state=True)


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
