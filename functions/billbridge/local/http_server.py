"""A local HTTP front for the webhook routes: `POST /webhooks/{source}` (and `/{vendor}`) into the local stack,
and for the read API's `GET` routes (topology.READ_API_ROUTES).

Each request runs on its own thread. On receipt, before waiting for anything,
the signature and its timestamp are checked against the stack's webhook secrets
(a stale or forged delivery is answered 401 at once, as the handler would).
Then, in one unit of work of the stack (`LocalStack.unit_of_work`: one
transaction of the shared store, one request of this process at a time), the
request is handed to `LocalStack.invoke_webhook` and the queues are drained, so
a delivery has gone through bus -> rule -> queue -> consumer, and its effects
are committed, before the response is sent.

Every request is logged in one line on stderr once answered (`local serve`):
`{time} {method} {path} {status} {ms} ms delivery={ids}`, the delivery ids being
the events' ids the hub answered for (`-` when none, e.g. a 404). A server made
with `request_log=None` logs nothing (tests that count on a quiet stderr).

The read routes have no IAM here: each request must carry the server's read
token (`Authorization: Bearer <token>`, compared in constant time); without a
token, or with another one, it is answered 401 before the handler runs. The
server binds to loopback by default (docs/local-stack.md, decision 0011).
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO
from urllib.parse import parse_qs, unquote

from billbridge import topology
from billbridge.app.webhook_signature import DEFAULT_TOLERANCE_SECONDS, HEADER_TIMESTAMP
from billbridge.local.stack import LocalStack

LOGGER = logging.getLogger(__name__)
ROUTE = re.compile("^" + re.escape(topology.WEBHOOK_ROUTE).replace(re.escape("{source}"), "(?P<source>[^/?]+)") + "$")
VENDOR_ROUTE = re.compile(
    "^"
    + re.escape(topology.VENDOR_WEBHOOK_ROUTE)
    .replace(re.escape("{source}"), "(?P<source>[^/?]+)")
    .replace(re.escape("{vendor}"), "(?P<vendor>[^/?]+)")
    + "$"
)
READ_ROUTES = tuple(
    re.compile("^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(route)) + "$") for route in topology.READ_API_ROUTES
)
LOCAL_READ_CALLER = "arn:aws:iam::000000000000:user/local-read-token"
"""Who the read API sees as the caller of a request that carried the local read token."""
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"}

AfterRequest = Callable[[LocalStack, int], None]


class LocalWebhookServer(ThreadingHTTPServer):
    """Binds only to `host`; port 0 picks a free port (read it from `server_port`)."""

    daemon_threads = True
    request_queue_size = 256
    """The listen backlog: parallel connects queue here instead of being reset."""

    def __init__(
        self,
        stack: LocalStack,
        host: str = "127.0.0.1",
        port: int = 8787,
        *,
        after_request: AfterRequest | None = None,
        request_log: TextIO | None = None,
        read_token: str | None = None,
    ) -> None:
        self.stack = stack
        self.read_token = read_token
        """The bearer token the read routes require; None: every read request is refused."""
        self.after_request = after_request
        self.request_log = request_log
        """Where each request's log line goes (`local serve`: stderr); None: nowhere."""
        self.requests_handled = 0
        self.server_errors: list[str] = []
        """One line per request answered 5xx (the handler or the consumers crashed)."""
        self.consumer_errors: list[str] = []
        """One line per consumer batch that raised while draining after a request."""
        self._count_lock = threading.Lock()
        super().__init__((host, port), WebhookRequestHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def refuse_on_receipt(self, headers: dict[str, str], *, now: float | None = None) -> bytes | None:
        """The 401 body when the delivery's signature timestamp is outside the tolerance now, else None.

        Checked on receipt, before the request waits for its unit of work, so a correctly
        signed delivery is judged by when it arrived, not by how long it queued. Everything
        else about the signature (and a missing or malformed timestamp) is the handler's to judge."""
        lowered = {name.lower(): value for name, value in headers.items()}
        text = lowered.get(HEADER_TIMESTAMP, "").strip()
        if not text.isdigit() or len(text) > 12:
            return None
        current = int(time.time() if now is None else now)
        age = current - int(text)
        if age > DEFAULT_TOLERANCE_SECONDS:
            reason = f"{HEADER_TIMESTAMP} is {age} s old; at most {DEFAULT_TOLERANCE_SECONDS} s is accepted"
        elif -age > DEFAULT_TOLERANCE_SECONDS:
            reason = f"{HEADER_TIMESTAMP} is {-age} s in the future; at most {DEFAULT_TOLERANCE_SECONDS} s is accepted"
        else:
            return None
        return json.dumps({"error": f"signature rejected: {reason}"}).encode()

    def log_request_line(self, method: str, path: str, status: int, elapsed_ms: float, body: bytes) -> None:
        if self.request_log is None:
            return
        line = (
            f"{datetime.now(UTC).isoformat(timespec='seconds')} {method} {path} {status} "
            f"{elapsed_ms:.0f} ms delivery={delivery_ids(body)}"
        )
        with self._count_lock:
            print(line, file=self.request_log, flush=True)

    def refuse_read(self, authorization: str | None) -> bytes | None:
        """The 401 body when a read request does not carry the server's read token, else None."""
        scheme, _, presented = (authorization or "").partition(" ")
        if self.read_token and scheme.lower() == "bearer" and hmac.compare_digest(presented.strip(), self.read_token):
            return None
        reason = (
            "this server has no read token (billbridge local serve --read-token)"
            if not self.read_token
            else "the read API needs Authorization: Bearer <the read token billbridge local serve printed>"
        )
        return json.dumps({"message": reason, "field": "Authorization"}).encode()

    def start_in_background(self) -> threading.Thread:
        thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="billbridge-local-http",
            daemon=True,
        )
        thread.start()
        return thread


def delivery_ids(body: bytes) -> str:
    """The event ids a webhook answer names (`outcomes[].id`), comma-separated; `-` when none."""
    try:
        document = json.loads(body) if body else {}
    except ValueError:
        return "-"
    outcomes = document.get("outcomes") if isinstance(document, dict) else None
    ids = [str(o["id"]) for o in outcomes or () if isinstance(o, dict) and o.get("id")]
    if len(ids) > 3:
        return ",".join(ids[:3]) + f",+{len(ids) - 3}"
    return ",".join(ids) or "-"


class WebhookRequestHandler(BaseHTTPRequestHandler):
    server: LocalWebhookServer
    protocol_version = "HTTP/1.1"

    def parse_request(self) -> bool:
        self.received_at = time.perf_counter()
        return super().parse_request()

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        match = ROUTE.match(path) or VENDOR_ROUTE.match(path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if match is None:
            self._reply(404, {"Content-Type": "application/json"}, b'{"message": "Not Found"}')
            return
        headers = {name: value for name, value in self.headers.items()}
        server = self.server
        source = match["source"]
        refused = server.refuse_on_receipt(headers)
        if refused is not None:
            self._reply(401, {"Content-Type": "application/json"}, refused)
            return
        try:
            with server.stack.unit_of_work():
                status, response_headers, payload = server.stack.invoke_webhook(
                    source, headers, body, vendor=match.groupdict().get("vendor")
                )
                summary = server.stack.drain()
            LOGGER.info("POST %s -> %s; drained %s", path, status, summary.as_dict()["queues"])
            errors = summary.errors
        except Exception as error:
            LOGGER.exception("the webhook handler failed")
            status, response_headers, payload = (
                502,
                {"Content-Type": "application/json"},
                b'{"message": "Internal server error"}',
            )
            errors = [f"{type(error).__name__}: {error}"]
        with server._count_lock:
            server.requests_handled += 1
            server.consumer_errors.extend(errors)
            if status >= 500:
                server.server_errors.append(f"POST {path}: HTTP {status} {payload[:200].decode(errors='replace')}")
        if server.after_request is not None:
            server.after_request(server.stack, status)
        self._reply(status, response_headers, payload)

    def do_GET(self) -> None:
        self.received_at = time.perf_counter()
        path, _, query = self.path.partition("?")
        path = unquote(path)
        if not any(route.match(path) for route in READ_ROUTES):
            self._not_found()
            return
        server = self.server
        refused = server.refuse_read(self.headers.get("Authorization"))
        if refused is not None:
            self._reply(401, {"Content-Type": "application/json", "WWW-Authenticate": "Bearer"}, refused)
            return
        try:
            with server.stack.unit_of_work():
                status, response_headers, payload = server.stack.invoke_read_api(
                    path, parse_qs(query, keep_blank_values=True), caller=LOCAL_READ_CALLER
                )
        except Exception as error:
            LOGGER.exception("the read API handler failed")
            status, response_headers, payload = (
                502,
                {"Content-Type": "application/json"},
                b'{"message": "Internal server error"}',
            )
            with server._count_lock:
                server.server_errors.append(f"GET {path}: {type(error).__name__}: {error}")
        LOGGER.info("GET %s -> %s", path, status)
        self._reply(status, response_headers, payload)

    def do_PUT(self) -> None:
        self._not_found()

    def do_DELETE(self) -> None:
        self._not_found()

    def _not_found(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self._reply(404, {"Content-Type": "application/json"}, b'{"message": "Not Found"}')

    def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        elapsed_ms = (time.perf_counter() - getattr(self, "received_at", time.perf_counter())) * 1000
        self.server.log_request_line(self.command, self.path.split("?", 1)[0], status, elapsed_ms, body)

    def log_message(self, format: str, *args: Any) -> None:
        LOGGER.debug("%s - " + format, self.address_string(), *args)
