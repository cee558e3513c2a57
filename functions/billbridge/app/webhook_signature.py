"""Standard Webhooks signatures over the raw body (docs/spec/events.md, "Delivery").

`v1,` + base64(HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{raw body}"))
with each secret written `whsec_` + base64(key). The HMAC primitive is the
`standardwebhooks` package's; the package's own `Webhook.verify` is not used
because it reads the wall clock, fixes the tolerance at five minutes, decodes
the body as text and raises ValueError on a malformed signature list. Here the
body stays bytes, `now` is passed in, and every malformed header is a
SignatureError. Tests check that both sides interoperate with the package.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from standardwebhooks.webhooks import hmac_data

DEFAULT_TOLERANCE_SECONDS = 300
SECRET_PREFIX = "whsec_"
MAX_WEBHOOK_ID_LENGTH = 256
MAX_SIGNATURES = 16
"""More signatures than this in one header is not rotation but probing."""

HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"


class SignatureError(Exception):
    """The delivery is not authentic (HTTP 401); `reason` says why, without revealing secrets."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MissingSignatureHeadersError(SignatureError):
    pass


class MalformedSignatureHeadersError(SignatureError):
    pass


class TimestampOutOfToleranceError(SignatureError):
    """The `webhook-timestamp` is too old (a replay) or too far in the future."""


class SignatureMismatchError(SignatureError):
    pass


class NoActiveSecretError(SignatureError):
    pass


@dataclass(frozen=True, slots=True)
class VerifiedDelivery:
    webhook_id: str
    timestamp: datetime


def signing_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_...` secret (unpadded base64 accepted, as the package does)."""
    encoded = secret.removeprefix(SECRET_PREFIX).rstrip("=")
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret is `whsec_` followed by base64") from None
    if not key:
        raise ValueError("a webhook secret may not be empty")
    return key


def _signature(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> bytes:
    return hmac_data(key, webhook_id.encode() + b"." + str(timestamp).encode() + b"." + body)


def sign(secret: str, msg_id: str, timestamp: int | datetime, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers for `body` (for tests, the replay tool and vendors' stubs)."""
    seconds = int(timestamp.timestamp()) if isinstance(timestamp, datetime) else int(timestamp)
    signature = base64.b64encode(_signature(signing_key(secret), msg_id, seconds, body)).decode()
    return {HEADER_ID: msg_id, HEADER_TIMESTAMP: str(seconds), HEADER_SIGNATURE: f"v1,{signature}"}


def _offered_signatures(header: str) -> list[bytes]:
    offered: list[bytes] = []
    for token in header.split()[:MAX_SIGNATURES]:
        version, _, encoded = token.partition(",")
        if version != "v1" or not encoded:
            continue  # other schemes (e.g. v1a asymmetric) are not ours to check
        try:
            offered.append(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            continue
    return offered


def verify_signature(
    *,
    body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    now: datetime,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> VerifiedDelivery:
    """Check a delivery's signature against every active secret of its source.

    `headers` may use any case. One valid `v1` signature under any secret is
    enough. Every candidate is compared in constant time, and all of them are
    compared even after a match, so timing reveals nothing about which matched.
    Raises a SignatureError subclass.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    webhook_id = lowered.get(HEADER_ID, "")
    timestamp_text = lowered.get(HEADER_TIMESTAMP, "")
    signature_header = lowered.get(HEADER_SIGNATURE, "")
    missing = [
        name
        for name, value in (
            (HEADER_ID, webhook_id),
            (HEADER_TIMESTAMP, timestamp_text),
            (HEADER_SIGNATURE, signature_header),
        )
        if not value
    ]
    if missing:
        raise MissingSignatureHeadersError(f"missing header(s): {', '.join(missing)}")
    if len(webhook_id) > MAX_WEBHOOK_ID_LENGTH or not webhook_id.isprintable():
        raise MalformedSignatureHeadersError(
            f"{HEADER_ID} must be at most {MAX_WEBHOOK_ID_LENGTH} printable characters"
        )
    if not re.fullmatch(r"[0-9]{1,12}", timestamp_text.strip()):
        raise MalformedSignatureHeadersError(f"{HEADER_TIMESTAMP} must be unix seconds")
    timestamp = int(timestamp_text.strip())
    current = int(now.timestamp())
    if timestamp < current - tolerance_seconds:
        raise TimestampOutOfToleranceError(
            f"{HEADER_TIMESTAMP} is {current - timestamp} s old; at most {tolerance_seconds} s is accepted"
        )
    if timestamp > current + tolerance_seconds:
        raise TimestampOutOfToleranceError(
            f"{HEADER_TIMESTAMP} is {timestamp - current} s in the future; at most {tolerance_seconds} s is accepted"
        )
    offered = _offered_signatures(signature_header)
    if not offered:
        raise MalformedSignatureHeadersError(f"{HEADER_SIGNATURE} holds no v1 signature")
    keys: list[bytes] = []
    for secret in secrets:
        try:
            keys.append(signing_key(secret))
        except ValueError:
            continue  # a malformed secret in the store matches nothing
    if not keys:
        raise NoActiveSecretError("no active webhook secret for this source")
    matched = False
    for key in keys:
        expected = _signature(key, webhook_id, timestamp, body)
        for candidate in offered:
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise SignatureMismatchError("no valid signature for this body under the source's active secrets")
    return VerifiedDelivery(webhook_id=webhook_id, timestamp=datetime.fromtimestamp(timestamp, tz=UTC))
