"""One scheduled poll of a vendor without webhooks (EventBridge Scheduler -> this function).

Thin: which poller (the schedule's input `{"poller": "erp/netsuite"}`, or the
function's `VENDOR_POLLER_NAME`), one call of PollVendorSource, metrics, and the
outcome mapped to the transport: a poll that could not finish (the vendor or the
hub unavailable) or whose events were refused raises, so that the invocation
fails into the poller's dead-letter queue with the reason (the cursor has not
moved past anything unaccepted; refused events are named in the error).
"""

from __future__ import annotations

from typing import Any

from billbridge.observability import count, lambda_entrypoint, logger, metrics


class PollFailedError(Exception):
    """The poll ended without reading its source to the end or with refused events."""


@lambda_entrypoint
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_poll(event, context)


def handle_poll(event: Any, context: Any, poller: Any = None) -> dict[str, Any]:
    from billbridge.settings import function_settings

    name = str((event or {}).get("poller") or function_settings().vendor_poller_name)
    if poller is None:
        from billbridge.bootstrap import vendor_poller

        poller = vendor_poller(name)
    report = poller.poll()
    log = logger()
    fields = report.as_json()
    count("VendorObjectsPolled", report.events)
    count("PolledEventsAccepted", report.accepted)
    if report.rejected:
        count("PolledEventsRejected", report.rejected)
    try:
        metrics().flush_metrics()
    except Exception:
        log.warning("metrics could not be flushed", exc_info=True)
    if report.rejected:
        log.error("polled events refused", extra=fields)
        raise PollFailedError(f"{name}: {report.rejected} polled event(s) refused: " + "; ".join(report.rejections))
    if report.stopped_early and not report.stopped_early.startswith(("page budget", "time budget")):
        log.error("poll stopped early", extra=fields)
        raise PollFailedError(f"{name}: {report.stopped_early}")
    log.info("poll finished", extra=fields)
    return fields
