"""NetSuite OAuth 2.0 client credentials (M2M): the documented assertion, caching, refresh and refusals.

The signatures are made with PyCryptodome (what the functions' layer ships) and verified here with
`cryptography` (in the development environment only), an independent implementation."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs

import pytest
from billbridge.adapters.vendors.netsuite import NetSuiteInvoicePolling
from billbridge.adapters.vendors.netsuite_oauth import (
    ASSERTION_TYPE,
    MachineCredentials,
    NetSuiteMachineToMachineToken,
    signed_assertion,
)
from billbridge.adapters.vendors.vendor_registry import VendorRegistry
from billbridge.app.vendor_adapters import VendorUnavailableError
from billbridge.local.vendor_stand_ins import InProcessTransport, NetSuiteStandIn
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.fakes.edge import InMemoryWebhookSecrets

ORIGIN = "https://1234567.suitetalk.api.netsuite.com"
TOKEN_URL = f"{ORIGIN}/services/rest/auth/oauth2/v1/token"


def _segment(text: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


class Recording:
    """The stand-in, with every token request kept for inspection."""

    def __init__(self, stand_in: NetSuiteStandIn) -> None:
        self.stand_in = stand_in
        self.forms: list[dict[str, str]] = []

    def __call__(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        if path.endswith("/oauth2/v1/token"):
            self.forms.append({k: v[0] for k, v in parse_qs(body.decode()).items()})
        return self.stand_in(method, path, headers, body)


class Rig:
    def __init__(self) -> None:
        self.now = 1_775_000_000.0
        self.stand_in = NetSuiteStandIn()
        self.recording = Recording(self.stand_in)
        self.secret = [self.stand_in.client_id, self.stand_in.certificate_id, self.stand_in.private_key_pem]
        self.token = NetSuiteMachineToMachineToken(
            token_url=TOKEN_URL,
            credentials=lambda: MachineCredentials.from_secret(self.secret),
            transport=InProcessTransport({ORIGIN: self.recording}),
            clock=lambda: self.now,
            new_id=lambda: "jti-1",
        )


def test_the_assertion_is_the_documented_jwt_and_the_token_is_issued() -> None:
    rig = Rig()
    assert rig.token.token() == rig.stand_in.token
    (form,) = rig.recording.forms
    assert form["grant_type"] == "client_credentials"
    assert form["client_assertion_type"] == ASSERTION_TYPE
    header, payload, _signature = form["client_assertion"].split(".")
    assert _segment(header) == {"typ": "JWT", "alg": "PS256", "kid": rig.stand_in.certificate_id}
    claims = _segment(payload)
    assert claims["iss"] == rig.stand_in.client_id
    assert claims["aud"] == TOKEN_URL
    assert claims["scope"] == "rest_webservices"
    assert claims["iat"] == 1_775_000_000 and 0 < claims["exp"] - claims["iat"] <= 3600


def test_the_token_is_cached_until_a_minute_before_it_expires_then_fetched_again() -> None:
    rig = Rig()
    rig.token.token()
    rig.now += 3500
    rig.token.token()
    assert rig.token.token_requests == 1
    rig.now += 50  # 3550 s: within the minute before expires_in (3600)
    rig.token.token()
    assert rig.token.token_requests == 2


def test_invalidate_after_a_401_fetches_a_new_token() -> None:
    rig = Rig()
    rig.token.token()
    rig.token.invalidate()
    rig.token.token()
    assert rig.token.token_requests == 2


def test_a_key_that_is_not_the_mapped_certificates_is_refused_as_unavailable_with_the_reason() -> None:
    rig = Rig()
    rig.secret = [rig.stand_in.client_id, rig.stand_in.certificate_id, NetSuiteStandIn().private_key_pem]
    with pytest.raises(VendorUnavailableError, match="400 \\(invalid_grant\\)"):
        rig.token.token()


def test_a_wrong_certificate_id_is_invalid_client() -> None:
    rig = Rig()
    rig.secret = [rig.stand_in.client_id, "another-certificate", rig.stand_in.private_key_pem]
    with pytest.raises(VendorUnavailableError, match="invalid_client"):
        rig.token.token()


def test_an_incomplete_secret_names_what_it_must_hold() -> None:
    rig = Rig()
    rig.secret = ["a static bearer token"]
    with pytest.raises(VendorUnavailableError, match=r"\[client_id, certificate_id, private key PEM\]"):
        rig.token.token()


def test_the_poller_reads_netsuite_with_the_m2m_token_from_the_secret_document() -> None:
    stand_in = NetSuiteStandIn()
    secrets = InMemoryWebhookSecrets(
        {"api:erp/netsuite": [stand_in.client_id, stand_in.certificate_id, stand_in.private_key_pem]}
    )
    registry = VendorRegistry(
        {"erp/netsuite": {"api_base_url": f"{ORIGIN}/services/rest", "requests_per_second": 1000}},
        secrets=secrets,
        transport=InProcessTransport({ORIGIN: stand_in}),
    )
    source = registry.polling_sources()["erp/netsuite"].source
    assert isinstance(source, NetSuiteInvoicePolling)
    page = source.read_page(None, 10)
    assert page.events == () and stand_in.tokens_issued == 1
    assert ("POST", "/services/rest/auth/oauth2/v1/token") in stand_in.requests


# --- the signature of every algorithm NetSuite accepts, checked by an independent library ----------

_CURVES = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}
_HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, private_format: serialization.PrivateFormat) -> str:
    return key.private_bytes(serialization.Encoding.PEM, private_format, serialization.NoEncryption()).decode()


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _assert(key_pem: str, algorithm: str) -> tuple[bytes, bytes]:
    credentials = MachineCredentials("client", "cert-1", key_pem)
    assertion = signed_assertion(
        credentials, token_url=TOKEN_URL, scopes=("rest_webservices",), algorithm=algorithm, issued_at=1, jwt_id="j"
    )
    head, claims, signature = assertion.split(".")
    assert _segment(head)["alg"] == algorithm
    return f"{head}.{claims}".encode("ascii"), base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))


@pytest.mark.parametrize("algorithm", ["PS256", "PS384", "PS512"])
@pytest.mark.parametrize(
    "private_format", [serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL]
)
def test_ps_assertions_are_rsassa_pss_with_mgf1_and_a_digest_long_salt(
    rsa_key: rsa.RSAPrivateKey, algorithm: str, private_format: serialization.PrivateFormat
) -> None:
    signing_input, signature = _assert(_pem(rsa_key, private_format), algorithm)
    digest = _HASHES[algorithm[2:]]()
    rsa_key.public_key().verify(
        signature, signing_input, padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size), digest
    )


@pytest.mark.parametrize("algorithm", ["ES256", "ES384", "ES512"])
@pytest.mark.parametrize(
    "private_format", [serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL]
)
def test_es_assertions_are_ecdsa_with_r_and_s_concatenated(
    algorithm: str, private_format: serialization.PrivateFormat
) -> None:
    key = ec.generate_private_key(_CURVES[algorithm])
    signing_input, signature = _assert(_pem(key, private_format), algorithm)
    size = {"ES256": 32, "ES384": 48, "ES512": 66}[algorithm]
    assert len(signature) == 2 * size
    r, s = int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
    key.public_key().verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(_HASHES[algorithm[2:]]()))


def test_a_key_of_the_wrong_kind_or_curve_is_refused_with_the_reason(rsa_key: rsa.RSAPrivateKey) -> None:
    p256 = _pem(ec.generate_private_key(ec.SECP256R1()), serialization.PrivateFormat.PKCS8)
    rsa_pem = _pem(rsa_key, serialization.PrivateFormat.PKCS8)
    with pytest.raises(ValueError, match="PS256 needs an RSA private key"):
        _assert(p256, "PS256")
    with pytest.raises(ValueError, match="ES256 needs an EC private key"):
        _assert(rsa_pem, "ES256")
    with pytest.raises(ValueError, match="ES384 needs an EC private key on NIST P-384"):
        _assert(p256, "ES384")
    with pytest.raises(ValueError, match="needs an RSA private key"):
        _assert("not a PEM at all", "PS256")
    public_only = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(ValueError, match="PS256 needs an RSA private key"):
        _assert(public_only.decode(), "PS256")
