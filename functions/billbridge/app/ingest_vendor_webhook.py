"""Use case: `POST /webhooks/{source}/{vendor}`, a vendor's own webhook, onto the canonical path.

Order: route (a registered adapter for the source and vendor), size, the vendor's
signature over the raw bytes (its secrets are those of `"{source}/{vendor}"`),
the raw body stored (claim-check) before anything is acknowledged, the payload
translated to canonical events (fetching the objects of a thin event through
the vendor's API), then each event takes the canonical path of IngestWebhook
(validation, claim by `(source, id)`, publication). The use case answers with an
outcome (`DeliveryRefused` naming the field, `DeliveryDeferred` when the vendor's
API or the hub's own dependencies fail, so the vendor delivers again and nothing
is lost, or `VendorDeliveryJudged`); the API entrypoint maps it to the HTTP
answer the vendor expects (`entrypoints/api/webhook_http.py`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from billbridge import topology
from billbridge.app.ingest_webhook import (
    DeliveryDeferred,
    DeliveryJudged,
    DeliveryRefused,
    IngestWebhook,
    Refusal,
)
from billbridge.app.ports import Clock, RawPayloadStore, WebhookSecrets
from billbridge.app.vendor_adapters import (
    Skipped,
    VendorDelivery,
    VendorPayloadError,
    VendorSignatureError,
    VendorUnavailableError,
    VendorWebhookAdapter,
)

_log = logging.getLogger(__name__)

DEFAULT_RETRY_AFTER_SECONDS = 30


@dataclass(frozen=True, slots=True)
class VendorDeliveryJudged:
    """An authentic vendor delivery, translated: its events judged on the canonical path (None when
    it carried no event: a handshake, or only objects that map to none), what was skipped and why,
    and how the vendor wants a success answered."""

    judged: DeliveryJudged | None
    skipped: tuple[Skipped, ...]
    handshake: bool
    success_status: int
    """What the vendor expects on success (its documentation's), e.g. Xero's 200."""
    empty_success_body: bool


VendorDeliveryResult = DeliveryRefused | DeliveryDeferred | VendorDeliveryJudged
"""What `IngestVendorWebhook.handle` answers."""


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

    def handle(self, delivery: VendorDelivery) -> VendorDeliveryResult:
        adapter = self._adapters.get((delivery.source, delivery.vendor))
        if adapter is None:
            known = ", ".join(f"{s}/{v}" for s, v in sorted(self._adapters)) or "none"
            return DeliveryRefused(
                Refusal.UNKNOWN_ROUTE,
                f"no adapter for vendor {delivery.vendor[:64]!r} of source {delivery.source[:64]!r}; known: {known}",
                field="vendor",
            )
        if len(delivery.body) > self._max_body_bytes:
            return DeliveryRefused(
                Refusal.TOO_LARGE, f"body is {len(delivery.body)} bytes; at most {self._max_body_bytes} are accepted"
            )
        try:
            secrets = self._secrets.active_secrets(secrets_key(delivery.source, delivery.vendor))
        except Exception:
            _log.exception("webhook secrets unavailable")
            return self._unavailable("webhook secrets unavailable")
        try:
            adapter.verify(delivery, secrets)
        except VendorSignatureError as failure:
            return DeliveryRefused(Refusal.UNAUTHENTIC, f"signature rejected: {failure.reason}")

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
            return DeliveryRefused(Refusal.MALFORMED, bad.message, field=bad.field_path)
        except VendorUnavailableError as failure:
            _log.warning(
                "vendor API unavailable while translating a %s/%s delivery: %s",
                delivery.source,
                delivery.vendor,
                failure,
            )
            return self._unavailable(f"{delivery.vendor} API unavailable: {failure}")

        judged: DeliveryJudged | None = None
        if translation.events:
            result = self._canonical.accept_translated(
                source=delivery.source,
                events=translation.events,
                delivery_id=translation.delivery_id or f"{delivery.vendor}-{body_digest[:32]}",
                raw_key=raw_key,
                received_at=received_at,
            )
            if isinstance(result, DeliveryDeferred):
                return result
            judged = result
        return VendorDeliveryJudged(
            judged=judged,
            skipped=translation.skipped,
            handshake=translation.handshake,
            success_status=adapter.success_status,
            empty_success_body=adapter.empty_success_body,
        )

    def _unavailable(self, reason: str) -> DeliveryDeferred:
        return DeliveryDeferred(reason=reason, retry_after_seconds=self._retry_after)
