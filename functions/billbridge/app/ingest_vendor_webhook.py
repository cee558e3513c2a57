"""Use case: `POST /webhooks/{source}/{vendor}`, a vendor's own webhook, onto the canonical path.

Order: route (a registered adapter for the source and vendor), size, the vendor's
signature over the raw bytes (its secrets are those of `"{source}/{vendor}"`),
the raw body stored (claim-check) before anything is acknowledged, the payload
translated to canonical events (fetching the objects of a thin event through
the vendor's API), then each event takes the canonical path of IngestWebhook
(validation, claim by `(source, id)`, publication). Bad input is a 4xx naming
the field; the vendor's API or the hub's own dependencies failing is a 503 with
Retry-After, so the vendor delivers again and nothing is lost.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Any

from billbridge import topology
from billbridge.app.ingest_webhook import IngestWebhook, WebhookResponse
from billbridge.app.ports import Clock, RawPayloadStore, WebhookSecrets
from billbridge.app.vendor_adapters import (
    Translation,
    VendorDelivery,
    VendorPayloadError,
    VendorSignatureError,
    VendorUnavailableError,
    VendorWebhookAdapter,
)

_log = logging.getLogger(__name__)

DEFAULT_RETRY_AFTER_SECONDS = 30


def secrets_key(source: str, vendor: str) -> str:
    """Where a vendor's webhook signing keys live in the webhook secrets document."""
    return f"{source}/{vendor}"


class IngestVendorWebhook:
    def __init__(
        self,
        *,
        adapters: Mapping[tuple[str, str], VendorWebhookAdapter],
        secrets: WebhookSecrets,
        raw_payloads: RawPayloadStore,
        clock: Clock,
        canonical: IngestWebhook,
        max_body_bytes: int = topology.MAX_WEBHOOK_BODY_BYTES,
        retry_after_seconds: int = DEFAULT_RETRY_AFTER_SECONDS,
    ) -> None:
        self._adapters = dict(adapters)
        self._secrets = secrets
        self._raw_payloads = raw_payloads
        self._clock = clock
        self._canonical = canonical
        self._max_body_bytes = max_body_bytes
        self._retry_after = retry_after_seconds

    def handle(self, delivery: VendorDelivery) -> WebhookResponse:
        adapter = self._adapters.get((delivery.source, delivery.vendor))
        if adapter is None:
            known = ", ".join(f"{s}/{v}" for s, v in sorted(self._adapters)) or "none"
            return _error(
                404,
                f"no adapter for vendor {delivery.vendor[:64]!r} of source {delivery.source[:64]!r}; known: {known}",
                field_path="vendor",
            )
        if len(delivery.body) > self._max_body_bytes:
            return _error(413, f"body is {len(delivery.body)} bytes; at most {self._max_body_bytes} are accepted")
        try:
            secrets = self._secrets.active_secrets(secrets_key(delivery.source, delivery.vendor))
        except Exception:
            _log.exception("webhook secrets unavailable")
            return self._unavailable("webhook secrets unavailable")
        try:
            adapter.verify(delivery, secrets)
        except VendorSignatureError as failure:
            return _error(401, f"signature rejected: {failure.reason}")

        received_at = self._clock.now()
        body_digest = hashlib.sha256(delivery.body).hexdigest()
        try:
            raw_key = self._raw_payloads.save(
                source=delivery.source,
                delivery_id=f"{delivery.vendor}-{body_digest[:32]}",
                received_at=received_at,
                body=delivery.body,
            )
        except Exception:
            _log.exception("raw payload store failed")
            return self._unavailable("raw payload store unavailable")

        try:
            translation = adapter.translate(delivery)
        except VendorPayloadError as bad:
            return _error(400, bad.message, field_path=bad.field_path)
        except VendorUnavailableError as failure:
            _log.warning(
                "vendor API unavailable while translating a %s/%s delivery: %s",
                delivery.source,
                delivery.vendor,
                failure,
            )
            return self._unavailable(f"{delivery.vendor} API unavailable: {failure}")

        if not translation.events:
            return self._answer(adapter, WebhookResponse(status=200, body=_summary(translation, [])))
        response = self._canonical.accept_translated(
            source=delivery.source,
            events=translation.events,
            delivery_id=translation.delivery_id or f"{delivery.vendor}-{body_digest[:32]}",
            raw_key=raw_key,
            received_at=received_at,
        )
        if response.status >= 500:
            return response
        body = _summary(translation, response.body.get("outcomes", []))
        if response.status >= 400:
            body["error"] = "no event of the delivery was accepted; see outcomes"
        return self._answer(
            adapter,
            WebhookResponse(status=response.status, body=body, headers=response.headers, outcomes=response.outcomes),
        )

    @staticmethod
    def _answer(adapter: VendorWebhookAdapter, response: WebhookResponse) -> WebhookResponse:
        """A vendor that wants its own success answer (a status, no body) gets it; refusals keep theirs."""
        if response.status >= 300:
            return response
        body: dict[str, Any] = {} if adapter.empty_success_body else response.body
        return WebhookResponse(
            status=adapter.success_status, body=body, headers=response.headers, outcomes=response.outcomes
        )

    def _unavailable(self, reason: str) -> WebhookResponse:
        return WebhookResponse(
            status=503,
            body={"error": f"temporarily unable to accept the delivery ({reason}); retry later"},
            headers={"Retry-After": str(self._retry_after)},
        )


def _summary(translation: Translation, outcomes: list[Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"outcomes": outcomes, "skipped": [s.as_json() for s in translation.skipped]}
    if translation.handshake:
        body["handshake"] = True
    return body


def _error(status: int, message: str, *, field_path: str | None = None) -> WebhookResponse:
    body: dict[str, Any] = {"error": message}
    if field_path is not None:
        body["field"] = field_path
    return WebhookResponse(status=status, body=body)
