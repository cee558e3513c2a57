"""What every vendor module needs: HMAC over the raw body, JSON with exact decimals, dates."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from billbridge.app.vendor_adapters import VendorPayloadError, VendorSignatureError

MAX_SIGNATURE_HEADERS = 16


def base64_hmac_sha256(key: bytes, body: bytes) -> str:
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode("ascii")


def verify_base64_hmac(*, body: bytes, signatures: Iterable[str], secrets: Sequence[str], header: str) -> None:
    """One presented base64 HMAC-SHA256 of the raw body under one active secret (UTF-8 key) is enough.

    Compared in constant time on the decoded digests; raises VendorSignatureError otherwise."""
    presented: list[bytes] = []
    for value in list(signatures)[:MAX_SIGNATURE_HEADERS]:
        try:
            presented.append(base64.b64decode(value.strip(), validate=True))
        except (binascii.Error, ValueError):
            continue
    if not presented:
        raise VendorSignatureError(f"missing or malformed {header} header")
    keys = [s for s in secrets if s]
    if not keys:
        raise VendorSignatureError("no active signing key for this vendor")
    for key in keys:
        expected = hmac.new(key.encode("utf-8"), body, hashlib.sha256).digest()
        if any(hmac.compare_digest(expected, candidate) for candidate in presented):
            return
    raise VendorSignatureError(f"{header} does not match the body under any active key")


def parse_vendor_json(body: bytes, what: str) -> Any:
    """JSON with numbers as Decimal (money never passes through float)."""
    try:
        return json.loads(body.decode("utf-8"), parse_float=Decimal)
    except UnicodeDecodeError:
        raise VendorPayloadError(f"the {what} is not UTF-8") from None
    except json.JSONDecodeError as error:
        raise VendorPayloadError(
            f"the {what} is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None


def require(document: Any, path: str, kind: type | tuple[type, ...] = str) -> Any:
    """`document[a][b]...` for a dotted `path`, of `kind`, or a VendorPayloadError naming the path."""
    current = document
    for part in path.split("."):
        if not isinstance(current, dict) or part not in current:
            raise VendorPayloadError(f"{path} is required", field_path=path)
        current = current[part]
    if not isinstance(current, kind) or (isinstance(current, str) and not current.strip()):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise VendorPayloadError(f"{path} must be a non-empty {expected}", field_path=path)
    return current


def decimal_text(value: Any, path: str) -> str:
    """A vendor's amount (JSON number read as Decimal, or a string) as the canonical decimal string."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise VendorPayloadError(f"{path} must be a number", field_path=path)
    try:
        amount = Decimal(str(value).strip())
    except ArithmeticError:
        raise VendorPayloadError(f"{path} must be a number", field_path=path) from None
    if not amount.is_finite():
        raise VendorPayloadError(f"{path} must be a finite number", field_path=path)
    return str(amount)
