"""A local HTTP front for the webhook route: `POST /webhooks/{source}` into the local stack.

Each request is handed to `LocalStack.invoke_webhook` and then the queues are
drained, so a delivery has gone through bus -> rule -> queue -> consumer before
the response is sent and before the next request is handled. Requests are
serialized by a lock: moto in-process is not thread-safe.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from billbridge import topology
from billbridge.localstack.stack import LocalStack

LOGGER = logging.getLogger(__name__)
ROUTE = re.compile("^" + re.escape(topology.WEBHOOK_ROUTE).replace(re.escape("{source}"), "(?P<source>[^/?]+)") + "$")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"}

AfterRequest = Callable[[LocalStack, int], None]


class LocalWebhookServer(ThreadingHTTPServer):
    """Binds only to `host`; port 0 picks a free port (read it from `server_port`)."""

    daemon_threads = True

    def __init__(
        self,
        stack: LocalStack,
        host: str = "127.0.0.1",
        port: int = 8787,
        *,
        after_request: AfterRequest | None = None,
    ) -> None:
        self.stack = stack
        self.lock = threading.Lock()
        self.after_request = after_request
        self.requests_handled = 0
        super().__init__((host, port), WebhookRequestHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start_in_background(self) -> threading.Thread:
        thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="billbridge-local-http",
            daemon=True,
        )
        thread.start()
        return thread


class WebhookRequestHandler(BaseHTTPRequestHandler):
    server: LocalWebhookServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        match = ROUTE.match(path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if match is None:
            self._reply(404, {"Content-Type": "application/json"}, b'{"message": "Not Found"}')
            return
        headers = {name: value for name, value in self.headers.items()}
        server = self.server
        with server.lock:
            try:
                status, response_headers, payload = server.stack.invoke_webhook(match["source"], headers, body)
                summary = server.stack.drain()
                LOGGER.info("POST %s -> %s; drained %s", path, status, summary.as_dict()["queues"])
            except Exception:
                LOGGER.exception("the webhook handler failed")
                status, response_headers, payload = (
                    502,
                    {"Content-Type": "application/json"},
                    b'{"message": "Internal server error"}',
                )
            server.requests_handled += 1
            if server.after_request is not None:
                server.after_request(server.stack, status)
        self._reply(status, response_headers, payload)

    def do_GET(self) -> None:
        self._not_found()

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

    def log_message(self, format: str, *args: Any) -> None:
        LOGGER.debug("%s - " + format, self.address_string(), *args)
