"""Field-level encryption of personal data in the ledger (envelope encryption with KMS).

What is personal data in a book: the billing contact (name and email) of every
contract version. (Time entries and rate cards carry `resource_id`s, which are
pseudonymous PSA ids, not names; should a resource name ever be stored, it
joins `PERSONAL_FIELDS` here.)

Scheme, per book save: one KMS `GenerateDataKey` (AES-256) under the stack's
personal-data key, with the encryption context
`{"billbridge:purpose": "ledger-personal-data", "billbridge:contract": <id>}`;
each field is sealed with AES-GCM under that data key, a fresh 96-bit nonce
and the field's path as associated data, and stored in place of the clear
value as a token:

    bbpd1.<base64url encrypted data key>.<base64url nonce>.<base64url ciphertext+tag>

Reading a token back needs `kms:Decrypt` with the same encryption context, so a
token cannot be moved to another contract, nor a value to another field.

AES-GCM comes from PyCryptodome (`Crypto.Cipher.AES`, `MODE_GCM`): a 12-byte nonce, the
associated data passed to `update`, `encrypt_and_digest` giving the ciphertext and a 16-byte
tag, `decrypt_and_verify` raising `ValueError` when the tag does not match
(https://www.pycryptodome.org/src/cipher/modern.html#gcm-mode). GCM is NIST SP 800-38D, so the
token keeps the layout the earlier `cryptography` implementation wrote (`AESGCM.encrypt`:
ciphertext followed by the 16-byte tag) and tokens of either implementation open with the
other; see docs/decisions/0026-a-layer-under-25-mb.md.

Roles without decrypt permission never call KMS: a book loaded there keeps its
tokens, which the next save writes back unchanged (they are recognised by the
prefix). Only the contracts consumer (which compares a re-delivered version
with the stored one) and the personal-data reader role may decrypt; see
docs/security.md.
"""

from __future__ import annotations

import base64
import os
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from billbridge import topology
from billbridge.domain.model import BillingContact, ContractBook, ContractVersion

TOKEN_PREFIX = "bbpd1."
PURPOSE = topology.FIELD_ENCRYPTION_PURPOSE
CONTEXT_PURPOSE = topology.FIELD_ENCRYPTION_CONTEXT_PURPOSE
CONTEXT_CONTRACT = "billbridge:contract"
PERSONAL_FIELDS: tuple[str, ...] = ("billing_contact.name", "billing_contact.email")

_DATA_KEY_CACHE_SIZE = 256
_SEALED_MEMO_SIZE = 10_000
_NONCE_BYTES = 12
_TAG_BYTES = 16


class FieldEncryptionError(Exception):
    """A token could not be read (tampered, wrong contract or field, or no permission)."""


class FieldEncryption(Protocol):
    def protect(self, book: ContractBook) -> ContractBook:
        """The book with every clear personal field replaced by a token."""
        ...

    def reveal(self, book: ContractBook) -> ContractBook:
        """The book with tokens replaced by clear values, where this role may decrypt."""
        ...


def is_token(value: str) -> bool:
    return value.startswith(TOKEN_PREFIX)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encryption_context(contract_id: str) -> dict[str, str]:
    return {CONTEXT_PURPOSE: PURPOSE, CONTEXT_CONTRACT: contract_id}


def _associated_data(contract_id: str, version: int, field: str) -> bytes:
    return f"{contract_id}\x1f{version}\x1f{field}".encode()


@dataclass(frozen=True, slots=True)
class _DataKey:
    plaintext: bytes
    encrypted: bytes


class KmsFieldEncryption:
    """FieldEncryption with KMS data keys and AES-GCM (PyCryptodome).

    `decrypt=False` for roles that may only encrypt: tokens are then left as
    they are on `reveal`. Decrypted data keys are cached (bounded) per
    encrypted key, so loading a book whose fields share one data key costs one
    `kms:Decrypt`.
    """

    def __init__(self, *, key_id: str, decrypt: bool = True, client: Any | None = None) -> None:
        if not key_id:
            raise ValueError("a KMS key id or ARN is required for field encryption")
        self._key_id = key_id
        self._decrypt = decrypt
        self._client = client
        self._data_keys: OrderedDict[tuple[bytes, str], bytes] = OrderedDict()
        self._sealed: dict[tuple[str, int, str, str], str] = {}

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("kms")
        return self._client

    # --- FieldEncryption ---------------------------------------------------------------------

    def protect(self, book: ContractBook) -> ContractBook:
        if not _has_clear_fields(book):
            return book
        data_key: list[_DataKey] = []

        def key() -> _DataKey:
            if not data_key:
                response = self.client.generate_data_key(
                    KeyId=self._key_id,
                    KeySpec="AES_256",
                    EncryptionContext=encryption_context(book.contract_id),
                )
                data_key.append(_DataKey(response["Plaintext"], response["CiphertextBlob"]))
            return data_key[0]

        def seal(version: ContractVersion, field: str, value: str) -> str:
            if not value or is_token(value):
                return value
            remembered = self._sealed.get((book.contract_id, version.version, field, value))
            if remembered is not None:
                return remembered  # the token this value was read from: unchanged, no new data key
            return self._seal(key(), _associated_data(book.contract_id, version.version, field), value)

        return _map_contacts(book, seal)

    def reveal(self, book: ContractBook) -> ContractBook:
        if not self._decrypt:
            return book

        def open_(version: ContractVersion, field: str, value: str) -> str:
            if not is_token(value):
                return value
            clear = self._open(book.contract_id, version.version, field, value)
            if len(self._sealed) >= _SEALED_MEMO_SIZE:
                self._sealed.clear()
            self._sealed[(book.contract_id, version.version, field, clear)] = value
            return clear

        return _map_contacts(book, open_)

    # --- PersonalDataVault: contacts in transit ----------------------------------------------

    def seal(self, contract_id: str, version: int, contact: Mapping[str, str]) -> dict[str, str]:
        clear = {field: value for field, value in contact.items() if value and not is_token(value)}
        if not clear:
            return dict(contact)
        response = self.client.generate_data_key(
            KeyId=self._key_id, KeySpec="AES_256", EncryptionContext=encryption_context(contract_id)
        )
        data_key = _DataKey(response["Plaintext"], response["CiphertextBlob"])
        return {
            field: (
                self._seal(data_key, _associated_data(contract_id, version, f"billing_contact.{field}"), value)
                if field in clear
                else value
            )
            for field, value in contact.items()
        }

    def open(self, contract_id: str, version: int, contact: Mapping[str, str]) -> dict[str, str]:
        if not self._decrypt:
            return dict(contact)
        return {
            field: (self._open(contract_id, version, f"billing_contact.{field}", value) if is_token(value) else value)
            for field, value in contact.items()
        }

    # --- tokens --------------------------------------------------------------------------------

    @staticmethod
    def _seal(data_key: _DataKey, associated: bytes, value: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = seal_aes_gcm(data_key.plaintext, nonce, value.encode(), associated)
        return TOKEN_PREFIX + ".".join((_b64(data_key.encrypted), _b64(nonce), _b64(sealed)))

    def _open(self, contract_id: str, version: int, field: str, token: str) -> str:
        parts = token.removeprefix(TOKEN_PREFIX).split(".")
        if len(parts) != 3:
            raise FieldEncryptionError(f"{contract_id} v{version} {field}: not a field token")
        encrypted_key, nonce, sealed = (_unb64(part) for part in parts)
        plaintext_key = self._data_key(encrypted_key, contract_id)
        try:
            clear = open_aes_gcm(plaintext_key, nonce, sealed, _associated_data(contract_id, version, field))
        except ValueError:
            raise FieldEncryptionError(
                f"{contract_id} v{version} {field}: the token does not belong here or was altered"
            ) from None
        return clear.decode()

    def _data_key(self, encrypted: bytes, contract_id: str) -> bytes:
        cached = self._data_keys.get((encrypted, contract_id))
        if cached is not None:
            self._data_keys.move_to_end((encrypted, contract_id))
            return cached
        try:
            response = self.client.decrypt(
                CiphertextBlob=encrypted,
                KeyId=self._key_id,
                EncryptionContext=encryption_context(contract_id),
            )
        except Exception as error:  # botocore's ClientError, without importing botocore here
            if type(error).__name__ in ("ClientError", "InvalidCiphertextException", "AccessDeniedException"):
                raise FieldEncryptionError(
                    f"{contract_id}: the data key could not be decrypted ({type(error).__name__})"
                ) from None
            raise
        plaintext: bytes = response["Plaintext"]
        self._data_keys[(encrypted, contract_id)] = plaintext
        if len(self._data_keys) > _DATA_KEY_CACHE_SIZE:
            self._data_keys.popitem(last=False)
        return plaintext


def seal_aes_gcm(key: bytes, nonce: bytes, clear: bytes, associated: bytes) -> bytes:
    """AES-GCM: the ciphertext followed by its 16-byte tag (the layout of NIST SP 800-38D's output)."""
    from Crypto.Cipher import AES  # imported on first use: roles without a key never load it

    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce, mac_len=_TAG_BYTES)
    cipher.update(associated)
    ciphertext, tag = cipher.encrypt_and_digest(clear)
    return ciphertext + tag


def open_aes_gcm(key: bytes, nonce: bytes, sealed: bytes, associated: bytes) -> bytes:
    """The clear bytes of `seal_aes_gcm`'s output; ValueError if the tag does not match."""
    from Crypto.Cipher import AES

    if len(sealed) < _TAG_BYTES:
        raise ValueError("shorter than a GCM tag")
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce, mac_len=_TAG_BYTES)
    cipher.update(associated)
    clear: bytes = cipher.decrypt_and_verify(sealed[:-_TAG_BYTES], sealed[-_TAG_BYTES:])
    return clear


def _has_clear_fields(book: ContractBook) -> bool:
    for version in book.versions.values():
        contact = version.billing_contact
        values = (contact.name, contact.email) if contact is not None else ()
        if any(value and not is_token(value) for value in values):
            return True
    return False


def _map_contacts(book: ContractBook, transform: Callable[[ContractVersion, str, str], str]) -> ContractBook:
    versions: dict[int, ContractVersion] = {}
    changed = False
    for number, version in book.versions.items():
        contact = version.billing_contact
        if contact is None:
            versions[number] = version
            continue
        mapped = BillingContact(
            name=transform(version, "billing_contact.name", contact.name),
            email=transform(version, "billing_contact.email", contact.email),
        )
        if mapped != contact:
            changed = True
            versions[number] = replace(version, billing_contact=mapped)
        else:
            versions[number] = version
    return replace(book, versions=versions) if changed else book


def field_encryption_for(key_arn: str, *, decrypt: bool) -> KmsFieldEncryption | None:
    """KmsFieldEncryption where the function is given a key (deployed), else None (local stack)."""
    return KmsFieldEncryption(key_id=key_arn, decrypt=decrypt) if key_arn else None
