"""What a boto3 call into the in-process stand-ins no longer has to do.

Every AWS call a handler makes locally goes through botocore (serialize, sign,
send) into moto's `BotocoreStubber.process_request` (find the service, build a
request, dispatch, serialize the answer), in the same process. Two parts of
that path cost time on every call and change nothing in the answers:

- **Signing.** botocore's SigV4 signer hashes the payload, builds the canonical
  request and chains five HMACs for every call. moto does not check signatures
  (its IAM authorization is off unless a test turns it on); what it reads from
  the `Authorization` header is the access key (which account) and the
  credential scope (which region, when the URL does not say). `scope_only_sigv4`
  sets the same headers botocore sets (`X-Amz-Date`, the security token, an
  `Authorization` header with the same credential scope and signed header
  names) with a placeholder signature. Only the plain SigV4 signer is replaced:
  S3's signer (payload hash headers, presigned URLs) is left as it is.
- **Routing.** moto matches each request's URL against every service's pattern
  in turn (DynamoDB is about the 80th, SQS about the 250th) and then rebuilds
  and matches the service's URL table; `routed_process_request` remembers, per
  URL (query removed), the service and handler the same search found, and
  dispatches as moto does (the same normalized request, the same handler, the
  same answer or `HTTPException` answer). A URL it has not seen, or one the
  search finds nothing for, goes through moto's own function.
- **The request object.** moto turns every botocore request into its werkzeug
  `Request` through werkzeug's test `EnvironBuilder` (header objects, URL
  parsing and IRI quoting, stream measuring, per call). For the JSON-protocol
  calls the handlers make (DynamoDB, EventBridge, SQS, Secrets Manager, Step
  Functions: `POST /` with an `application/x-amz-json-*` body),
  `json_protocol_request` builds the same WSGI environment directly (the same
  keys and values, compared with moto's in the tests); any other request
  (S3, a query string, a path, a streamed body) goes through moto's
  `normalize_request`.
- **The answer.** moto's serializer asks its attribute picker for every member
  of the output shape (a context object and six alias providers per member,
  most members absent); on a plain dict `picked_member` tries the same keys in
  the same order, worked out once per member shape. A request id is drawn in
  one call from moto's random source (`request_id`).

`billbridge.local.stand_in_boundary.faster_stand_ins()` installs them while
a local stack runs (docs/decisions/0023-local-stack-call-path.md);
`tests/integration/local/test_faster_stand_ins.py` compares moto's answers with and without them.
"""

from __future__ import annotations

import functools
import io
import re
import string
import sys
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SIGNED_HEADERS_BLACKLIST, SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import HeadersDict
from botocore.exceptions import NoCredentialsError
from botocore.utils import get_current_datetime

PLACEHOLDER_SIGNATURE = "0" * 64
"""Where a SigV4 signature goes; moto does not verify it."""


def scope_only_sigv4(original: Any) -> Any:
    """`SigV4Auth.add_auth` with the same headers and a placeholder signature (plain SigV4 only)."""

    def add_auth(signer: Any, request: Any) -> None:
        if type(signer) is not SigV4Auth:
            original(signer, request)
            return
        if signer.credentials is None:
            raise NoCredentialsError()
        request.context["timestamp"] = get_current_datetime().strftime(SIGV4_TIMESTAMP)
        signer._modify_request_before_signing(request)
        signed = _signed_header_names(signer, request)
        request.headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={signer.scope(request)}, SignedHeaders={signed}, "
            f"Signature={PLACEHOLDER_SIGNATURE}"
        )

    return add_auth


_NEVER_SIGNED = frozenset(SIGNED_HEADERS_BLACKLIST)


def _signed_header_names(signer: SigV4Auth, request: Any) -> str:
    """`SignedHeaders` as botocore writes it: the request's header names, lower case, but the
    ones it never signs, with `host` (which the HTTP client adds), sorted."""
    headers = request.headers
    if type(headers) is not HeadersDict:
        return str(signer.signed_headers(signer.headers_to_sign(request)))
    names = {str(key).lower() for key in headers._dict} - _NEVER_SIGNED
    names.add("host")
    return ";".join(sorted(name.strip() for name in names))


@functools.lru_cache(maxsize=8192)
def _service_of(clean_url: str) -> str | None:
    """The first service whose URL pattern matches, in moto's order (moto's own search)."""
    import moto.backend_index as backend_index

    for service, pattern in backend_index.backend_url_patterns:
        if pattern.match(clean_url):
            return str(service)
    return None


_URL_TABLES: dict[type, dict[str, Any]] = {}
"""A backend class's URL table (pattern -> handler): the same for every instance of the class."""


def _url_table(backend: Any) -> dict[str, Any]:
    table = _URL_TABLES.get(type(backend))
    if table is None:
        table = _URL_TABLES[type(backend)] = dict(backend.urls)
    return table


@functools.lru_cache(maxsize=8192)
def _handler_of(backend_class: type, clean_url: str) -> str | None:
    """The first pattern of the backend's URL table that matches (moto's own search)."""
    for url in _URL_TABLES[backend_class]:
        if re.compile(url).match(clean_url):
            return url
    return None


def routed_process_request(original: Any) -> Any:
    """moto's `BotocoreStubber.process_request`, with its searches remembered per URL."""
    import moto.backends as backends
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.core.base_backend import BackendDict
    from moto.core.config import passthrough_service, passthrough_url, service_whitelisted
    from moto.core.exceptions import HTTPException, ServiceNotWhitelisted
    from moto.core.request import normalize_request
    from moto.core.utils import get_equivalent_url_in_aws_domain
    from moto.moto_api import recorder

    # Imported once when installed, not at every call (the same functions moto's own path uses).
    def process_request(stubber: Any, request: Any) -> Any:
        parsed_url, _ = get_equivalent_url_in_aws_domain(request.url)
        clean_url = f"{parsed_url.scheme}://{parsed_url.netloc}{parsed_url.path}"
        if passthrough_url(clean_url):
            return None
        service = _service_of(clean_url)
        if service is None:
            return original(stubber, request)
        if passthrough_service(service):
            return None
        if not service_whitelisted(service):
            raise ServiceNotWhitelisted(service)
        backend_dict = backends.get_backend(service)  # type: ignore[call-overload]
        if isinstance(backend_dict, BackendDict):
            if "us-east-1" in backend_dict[DEFAULT_ACCOUNT_ID]:
                backend = backend_dict[DEFAULT_ACCOUNT_ID]["us-east-1"]
            else:
                backend = backend_dict[DEFAULT_ACCOUNT_ID]["aws"]
        else:
            backend = backend_dict["global"]
        table = _url_table(backend)
        url = _handler_of(type(backend), clean_url)
        if url is None:
            return original(stubber, request)
        normalized_request = json_protocol_request(request) or normalize_request(request)
        try:
            recorder._record_request(normalized_request)
            status, headers, body = table[url](
                normalized_request,
                normalized_request.raw_url,
                normalized_request.headers,
            )
        except HTTPException as e:
            status = e.code
            headers = e.get_headers()
            body = e.get_body()
        return status, headers, body

    return process_request


JSON_PROTOCOL_CONTENT_TYPE = "application/x-amz-json-"
_EXCLUDED_HEADERS = frozenset({"content-type", "content-length", "transfer-encoding"})


def json_protocol_request(request: Any) -> Any:
    """moto's `Request` of a JSON-protocol call (`POST /`, a body in memory), or None for any other.

    The environment is the one `moto.core.request.Request.from_primitives` builds through
    werkzeug's `EnvironBuilder` for such a request, key for key."""
    body = request.body
    if isinstance(body, str):
        body = body.encode()
    if request.method != "POST" or not isinstance(body, bytes) or not body:
        return None
    content_type = request.headers.get("Content-Type")
    if isinstance(content_type, bytes):
        content_type = content_type.decode("utf-8")
    if not isinstance(content_type, str) or not content_type.startswith(JSON_PROTOCOL_CONTENT_TYPE):
        return None
    url = urlsplit(request.url)
    if url.path != "/" or url.query or url.fragment or not url.netloc.isascii() or url.scheme not in ("http", "https"):
        return None
    host, separator, port = url.netloc.partition(":")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "REQUEST_URI": "/",
        "RAW_URI": "/",
        "SERVER_NAME": host,
        "SERVER_PORT": port if separator and port.isdigit() else ("443" if url.scheme == "https" else "80"),
        "HTTP_HOST": url.netloc,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": url.scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
    }
    moto_request = _moto_request_module()
    should_preserve_original_header_name = moto_request.should_preserve_original_header_name
    combined: dict[str, list[str]] = {}
    preserved: dict[str, str] = {}
    headers = request.headers
    # botocore's case-insensitive headers, read without a key object per lookup.
    pairs = ((str(k), v) for k, v in headers._dict.items()) if type(headers) is HeadersDict else headers.items()
    for name, value in pairs:
        if name.lower() in _EXCLUDED_HEADERS:
            continue
        text = value.decode("utf-8") if isinstance(value, bytes) else value
        combined.setdefault(f"HTTP_{name.upper().replace('-', '_')}", []).append(text)
        if should_preserve_original_header_name(name):
            preserved[moto_request.environ_key_for_header(name)] = name
    for key, values in combined.items():
        environ[key] = ", ".join(values)
    environ[moto_request.PRESERVED_HEADER_NAMES_ENVIRON_KEY] = preserved
    built = moto_request.Request(environ)
    # What werkzeug would read from the stream and work out from the environment, known already.
    built._cached_data = body
    # A JSON body is not form data: werkzeug's form parser would answer two empty multidicts.
    built.__dict__["form"] = built.parameter_storage_class()
    built.__dict__["files"] = built.parameter_storage_class()
    if not separator:
        built.__dict__["_known_raw_url"] = f"{url.scheme}://{url.netloc}/"
        built.__class__ = _request_class()
    return built


@functools.cache
def _moto_request_module() -> Any:
    """`moto.core.request`, looked up once (moto is imported when a local stack starts, not before)."""
    import moto.core.request

    return moto.core.request


@functools.cache
def _request_class() -> type:
    from moto.core.request import Request

    class JsonProtocolRequest(Request):
        """moto's request, with the URL it would rebuild from the environment given."""

        @property
        def raw_url(self) -> str:
            return str(self.__dict__["_known_raw_url"])

    return JsonProtocolRequest


_PICKED_KEYS: dict[tuple[Any, ...], tuple[Any, tuple[str, ...] | None]] = {}
"""(picker class, alias providers, member shape, its parent, member name) -> the keys moto tries, in order."""


def _keys_tried(serializer: Any, shape: Any, key: str) -> tuple[str, ...] | None:
    """The keys moto's attribute picker tries on a plain dict for this member (None: not a plain lookup)."""
    picker = serializer._value_picker
    parent = getattr(shape, "parent", None)
    cache_key = (type(picker), tuple(picker.alias_providers), id(shape), id(parent), key)
    found = _PICKED_KEYS.get(cache_key)
    if found is None:
        from moto.core.serialize import AttributePickerContext

        context = AttributePickerContext(obj={}, key=key, shape=shape)
        keys = tuple(picker.get_possible_keys(context))
        # The shape and its parent are kept with their entry, so their ids stay theirs.
        found = _PICKED_KEYS[cache_key] = ((shape, parent), None if any("." in k for k in keys) else keys)
    return found[1]


def picked_member(original: Any) -> Any:
    """moto's `ResponseSerializer.get_value`: on a plain dict, the first of the keys moto tries that is there."""
    from moto.core.serialize import AttributePicker, XFormedAttributePicker

    pickers = (AttributePicker, XFormedAttributePicker)

    def get_value(serializer: Any, value: Any, key: str, shape: Any) -> Any:
        picker = serializer._value_picker
        if type(value) is not dict or type(picker) not in pickers or picker.response_transformers:
            return original(serializer, value, key, shape)
        keys = _keys_tried(serializer, shape, key)
        if keys is None:
            return original(serializer, value, key, shape)
        for name in keys:
            if name in value:
                return value[name]
        return None

    return get_value


REQUEST_ID_CHARACTERS = string.ascii_letters + string.digits
"""moto's request ids: 52 characters of this set, drawn from moto's own random source."""


def request_id(headerdict: dict[str, Any] | None = None) -> str:
    """moto's `gen_amzn_requestid_long`, drawing the 52 characters in one call instead of 52."""
    from moto.moto_api._internal import mock_random

    req_id = "".join(mock_random.choices(REQUEST_ID_CHARACTERS, k=52))
    if headerdict is not None and isinstance(headerdict, dict):
        headerdict.update({"x-amzn-requestid": req_id})
    return req_id
