"""What the HTTP connector reads in a system's answer (its typed outcome), how sealed
invoicing contacts are opened just before the call, and its patience from settings."""

from __future__ import annotations

import json
from collections.abc import Mapping

from billbridge.adapters.connectors.http_connector import ConnectorSettings, HttpConnector, RetryPolicy

from tests.unit.security.test_http_connector_retries import (
    ScriptedTransport,
    Sleeps,
    answer,
    command,
    connector,
    ok,
)


class TokenVault:
    """Seals a value as `tok(<value>)`, bound to nothing: enough to see who opens what."""

    def seal(self, contract_id: str, version: int, contact: Mapping[str, str]) -> dict[str, str]:
        return {k: f"tok({v})" for k, v in contact.items()}

    def open(self, contract_id: str, version: int, contact: Mapping[str, str]) -> dict[str, str]:
        assert (contract_id, version) == ("SOW-1", 2)
        return {k: v.removeprefix("tok(").removesuffix(")") for k, v in contact.items()}


def test_an_answer_with_the_systems_id_is_an_acknowledgement() -> None:
    receipt = connector(ScriptedTransport([ok({"reference": "PRJ-9"})]), Sleeps()).send(command())
    assert (receipt.accepted, receipt.reference, receipt.awaiting_acknowledgement) == (True, "PRJ-9", False)


def test_an_accepted_answer_without_an_id_awaits_the_systems_acknowledgement() -> None:
    receipt = connector(ScriptedTransport([answer(202, body=b'{"status": "accepted"}')]), Sleeps()).send(command())
    assert (receipt.accepted, receipt.reference, receipt.awaiting_acknowledgement) == (True, None, True)


def test_a_202_that_names_the_id_is_acknowledged_at_once() -> None:
    transport = ScriptedTransport([answer(202, headers={"Location": "/projects/PRJ-3"})])
    receipt = connector(transport, Sleeps()).send(command())
    assert (receipt.reference, receipt.awaiting_acknowledgement) == ("/projects/PRJ-3", False)


def test_a_refusal_carries_the_systems_answer() -> None:
    body = json.dumps({"error": "rejected", "message": "customer CUST-1 unknown"}).encode()
    receipt = connector(ScriptedTransport([answer(422, body=body)]), Sleeps()).send(command())
    assert (receipt.accepted, receipt.detail) == (False, "HTTP 422 rejected: customer CUST-1 unknown")


def test_sealed_invoicing_contacts_are_opened_only_for_the_call() -> None:
    transport = ScriptedTransport([ok()])
    payload = {
        "contract_id": "SOW-1",
        "contract_version": 2,
        "invoicing_contacts": [{"role": "billing", "name": "tok(AP Team)", "email": "tok(ap@acme.example)"}],
    }
    sealed = command(payload=payload)
    connector(transport, Sleeps(), personal_data=TokenVault()).send(sealed)

    sent = json.loads(transport.calls[0].body)
    assert sent["invoicing_contacts"] == [{"role": "billing", "name": "AP Team", "email": "ap@acme.example"}]
    assert sealed.payload["invoicing_contacts"][0]["name"] == "tok(AP Team)", "the record keeps the tokens"


def test_the_connectors_patience_comes_from_its_settings() -> None:
    settings = ConnectorSettings.from_environment(
        {
            "CONNECTOR_TARGETS": "{}",
            "CONNECTOR_SECRETS_ARN": "arn",
            "CONNECTOR_RETRY_POLICY": json.dumps({"max_attempts": 2, "timeout": 0.5}),
        }
    )
    assert HttpConnector.from_settings(settings).retry == RetryPolicy(max_attempts=2, timeout=0.5)
