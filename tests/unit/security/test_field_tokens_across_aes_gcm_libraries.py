"""Personal-data tokens survive the change of AES-GCM library (`cryptography` -> PyCryptodome).

GCM is one standard (NIST SP 800-38D): the same key, nonce and associated data give the same
ciphertext and 16-byte tag in any implementation. Tokens already in the ledger were sealed by
`cryptography`'s `AESGCM`; the functions now seal and open with PyCryptodome. `cryptography`
stays in the development environment (moto needs it), so it serves here as the independent
implementation on the other side.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from typing import Any

import pytest
from billbridge.adapters.field_encryption import (
    FieldEncryptionError,
    KmsFieldEncryption,
    encryption_context,
    open_aes_gcm,
    seal_aes_gcm,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st

DATA_KEY = bytes(range(32))
ENCRYPTED_DATA_KEY = b"kms-encrypted-data-key"
CONTRACT = "SOW-1001"

# Sealed by the previous implementation (`cryptography` 50.0.2 `AESGCM`, KmsFieldEncryption._seal
# with its nonce fixed) under DATA_KEY, for SOW-1001 version 1:
PREVIOUS_EMAIL_TOKEN = (
    "bbpd1.a21zLWVuY3J5cHRlZC1kYXRhLWtleQ.Dx4tPEtaaXiHlqW0.lM3rw-FiRooQGqKz4PzfkhpSjvBpv6Fk6CjU_qgAHg"
)
PREVIOUS_NAME_TOKEN = (
    "bbpd1.a21zLWVuY3J5cHRlZC1kYXRhLWtleQ.tKWWh3hpWks8LR4P."
    "l9CGDzJcoDZARn9z_Hsl5FeZlCRja4UPQ91ulC7Q_1cFx811TUBdgd2_v3hPlW7ObQ"
)


class FixedKeyKms:
    """KMS as the adapter calls it: one data key, opened only under its contract's context."""

    def __init__(self) -> None:
        self.decrypts = 0

    def generate_data_key(self, *, KeyId: str, KeySpec: str, EncryptionContext: Mapping[str, str]) -> dict[str, Any]:
        assert KeySpec == "AES_256"
        return {"Plaintext": DATA_KEY, "CiphertextBlob": ENCRYPTED_DATA_KEY}

    def decrypt(self, *, CiphertextBlob: bytes, KeyId: str, EncryptionContext: Mapping[str, str]) -> dict[str, Any]:
        self.decrypts += 1
        assert CiphertextBlob == ENCRYPTED_DATA_KEY and EncryptionContext == encryption_context(CONTRACT)
        return {"Plaintext": DATA_KEY}


def encryption() -> KmsFieldEncryption:
    return KmsFieldEncryption(key_id="alias/personal-data", decrypt=True, client=FixedKeyKms())


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_tokens_sealed_by_the_previous_implementation_open() -> None:
    clear = encryption().open(CONTRACT, 1, {"name": PREVIOUS_NAME_TOKEN, "email": PREVIOUS_EMAIL_TOKEN})
    assert clear == {"name": "Accounts Payable Team \u2013 Z\u00fcrich", "email": "ap@acme.example"}


def test_a_previous_token_stays_bound_to_its_field_and_version() -> None:
    with pytest.raises(FieldEncryptionError, match="does not belong here"):
        encryption().open(CONTRACT, 1, {"name": PREVIOUS_EMAIL_TOKEN})
    with pytest.raises(FieldEncryptionError, match="does not belong here"):
        encryption().open(CONTRACT, 2, {"email": PREVIOUS_EMAIL_TOKEN})


def test_a_previous_token_altered_by_one_bit_is_refused() -> None:
    prefix, key, nonce, sealed = PREVIOUS_EMAIL_TOKEN.split(".")
    altered = bytearray(_unb64(sealed))
    altered[3] ^= 0x01
    token = ".".join((prefix, key, nonce, base64.urlsafe_b64encode(bytes(altered)).decode().rstrip("=")))
    with pytest.raises(FieldEncryptionError, match="was altered"):
        encryption().open(CONTRACT, 1, {"email": token})


def test_a_token_sealed_now_opens_with_the_previous_library() -> None:
    sealed = encryption().seal(CONTRACT, 3, {"name": "Finance Ops", "email": "billing@acme.example"})
    for field, clear in (("name", "Finance Ops"), ("email", "billing@acme.example")):
        _prefix, encrypted_key, nonce, ciphertext = sealed[field].split(".")
        assert _unb64(encrypted_key) == ENCRYPTED_DATA_KEY
        associated = f"{CONTRACT}\x1f3\x1fbilling_contact.{field}".encode()
        assert AESGCM(DATA_KEY).decrypt(_unb64(nonce), _unb64(ciphertext), associated) == clear.encode()


@given(
    key=st.binary(min_size=32, max_size=32),
    nonce=st.binary(min_size=12, max_size=12),
    clear=st.binary(max_size=300),
    associated=st.binary(max_size=80),
)
def test_both_libraries_write_the_same_bytes_and_read_each_other(
    key: bytes, nonce: bytes, clear: bytes, associated: bytes
) -> None:
    theirs = AESGCM(key).encrypt(nonce, clear, associated)
    ours = seal_aes_gcm(key, nonce, clear, associated)
    assert ours == theirs
    assert open_aes_gcm(key, nonce, theirs, associated) == clear
    assert AESGCM(key).decrypt(nonce, ours, associated) == clear


def test_a_sealed_value_shorter_than_its_tag_is_refused_as_altered() -> None:
    with pytest.raises(ValueError):
        open_aes_gcm(DATA_KEY, os.urandom(12), b"short", b"")
