"""NetSuite OAuth 2.0 client credentials (machine to machine): a certificate-signed JWT for an access token.

Documentation followed (read 2026-11-29):
- POST request to the token endpoint and the access token response:
  https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_162755359851.html :
  `POST https://<accountID>.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token`,
  `application/x-www-form-urlencoded` with `grant_type=client_credentials`,
  `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer` and
  `client_assertion=<JWT>`; the answer carries `access_token`, `expires_in`, `token_type`.
- The request token structure:
  https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_162790605110.html :
  header `{"typ": "JWT", "alg": PS256|PS384|PS512|ES256|ES384|ES512, "kid": <Certificate ID>}`,
  payload `{"iss": <client ID>, "scope": "restlets,rest_webservices,suite_analytics" (any of them,
  comma-separated), "aud": <the token endpoint>, "iat", "exp"}` with `exp` less than 60 minutes
  after `iat`; signed with the private key of the certificate mapped in "OAuth 2.0 Client
  Credentials (M2M) Setup".
- Using SuiteScript with OAuth 2.0:
  https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_0312092247.html :
  "The access token can be cached and used repeatedly, but it must be refreshed at certain point."

The token is cached until a minute before `expires_in` runs out and fetched again after the
REST API answers 401 (`invalidate`). The credentials are read from the secret on each token
request, so a rotated certificate (a new Certificate ID and key) needs no redeploy.

Signing uses PyCryptodome (the functions' layer's only cryptography library), imported only when
a token is requested, with the JWS algorithms of RFC 7518 section 3
(https://www.rfc-editor.org/rfc/rfc7518#section-3):
- PS256/384/512, RSASSA-PSS with MGF1 over the same SHA-2 and a salt as long as the digest:
  `Crypto.Signature.pss.new(key)`, whose defaults are exactly these
  (https://www.pycryptodome.org/src/signature/pkcs1_pss.html);
- ES256/384/512, ECDSA over P-256/P-384/P-521 with the signature as the 64/96/132-byte
  concatenation of r and s: `Crypto.Signature.DSS.new(key, "fips-186-3")`, whose default
  `binary` encoding is that concatenation (https://www.pycryptodome.org/src/signature/dsa.html).
The private key is the certificate's PEM (PKCS#1, SEC 1 or PKCS#8), read by
`Crypto.PublicKey.RSA.import_key` or `Crypto.PublicKey.ECC.import_key`
(https://www.pycryptodome.org/src/public_key/rsa.html, .../public_key/ecc.html).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from billbridge.adapters.connectors.http_transport import HttpTransport, require_secure_url
from billbridge.adapters.vendors.vendor_api_client import token_endpoint_document
from billbridge.app.vendor_adapters import VendorUnavailableError

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME_SECONDS = 300
"""Well under NetSuite's 60-minute ceiling: the assertion is used once, right away."""
REFRESH_MARGIN_SECONDS = 60
TOKEN_TIMEOUT_SECONDS = 10.0
_EC_CURVES = {"256": "NIST P-256", "384": "NIST P-384", "512": "NIST P-521"}
"""RFC 7518 section 3.4: ES256 is ECDSA on P-256 with SHA-256, ES384 on P-384, ES512 on P-521."""
ALGORITHMS = ("PS256", "PS384", "PS512", "ES256", "ES384", "ES512")


@dataclass(frozen=True, slots=True)
class MachineCredentials:
    """What the integration record and the certificate mapping give: client id, Certificate ID, private key."""

    client_id: str
    certificate_id: str
    private_key_pem: str

    @classmethod
    def from_secret(cls, values: Sequence[str]) -> MachineCredentials:
        if len(values) < 3 or not all(v.strip() for v in values[:3]):
            raise ValueError("the secret must be [client_id, certificate_id, private key PEM]")
        return cls(values[0].strip(), values[1].strip(), values[2])


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def signed_assertion(
    credentials: MachineCredentials,
    *,
    token_url: str,
    scopes: Sequence[str],
    algorithm: str,
    issued_at: int,
    jwt_id: str,
) -> str:
    """The client assertion NetSuite documents, signed with the certificate's private key."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}")
    header = {"typ": "JWT", "alg": algorithm, "kid": credentials.certificate_id}
    payload = {
        "iss": credentials.client_id,
        "scope": ",".join(scopes),
        "aud": token_url,
        "iat": issued_at,
        "exp": issued_at + ASSERTION_LIFETIME_SECONDS,
        "jti": jwt_id,
    }
    signing_input = (
        _b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64url(json.dumps(payload, separators=(",", ":")).encode())
    ).encode("ascii")
    signature = _sign(credentials.private_key_pem, algorithm, signing_input)
    return signing_input.decode("ascii") + "." + _b64url(signature)


def _sign(private_key_pem: str, algorithm: str, signing_input: bytes) -> bytes:
    """The JWS signature of `signing_input` (RFC 7518 section 3.5 for PS*, 3.4 for ES*)."""
    # imported here: only a token request signs, and the webhook function's cold start stays light
    from Crypto.Hash import SHA256, SHA384, SHA512
    from Crypto.PublicKey import ECC, RSA
    from Crypto.Signature import DSS, pss

    digest = {"256": SHA256, "384": SHA384, "512": SHA512}[algorithm[2:]].new(signing_input)
    if algorithm.startswith("PS"):
        try:
            rsa_key = RSA.import_key(private_key_pem)
        except ValueError:
            raise ValueError(f"{algorithm} needs an RSA private key") from None
        if not rsa_key.has_private():
            raise ValueError(f"{algorithm} needs an RSA private key")
        return pss.new(rsa_key).sign(digest)
    try:
        ec_key = ECC.import_key(private_key_pem)
    except ValueError:
        raise ValueError(f"{algorithm} needs an EC private key") from None
    if not ec_key.has_private() or ec_key.curve != _EC_CURVES[algorithm[2:]]:
        raise ValueError(f"{algorithm} needs an EC private key on {_EC_CURVES[algorithm[2:]]}")
    signature: bytes = DSS.new(ec_key, "fips-186-3").sign(digest)
    return signature


class NetSuiteMachineToMachineToken:
    """An AccessToken for the REST client: NetSuite's client credentials flow, cached and refreshed."""

    def __init__(
        self,
        *,
        token_url: str,
        credentials: Callable[[], MachineCredentials],
        transport: HttpTransport,
        scopes: Sequence[str] = ("rest_webservices",),
        algorithm: str = "PS256",
        clock: Callable[[], float] = time.time,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}")
        self._token_url = require_secure_url(token_url, "token_url")
        self._credentials = credentials
        self._transport = transport
        self._scopes = tuple(scopes)
        self._algorithm = algorithm
        self._clock = clock
        self._new_id = new_id
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self.token_requests = 0

    def token(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._expires_at - REFRESH_MARGIN_SECONDS:
                self._token, self._expires_at = self._fetch()
            return self._token

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def _fetch(self) -> tuple[str, float]:
        now = self._clock()
        try:
            assertion = signed_assertion(
                self._credentials(),
                token_url=self._token_url,
                scopes=self._scopes,
                algorithm=self._algorithm,
                issued_at=int(now),
                jwt_id=self._new_id(),
            )
        except ValueError as error:
            raise VendorUnavailableError(f"netsuite: cannot sign the client assertion ({error})") from None
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        }
        self.token_requests += 1
        document = token_endpoint_document(
            "netsuite", self._transport, self._token_url, form, timeout=TOKEN_TIMEOUT_SECONDS
        )
        token = document.get("access_token")
        if not isinstance(token, str) or not token:
            raise VendorUnavailableError("netsuite: token endpoint answered without an access_token")
        try:
            lifetime = float(str(document.get("expires_in", 0)))
        except ValueError:
            lifetime = 0.0
        return token, now + max(lifetime, 0.0)
