"""The event pipeline through the local stack with the real handlers: the
walking skeleton over HTTP, every webhook answer the contract promises, the
DLQ path with the error attached, partial batches, and the audit trail."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from billbridge import topology
from billbridge.adapters.dynamo_ledger import DynamoLedger
from billbridge.app.webhook_signature import sign
from billbridge.cli.main import main as billbridge
from billbridge.entrypoints.queues.sqs_consumer import consume_batch
from billbridge.local.http_server import LocalWebhookServer
from billbridge.local.scenario_replay import generate_webhook_secrets
from billbridge.local.stack import LocalStack

CONTRACT = {
    "specversion": "1.0",
    "id": "clm-1001-v1",
    "source": "clm",
    "type": "contract.approved",
    "time": "2026-01-01T09:00:00Z",
    "subject": "SOW-1001",
    "data": {
        "contract_id": "SOW-1001",
        "version": 1,
        "effective_date": "2026-01-01",
        "customer_id": "CUST-ACME",
        "legal_entity": "US01",
        "currency": "USD",
        "tax_jurisdiction": "US-NY",
        "start_date": "2026-01-01",
        "end_date": "2026-12-31",
        "rate_card": [{"role": "consultant", "rate": "150.00"}],
        "billing_contact": {"name": "AP Team", "email": "ap@acme.example"},
    },
}


def time_entry(entry_id: str, *, event_id: str, hours: str = "8") -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "psa",
        "type": "time_entry.approved",
        "time": "2026-03-31T18:00:00Z",
        "data": {
            "entry_id": entry_id,
            "revision": 1,
            "contract_id": "SOW-1001",
            "resource_id": "EMP-1",
            "role": "consultant",
            "billable": True,
            "work_date": "2026-03-02",
            "hours": hours,
        },
    }


class Endpoint:
    def __init__(self, url: str, secrets: dict[str, list[str]]) -> None:
        self.url = url
        self.secrets = secrets
        self.sent = 0

    def post(
        self,
        source: str,
        payload: Any,
        *,
        secret: str | None = None,
        timestamp: float | None = None,
        signed: bool = True,
        content_type: str = "application/cloudevents+json",
        raw: bytes | None = None,
    ) -> tuple[int, dict[str, Any]]:
        body = raw if raw is not None else json.dumps(payload).encode()
        self.sent += 1
        headers = {"Content-Type": content_type}
        if signed:
            headers.update(
                sign(secret or self.secrets[source][0], f"msg_{self.sent}", int(timestamp or time.time()), body)
            )
        request = urllib.request.Request(f"{self.url}/webhooks/{source}", data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[tuple[LocalStack, Endpoint, Path]]:
    secrets = generate_webhook_secrets()
    state = tmp_path / "local-state.json"
    with LocalStack(secrets=secrets, state_file=state) as stack:
        server = LocalWebhookServer(stack, "127.0.0.1", 0)
        server.start_in_background()
        try:
            yield stack, Endpoint(server.url, secrets), state
        finally:
            server.shutdown()
            server.server_close()


def ledger_of(stack: LocalStack) -> DynamoLedger:
    return DynamoLedger(stack.names.ledger_table, client=stack.client("dynamodb"))


def test_walking_skeleton_signed_contract_is_stored_and_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secrets = generate_webhook_secrets()
    state = tmp_path / "local-state.json"
    with LocalStack(secrets=secrets, state_file=state) as stack:
        server = LocalWebhookServer(stack, "127.0.0.1", 0)
        server.start_in_background()
        try:
            status, body = Endpoint(server.url, secrets).post("clm", CONTRACT)
        finally:
            server.shutdown()
            server.server_close()
        assert status == 202, body
        assert body["outcomes"][0]["outcome"] == "accepted"
        assert sorted(ledger_of(stack).load("SOW-1001").book.versions) == [1]
        stack.save(state)

    capsys.readouterr()  # the functions' own log lines
    assert billbridge(["contracts", "show", "SOW-1001", "--state-file", str(state), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["versions"][0]["version"] == 1
    assert shown["ids"]["erp_customer_id"] == "CUST-ACME"


def test_webhook_answers_every_case_the_contract_promises(hub: tuple[LocalStack, Endpoint, Path]) -> None:
    stack, endpoint, _ = hub
    wrong_secret = generate_webhook_secrets()["clm"][0]
    assert endpoint.post("clm", CONTRACT, signed=False)[0] == 401
    assert endpoint.post("clm", CONTRACT, secret=wrong_secret)[0] == 401
    assert endpoint.post("clm", CONTRACT, timestamp=time.time() - 3600)[0] == 401
    status, body = endpoint.post("clm", None, raw=b'{"specversion": "1.0", "id": ')
    assert status == 400 and "JSON" in json.dumps(body)
    status, body = endpoint.post("clm", {**CONTRACT, "id": "clm-x", "type": "contract.exploded"})
    assert status == 400 and "type" in json.dumps(body)
    missing = json.loads(json.dumps(CONTRACT))
    del missing["data"]["currency"]
    status, body = endpoint.post("clm", {**missing, "id": "clm-missing"})
    assert status == 400 and "data.currency" in json.dumps(body)
    assert ledger_of(stack).load("SOW-1001").revision == 0, "nothing refused may have an effect"

    assert endpoint.post("clm", CONTRACT)[0] == 202
    status, body = endpoint.post("clm", CONTRACT)
    assert status == 200, body
    changed = json.loads(json.dumps(CONTRACT))
    changed["data"]["rate_card"][0]["rate"] = "999.00"
    assert endpoint.post("clm", changed)[0] == 409
    book = ledger_of(stack).load("SOW-1001").book
    assert book.versions[1].rate_card[0].rate == 150, "the duplicate and the conflict changed nothing"


def test_poison_message_ends_in_its_dlq_with_error_and_correlation_id(
    hub: tuple[LocalStack, Endpoint, Path],
) -> None:
    stack, endpoint, _ = hub
    posted_for_unknown_invoice = {
        "specversion": "1.0",
        "id": "erp-unknown-1",
        "source": "erp",
        "type": "invoice.posted",
        "time": "2026-04-01T09:00:00Z",
        "correlationid": "corr-poison-1",
        "data": {
            "proposal_id": "SOW-404-2026-03-1",
            "invoice_number": "INV-404",
            "posting_date": "2026-04-02",
            "subtotal": "10.00",
            "tax": "0.00",
            "total": "10.00",
            "currency": "USD",
        },
    }
    status, _ = endpoint.post("erp", posted_for_unknown_invoice)
    assert status == 202, "accepted: the webhook cannot know the proposal is unknown"
    dead = stack.dead_letters("feedback")
    assert len(dead) == 1
    attributes = dead[0]["messageAttributes"]
    assert attributes["correlation_id"]["StringValue"] == "corr-poison-1"
    assert "SOW-404-2026-03-1" in attributes["error"]["StringValue"]


def _flaky_actuals(stack: LocalStack, real_use_case_calls: list[str]) -> None:
    """The actuals consumer with a use case that cannot reach the ledger for TE-BAD."""

    def flaky_actuals(event: dict[str, Any], context: Any) -> dict[str, Any]:
        from billbridge import bootstrap

        def use_case() -> Any:
            record = bootstrap.record_actuals().handle

            def handle(ingested: Any) -> Any:
                if ingested.data.entry_id == "TE-BAD":
                    raise ConnectionError("ledger unreachable for this record")
                real_use_case_calls.append(str(ingested.data.entry_id))
                return record(ingested)

            return handle

        return consume_batch(event, context, workflow="actuals", use_case=use_case)

    actuals = next(w for w in topology.WORKFLOWS if w.name == "actuals")
    stack.resolver.override(actuals.handler, flaky_actuals)


def test_partial_batch_retries_only_the_failing_record_then_dead_letters_it(
    hub: tuple[LocalStack, Endpoint, Path],
) -> None:
    """Three deliveries of one event each: three records; only the failing one is retried."""
    stack, endpoint, _ = hub
    real_use_case_calls: list[str] = []
    _flaky_actuals(stack, real_use_case_calls)
    assert endpoint.post("clm", CONTRACT)[0] == 202
    for entry_id, event_id in (("TE-GOOD-1", "psa-1"), ("TE-BAD", "psa-2"), ("TE-GOOD-2", "psa-3")):
        assert endpoint.post("psa", time_entry(entry_id, event_id=event_id))[0] == 202
    stack.drain()

    book = ledger_of(stack).load("SOW-1001").book
    assert sorted(book.entries) == ["TE-GOOD-1", "TE-GOOD-2"]
    assert sorted(real_use_case_calls) == ["TE-GOOD-1", "TE-GOOD-2"], "the good records were processed once"
    dead = stack.dead_letters("actuals")
    assert len(dead) == 1
    assert json.loads(dead[0]["body"])["detail"]["event"]["data"]["entry_id"] == "TE-BAD"
    assert dead[0]["messageAttributes"]["error_type"]["StringValue"] == "ConnectionError"


def test_a_packed_record_with_a_transient_fault_is_retried_whole_and_dead_letters_only_that_event(
    hub: tuple[LocalStack, Endpoint, Path],
) -> None:
    """One batch delivery travels as one packed record: a transient fault on one of its events
    retries the record whole (the good events are applied again and change nothing), and at the
    receive limit only the failing event is dead-lettered, as an ordinary one-event message."""
    stack, endpoint, _ = hub
    real_use_case_calls: list[str] = []
    _flaky_actuals(stack, real_use_case_calls)
    assert endpoint.post("clm", CONTRACT)[0] == 202
    batch = [
        time_entry("TE-GOOD-1", event_id="psa-1"),
        time_entry("TE-BAD", event_id="psa-2"),
        time_entry("TE-GOOD-2", event_id="psa-3"),
    ]
    status, body = endpoint.post("psa", batch, content_type="application/cloudevents-batch+json")
    assert status == 202, body
    stack.drain()

    book = ledger_of(stack).load("SOW-1001").book
    assert sorted(book.entries) == ["TE-GOOD-1", "TE-GOOD-2"], "each good entry is in the ledger once"
    assert {e: book.entries[e].revision for e in book.entries} == {"TE-GOOD-1": 1, "TE-GOOD-2": 1}
    receives = real_use_case_calls.count("TE-GOOD-1")
    assert receives > 1 and real_use_case_calls.count("TE-GOOD-2") == receives, "retried whole"
    dead = stack.dead_letters("actuals")
    assert len(dead) == 1
    assert json.loads(dead[0]["body"])["detail"]["event"]["data"]["entry_id"] == "TE-BAD"
    assert dead[0]["messageAttributes"]["error_type"]["StringValue"] == "ConnectionError"


def test_audit_trail_answers_what_a_correlation_id_caused(hub: tuple[LocalStack, Endpoint, Path]) -> None:
    stack, endpoint, _ = hub
    assert endpoint.post("clm", CONTRACT)[0] == 202
    status, body = endpoint.post("psa", {**time_entry("TE-1", event_id="psa-1"), "correlationid": "corr-te-1"})
    assert status == 202 and body["outcomes"][0]["correlationid"] == "corr-te-1"
    trail = ledger_of(stack).audit_by_correlation("corr-te-1")
    actions = [record["action"] for record in trail]
    assert "entry_recorded" in actions and "line_rated" in actions
    rated = next(record for record in trail if record["action"] == "line_rated")
    assert rated["contract_version"] == 1 and rated["rule"] == "rate_card[role=consultant]"
    assert rated["source_ref"] == "psa:psa-1"
