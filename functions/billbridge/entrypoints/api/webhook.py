"""`POST /webhooks/{source}` (and `/webhooks/{source}/{vendor}`) behind an API Gateway REST proxy integration.

Thin: turn the proxy event into a WebhookRequest (raw body bytes, base64 or
not), call IngestWebhook (or IngestVendorWebhook), map its outcome to HTTP
(`webhook_http`) and to the proxy response, log with the correlation id, count
accepted and rejected events. The proxy event is read
directly rather than through APIGatewayRestResolver: there is one route, the
use case needs the raw bytes (for the signature) and judges size and content type itself,
and the resolver would more than double the import cost of this module.
Everything heavy (pydantic models, the AWS SDK) is imported on first use.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import TYPE_CHECKING, Any

from billbridge.observability import count, flush_metrics, lambda_entrypoint, logger

if TYPE_CHECKING:
    from billbridge.app.ingest_vendor_webhook import IngestVendorWebhook
    from billbridge.app.ingest_webhook import IngestWebhook, WebhookRequest
    from billbridge.entrypoints.api.webhook_http import WebhookResponse

_ROUTE = re.compile(r"^/webhooks/(?P<source>[^/]+)(?:/(?P<vendor>[^/]+))?/?$")
DEFERRED_RETRY_AFTER_SECONDS = "30"
MAX_LOGGED_OUTCOMES = 100


@lambda_entrypoint
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_api_event(event, context)


def handle_api_event(
    event: Any,
    context: Any,
    use_case: IngestWebhook | None = None,
    vendor_use_case: IngestVendorWebhook | None = None,
) -> dict[str, Any]:
    """The handler, with the use cases replaceable (tests pass ones built on fakes)."""
    try:
        request_or_error = _webhook_request(event)
    except Exception:  # a proxy event we cannot read is the caller's problem, never a 5xx
        logger().exception("unreadable proxy event")
        request_or_error = _proxy_response(400, {"error": "unreadable request"})
    if isinstance(request_or_error, dict):
        count("WebhooksRejected")
        _flush_metrics()
        return request_or_error
    request = request_or_error

    vendor = _vendor(event)
    try:
        if vendor is not None:
            ingest: Any = vendor_use_case if vendor_use_case is not None else _default_vendor_use_case()
        else:
            ingest = use_case if use_case is not None else _default_use_case()
    except Exception:
        logger().exception("the webhook use case could not be built (configuration)")
        count("WebhooksDeferred")
        _flush_metrics()
        return _proxy_response(
            503,
            {"error": "temporarily unable to accept deliveries"},
            {"Retry-After": DEFERRED_RETRY_AFTER_SECONDS},
        )

    log = logger()
    request_id = getattr(context, "aws_request_id", None)
    with log.append_context_keys(webhook_source=request.source, api_request_id=request_id):
        try:
            response = _answer(ingest, request, vendor)
        except Exception:
            log.exception("webhook handling failed unexpectedly")
            count("WebhooksFailed")
            _flush_metrics()
            return _proxy_response(500, {"error": "internal error"})
        _observe(response)
    _flush_metrics()
    return _proxy_response(response.status, response.body, response.headers)


def _answer(ingest: Any, request: WebhookRequest, vendor: str | None) -> WebhookResponse:
    from billbridge.entrypoints.api.webhook_http import http_answer, vendor_http_answer

    if vendor is None:
        return http_answer(ingest.handle(request))
    return vendor_http_answer(ingest.handle(_vendor_delivery(request, vendor)))


def _default_use_case() -> IngestWebhook:
    from billbridge.bootstrap import ingest_webhook

    return ingest_webhook()


def _default_vendor_use_case() -> IngestVendorWebhook:
    from billbridge.bootstrap import ingest_vendor_webhook

    return ingest_vendor_webhook()


def _vendor(event: Any) -> str | None:
    """The `{vendor}` of `POST /webhooks/{source}/{vendor}`, or None on the canonical route."""
    if not isinstance(event, dict):
        return None
    vendor = (event.get("pathParameters") or {}).get("vendor")
    if vendor is None:
        match = _ROUTE.match(str(event.get("path") or ""))
        vendor = match.group("vendor") if match else None
    return str(vendor) if vendor else None


def _vendor_delivery(request: WebhookRequest, vendor: str) -> Any:
    from billbridge.app.vendor_adapters import VendorDelivery

    return VendorDelivery(source=request.source, vendor=vendor, headers=request.headers, body=request.body)


def _webhook_request(event: Any) -> WebhookRequest | dict[str, Any]:
    if not isinstance(event, dict):
        return _proxy_response(400, {"error": "unreadable request"})
    method = str(event.get("httpMethod") or "").upper()
    source = (event.get("pathParameters") or {}).get("source")
    if source is None:
        match = _ROUTE.match(str(event.get("path") or ""))
        source = match.group("source") if match else None
    if source is None:
        return _proxy_response(
            404, {"error": "no such route; deliveries go to POST /webhooks/{source} or /webhooks/{source}/{vendor}"}
        )
    if method != "POST":
        return _proxy_response(405, {"error": f"{method or 'this method'} is not allowed"}, {"Allow": "POST"})

    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            return _proxy_response(400, {"error": "the body is marked base64 but is not valid base64"})
    else:
        try:
            body = str(raw).encode("utf-8")
        except UnicodeEncodeError:
            return _proxy_response(400, {"error": "body is not UTF-8"})

    from billbridge.app.ingest_webhook import WebhookRequest

    return WebhookRequest(source=str(source), headers=_headers(event), body=body)


def _headers(event: dict[str, Any]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, values in (event.get("multiValueHeaders") or {}).items():
        if isinstance(values, list) and values:
            headers[str(name).lower()] = str(values[-1])
    for name, value in (event.get("headers") or {}).items():
        if value is not None:
            headers[str(name).lower()] = str(value)
    return headers


def _observe(response: WebhookResponse) -> None:
    from billbridge.app.ingest_webhook import Outcome
    from billbridge.entrypoints.api.webhook_http import outcome_json

    log = logger()
    correlation_ids = response.correlation_ids
    log.set_correlation_id(correlation_ids[0] if correlation_ids else None)
    accepted = response.count(Outcome.ACCEPTED)
    rejected = response.count(Outcome.REJECTED) + response.count(Outcome.CONFLICT)
    if not response.outcomes and 400 <= response.status < 500:
        rejected = 1  # the whole delivery was refused (route, size, type, signature, JSON)
    if accepted:
        count("WebhooksAccepted", accepted)
    if rejected:
        count("WebhooksRejected", rejected)
    if response.status == 503:
        count("WebhooksDeferred")
    fields = {
        "status": response.status,
        "outcomes": [outcome_json(o) for o in response.outcomes[:MAX_LOGGED_OUTCOMES]],
        "events": len(response.outcomes),
        "correlation_ids": list(correlation_ids),
    }
    if response.status >= 500:
        log.error("webhook delivery deferred", extra=fields)
    elif response.status >= 400:
        log.warning("webhook delivery refused", extra=fields | {"error": response.body.get("error")})
    else:
        log.info("webhook delivery handled", extra=fields)
    log.set_correlation_id(None)


def _flush_metrics() -> None:
    # Nothing recorded (a duplicate): nothing written; a failure never changes the vendor's answer.
    flush_metrics()


def _proxy_response(status: int, body: dict[str, Any], headers: Any = None) -> dict[str, Any]:
    if not body and status < 300:  # a vendor that wants no body on success (Xero)
        return {"statusCode": status, "headers": dict(headers or {}), "body": "", "isBase64Encoded": False}
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **dict(headers or {})},
        "body": json.dumps(body, ensure_ascii=False, default=str),
        "isBase64Encoded": False,
    }
