"""Local stand-ins for the downstream systems (a PSA and an ERP) that answer the
hub's `http` connector, for the tests and the demo.

They speak the hub's own generic command API, not any vendor's:

    POST {base}/commands/{command name}
    Idempotency-Key, X-Command-Id, X-Correlation-Id, X-Api-Key,
    webhook-id / webhook-timestamp / webhook-signature (Standard Webhooks)

(billbridge.adapters.connectors.http_connector). A vendor adapter (a PSA's or
an ERP's own API) plugs in behind the same `Connector` port instead.

Each server checks the API key and the signature, keeps one id per
idempotency key (a repeat gets the same answer), and behaves as scripted per
command name, one behaviour per call, then `accept`:

- `accept`: 201 `{"reference": "PRJ-1001"}`: the system's own id, one per project or
  schedule (every version of a contract updates the same one) or invoice;
- `accept_later`: 202 with no id; the acknowledgement is kept for
  `take_answers()`, to be posted as a signed `sync.acknowledged` webhook;
- `refuse`: 422 `{"error": "rejected", "message": ...}`;
- `time_out`: answers (504, nothing carried out) only after the connector gave up waiting;
- `slow`: answers within the connector's patience, but late;
- `rate_limit`: 429 with `Retry-After`.

Customers unknown to the system are refused (`refuse_customer`) until they are
registered (`register_customer`): the demo's "fix in the PSA, then retry".
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from billbridge import topology
from billbridge.app.webhook_signature import SignatureError, verify_signature

Behaviour = Literal["accept", "accept_later", "refuse", "time_out", "slow", "rate_limit"]
CONNECTOR_SECRET_NAME = "billbridge-local-connectors"
LOCAL_RETRY_POLICY = {"max_attempts": 3, "base_delay": 0.05, "max_delay": 0.2, "max_total_delay": 2.5, "timeout": 0.5}
"""The connector's patience on the local stack: short, so a time-out costs a second, not a minute."""
SLOW_SECONDS = 0.2
TIME_OUT_SECONDS = 0.8
RETRY_AFTER_SECONDS = 1


@dataclass
class ReceivedCommand:
    target: str
    name: str
    idempotency_key: str
    command_id: str
    payload: dict[str, Any]
    status: int


@dataclass
class LocalDownstreamSystem:
    """One system (`psa` or `erp`), serving one or more targets (`psa`; `erp-us`, `erp-eu`)."""

    kind: str
    targets: tuple[str, ...]
    reference_prefix: str
    api_key: str
    signing_secret: str
    scripts: dict[str, list[Behaviour]] = field(default_factory=dict)
    unknown_customers: dict[str, str] = field(default_factory=dict)
    received: list[ReceivedCommand] = field(default_factory=list)
    base_url: str = ""
    _answers: dict[tuple[str, str, str], tuple[int, dict[str, Any]]] = field(default_factory=dict)
    _entities: dict[tuple[str, str, str], str] = field(default_factory=dict)
    _pending: list[dict[str, Any]] = field(default_factory=list)
    _issued: int = 0
    _acknowledgements: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    # -- behaviour ---------------------------------------------------------------------------------

    def script(self, command_name: str, *behaviours: Behaviour) -> None:
        """The next calls of `command_name` behave so, in order; then `accept`."""
        with self._lock:
            self.scripts.setdefault(command_name, []).extend(behaviours)

    def refuse_customer(self, customer_id: str, message: str) -> None:
        with self._lock:
            self.unknown_customers[customer_id] = message

    def register_customer(self, customer_id: str) -> None:
        with self._lock:
            self.unknown_customers.pop(customer_id, None)

    def take_answers(self) -> list[dict[str, Any]]:
        """The acknowledgements owed for `accept_later` calls, as CloudEvents from this system."""
        with self._lock:
            answers, self._pending = self._pending, []
        return answers

    def url_for(self, target: str) -> str:
        return f"{self.base_url}/{target}"

    # -- serving -----------------------------------------------------------------------------------

    def answer(self, path: str, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, Any], dict[str, str]]:
        parts = path.strip("/").split("/")
        if len(parts) != 3 or parts[1] != "commands" or parts[0] not in self.targets:
            return 404, {"error": "not_found", "message": f"no such resource {path}"}, {}
        target, name = parts[0], parts[2]
        if headers.get("X-Api-Key") != self.api_key:
            return 401, {"error": "unauthorized"}, {}
        try:
            verify_signature(body=body, headers=dict(headers), secrets=[self.signing_secret], now=datetime.now(UTC))
        except SignatureError:
            return 401, {"error": "bad_signature"}, {}
        key = headers.get("Idempotency-Key", "")
        payload = json.loads(body or b"{}")
        with self._lock:
            remembered = self._answers.get((target, name, key))
            script = self.scripts.get(name) or []
            behaviour: Behaviour = script.pop(0) if script and remembered is None else "accept"
        if remembered is not None:
            return remembered[0], remembered[1], {}
        if behaviour == "time_out":
            time.sleep(TIME_OUT_SECONDS)  # the connector has stopped waiting: nothing is carried out
            return 504, {"error": "timeout"}, {}
        if behaviour == "slow":
            time.sleep(SLOW_SECONDS)
        if behaviour == "rate_limit":
            return 429, {"error": "rate_limited"}, {"Retry-After": str(RETRY_AFTER_SECONDS)}
        command_id = headers.get("X-Command-Id", "")
        customer = str(payload.get("customer_id") or "")
        with self._lock:
            if behaviour == "refuse" or customer in self.unknown_customers:
                message = self.unknown_customers.get(customer) or f"{name} refused"
                status, document = 422, {"error": "rejected", "message": message}
            else:
                reference = self._reference_for(target, name, payload, key)
                if behaviour == "accept_later":
                    status, document = 202, {"status": "accepted"}
                    self._pending.append(self._acknowledgement(command_id, key, name, reference))
                else:
                    status, document = 201, {"reference": reference}
                self._answers[(target, name, key)] = (status, document)
            self.received.append(ReceivedCommand(target, name, key, command_id, payload, status))
        return status, document, {}

    def _reference_for(self, target: str, name: str, payload: dict[str, Any], key: str) -> str:
        """The system's id of what the command is about: one project (or schedule) per
        contract whatever its version, one record per invoice."""
        family = "project" if "Project" in name else "schedule" if "BillingSchedule" in name else name
        entity = str(payload.get("proposal_id") or payload.get("contract_id") or key)
        known = self._entities.get((target, family, entity))
        if known is not None:
            return known
        self._issued += 1
        prefix = {"project": "PRJ", "schedule": "SCH"}.get(family, self.reference_prefix)
        reference = f"{prefix}-{1000 + self._issued}"
        self._entities[(target, family, entity)] = reference
        return reference

    def _acknowledgement(self, command_id: str, key: str, name: str, reference: str) -> dict[str, Any]:
        self._acknowledgements += 1
        return {
            "specversion": "1.0",
            "id": f"{self.kind}-ack-{self._acknowledgements}",
            "source": self.kind,
            "type": "sync.acknowledged",
            "time": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "datacontenttype": "application/json",
            "data": {"command_id": command_id, "reference": reference, "idempotency_key": key, "command": name},
        }

    def start(self) -> None:
        system = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, document, extra = system.answer(self.path, dict(self.headers.items()), body)
                encoded = json.dumps(document).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(encoded)))
                    for name, value in extra.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(encoded)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the connector stopped waiting (a time-out)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, name=f"local-{self.kind}", daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@dataclass
class LocalDownstream:
    """The local PSA and ERP, and the hub's connector settings that reach them."""

    psa: LocalDownstreamSystem
    erp: LocalDownstreamSystem

    @property
    def systems(self) -> tuple[LocalDownstreamSystem, ...]:
        return (self.psa, self.erp)

    def connector_environment(self) -> dict[str, str]:
        """What the hub's functions read (`CONNECTOR_*`): every target over `http`."""
        targets = {
            target: {"base_url": system.url_for(target), "auth": "api_key", "api_key_header": "X-Api-Key"}
            for system in self.systems
            for target in system.targets
        }
        return {
            topology.ENV_CONNECTOR_MODE: "http",
            "CONNECTOR_TARGETS": json.dumps(targets, sort_keys=True),
            "CONNECTOR_SECRETS_ARN": CONNECTOR_SECRET_NAME,
            topology.ENV_CONNECTOR_RETRY_POLICY: json.dumps(LOCAL_RETRY_POLICY, sort_keys=True),
        }

    def secret_document(self) -> dict[str, dict[str, str]]:
        return {
            target: {"api_key": system.api_key, "signing_secret": system.signing_secret}
            for system in self.systems
            for target in system.targets
        }

    def install_secret(self, secretsmanager: Any) -> None:
        """The connector secret in the local stack's Secrets Manager."""
        value = json.dumps(self.secret_document(), sort_keys=True)
        try:
            secretsmanager.create_secret(Name=CONNECTOR_SECRET_NAME, SecretString=value)
        except secretsmanager.exceptions.ResourceExistsException:
            secretsmanager.put_secret_value(SecretId=CONNECTOR_SECRET_NAME, SecretString=value)


@contextmanager
def local_downstream(erp_targets: tuple[str, ...] = ("erp-us", "erp-eu")) -> Iterator[LocalDownstream]:
    """Start the local PSA and ERP on free loopback ports; stop them at exit."""
    downstream = LocalDownstream(
        psa=LocalDownstreamSystem(
            kind="psa",
            targets=("psa",),
            reference_prefix="PSA-INV",
            api_key="local-psa-key",
            signing_secret="whsec_bG9jYWwtcHNhLWNvbW1hbmQtc2lnbmluZy1rZXk=",
        ),
        erp=LocalDownstreamSystem(
            kind="erp",
            targets=erp_targets,
            reference_prefix="ERP-DOC",
            api_key="local-erp-key",
            signing_secret="whsec_bG9jYWwtZXJwLWNvbW1hbmQtc2lnbmluZy1rZXk=",
        ),
    )
    for system in downstream.systems:
        system.start()
    try:
        yield downstream
    finally:
        for system in downstream.systems:
            system.stop()
