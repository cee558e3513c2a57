from __future__ import annotations

from datetime import UTC, datetime

import pytest
from billbridge.app.webhook_signature import (
    MalformedSignatureHeadersError,
    MissingSignatureHeadersError,
    NoActiveSecretError,
    SignatureError,
    SignatureMismatchError,
    TimestampOutOfToleranceError,
    sign,
    signing_key,
    verify_signature,
)
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks import Webhook

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER_SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
NOW = datetime(2026, 3, 16, 12, 0, tzinfo=UTC)
BODY = b'{"specversion":"1.0","id":"e-1"}'


def _verify(headers: dict[str, str], *, secrets: list[str] | None = None, body: bytes = BODY, **kw: object):
    return verify_signature(body=body, headers=headers, secrets=secrets or [SECRET], now=NOW, **kw)  # type: ignore[arg-type]


def test_a_signed_delivery_verifies_and_yields_its_id_and_time() -> None:
    delivered = _verify(sign(SECRET, "msg_1", NOW, BODY))
    assert delivered.webhook_id == "msg_1"
    assert delivered.timestamp == NOW


def test_sign_matches_the_standardwebhooks_package() -> None:
    headers = sign(SECRET, "msg_1", NOW, BODY)
    assert headers["webhook-signature"] == Webhook(SECRET).sign("msg_1", NOW, BODY.decode())


def test_a_signature_made_by_the_package_verifies_here() -> None:
    signature = Webhook(SECRET).sign("msg_2", NOW, BODY.decode())
    headers = {
        "webhook-id": "msg_2",
        "webhook-timestamp": str(int(NOW.timestamp())),
        "webhook-signature": signature,
    }
    assert _verify(headers).webhook_id == "msg_2"


def test_header_names_are_case_insensitive() -> None:
    headers = {name.upper(): value for name, value in sign(SECRET, "msg_1", NOW, BODY).items()}
    assert _verify(headers).webhook_id == "msg_1"


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_named(missing: str) -> None:
    headers = sign(SECRET, "msg_1", NOW, BODY)
    del headers[missing]
    with pytest.raises(MissingSignatureHeadersError, match=missing):
        _verify(headers)


def test_a_wrong_secret_is_a_mismatch() -> None:
    with pytest.raises(SignatureMismatchError):
        _verify(sign(OTHER_SECRET, "msg_1", NOW, BODY))


def test_a_changed_body_is_a_mismatch() -> None:
    with pytest.raises(SignatureMismatchError):
        _verify(sign(SECRET, "msg_1", NOW, BODY), body=BODY + b" ")


def test_a_changed_webhook_id_is_a_mismatch() -> None:
    headers = sign(SECRET, "msg_1", NOW, BODY) | {"webhook-id": "msg_2"}
    with pytest.raises(SignatureMismatchError):
        _verify(headers)


def test_rotation_any_active_secret_verifies() -> None:
    headers = sign(OTHER_SECRET, "msg_1", NOW, BODY)
    assert _verify(headers, secrets=[SECRET, OTHER_SECRET]).webhook_id == "msg_1"


def test_one_valid_signature_among_several_is_enough() -> None:
    good = sign(SECRET, "msg_1", NOW, BODY)["webhook-signature"]
    stale = sign(OTHER_SECRET, "msg_1", NOW, BODY)["webhook-signature"]
    headers = sign(SECRET, "msg_1", NOW, BODY) | {"webhook-signature": f"v1a,xyz {stale} {good}"}
    assert _verify(headers).webhook_id == "msg_1"


def test_signatures_of_another_version_are_ignored() -> None:
    good = sign(SECRET, "msg_1", NOW, BODY)["webhook-signature"]
    headers = sign(SECRET, "msg_1", NOW, BODY) | {"webhook-signature": good.replace("v1,", "v2,")}
    with pytest.raises(MalformedSignatureHeadersError):
        _verify(headers)


@pytest.mark.parametrize(("offset", "word"), [(-301, "old"), (301, "future")])
def test_a_timestamp_beyond_the_tolerance_is_rejected(offset: int, word: str) -> None:
    headers = sign(SECRET, "msg_1", int(NOW.timestamp()) + offset, BODY)
    with pytest.raises(TimestampOutOfToleranceError, match=word):
        _verify(headers)


@pytest.mark.parametrize("offset", [-300, 300])
def test_a_timestamp_at_the_tolerance_is_accepted(offset: int) -> None:
    assert _verify(sign(SECRET, "msg_1", int(NOW.timestamp()) + offset, BODY)).webhook_id == "msg_1"


def test_the_tolerance_is_configurable() -> None:
    headers = sign(SECRET, "msg_1", int(NOW.timestamp()) - 60, BODY)
    with pytest.raises(TimestampOutOfToleranceError):
        _verify(headers, tolerance_seconds=30)


@pytest.mark.parametrize("timestamp", ["abc", "1.5", "-5", "99999999999999999"])
def test_a_malformed_timestamp_is_rejected(timestamp: str) -> None:
    headers = sign(SECRET, "msg_1", NOW, BODY) | {"webhook-timestamp": timestamp}
    with pytest.raises(MalformedSignatureHeadersError):
        _verify(headers)


def test_no_usable_secret_is_its_own_error() -> None:
    with pytest.raises(NoActiveSecretError):
        _verify(sign(SECRET, "msg_1", NOW, BODY), secrets=["whsec_***"])


def test_signing_key_accepts_padded_and_unpadded_base64() -> None:
    assert signing_key("whsec_YQ==") == signing_key("whsec_YQ") == b"a"
    with pytest.raises(ValueError):
        signing_key("whsec_")


@given(
    body=st.binary(max_size=256),
    headers=st.dictionaries(
        st.sampled_from(["webhook-id", "webhook-timestamp", "webhook-signature", "Webhook-Signature", "x"]),
        st.text(max_size=80),
    ),
)
def test_arbitrary_headers_fail_only_with_a_signature_error(body: bytes, headers: dict[str, str]) -> None:
    with pytest.raises(SignatureError):
        verify_signature(body=body, headers=headers, secrets=[SECRET], now=NOW)
