"""The loop closed through the whole local stack: the hub's commands reach local
PSA and ERP servers over the `http` connector (accepted, refused, timed out,
answered late, rate-limited), or go on the bus (`event` connector) and are
answered by the systems' `sync.*` webhooks; refusals are held, fixed and retried."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from billbridge.adapters.dynamo_ledger import DynamoLedger
from billbridge.app.webhook_signature import sign
from billbridge.cli.main import main as billbridge
from billbridge.local.downstream_systems import LocalDownstream, local_downstream
from billbridge.local.scenario_replay import generate_webhook_secrets
from billbridge.local.stack import LocalStack

CONTRACT: dict[str, Any] = {
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
    "retainer_amount": "2500.00",
    "recurring_fees": [
        {
            "fee_id": "F1",
            "description": "Managed service",
            "amount": "5000.00",
            "frequency": "monthly",
            "start_date": "2026-01-01",
            "end_date": None,
        }
    ],
    "billing_contact": {"name": "AP Team", "email": "ap@acme.example"},
}
CONFIG_EVENT_FREE = {
    "tax_rates": [{"jurisdiction": "US-NY", "rate": "0.08875", "effective_from": "2020-01-01"}],
    "legal_entities": [{"legal_entity": "US01", "erp_instance": "erp-us"}],
}
PROJECT = "psa/UpsertProject/SOW-1001-v1"
SCHEDULE = "erp-us/UpsertBillingSchedule/SOW-1001-v1"


class Webhooks:
    def __init__(self, stack: LocalStack, secrets: dict[str, list[str]]) -> None:
        self.stack = stack
        self.secrets = secrets
        self.sent = 0

    def post(self, event: dict[str, Any]) -> int:
        self.sent += 1
        body = json.dumps(event).encode()
        headers = {"Content-Type": "application/cloudevents+json"}
        headers.update(sign(self.secrets[event["source"]][0], f"msg_{self.sent}", int(time.time()), body))
        status, _, answer = self.stack.invoke_webhook(event["source"], headers, body)
        assert status in (200, 202), answer
        self.stack.drain()
        return status

    def event(self, source: str, event_type: str, data: dict[str, Any]) -> int:
        return self.post(
            {
                "specversion": "1.0",
                "id": f"{source}-{self.sent + 1}",
                "source": source,
                "type": event_type,
                "time": "2026-01-01T09:00:00Z",
                "data": data,
            }
        )


def ledger_of(stack: LocalStack) -> DynamoLedger:
    return DynamoLedger(stack.names.ledger_table, client=stack.client("dynamodb"))


def open_exception_ids(stack: LocalStack) -> set[str]:
    return {e.exception_id for e in ledger_of(stack).exceptions() if e.state.value == "open"}


@pytest.fixture
def over_http(tmp_path: Path) -> Iterator[tuple[LocalStack, Webhooks, LocalDownstream]]:
    secrets = generate_webhook_secrets()
    with (
        local_downstream() as downstream,
        LocalStack(
            secrets=secrets, state_file=tmp_path / "state.sqlite", extra_env=downstream.connector_environment()
        ) as stack,
    ):
        downstream.install_secret(stack.client("secretsmanager"))
        ledger_of(stack).save_config(_config())
        yield stack, Webhooks(stack, secrets), downstream


def _config() -> Any:
    from billbridge.app.billing_config_document import billing_config_from

    return billing_config_from(CONFIG_EVENT_FREE)


def test_http_acknowledgements_put_the_systems_own_ids_in_the_id_map(
    over_http: tuple[LocalStack, Webhooks, LocalDownstream],
) -> None:
    stack, webhooks, downstream = over_http
    downstream.psa.script("UpsertProject", "rate_limit", "slow")
    webhooks.event("clm", "contract.approved", CONTRACT)

    ledger = ledger_of(stack)
    project, schedule = ledger.commands.get(PROJECT), ledger.commands.get(SCHEDULE)
    assert project is not None and schedule is not None
    assert (project.state.value, project.reference) == ("acknowledged", "PRJ-1001")
    assert (schedule.state.value, schedule.reference) == ("acknowledged", "SCH-1001")
    ids = ledger.mapping("SOW-1001")
    assert (ids["psa_project_ref"], ids["erp_billing_schedule_ref"]) == ("PRJ-1001", "SCH-1001")
    received = {(r.name, r.status) for r in downstream.psa.received}
    assert received == {("UpsertProject", 201)}, "the rate limit was honoured, then the call accepted"
    sent = downstream.psa.received[0]
    assert sent.command_id == PROJECT and sent.idempotency_key == "SOW-1001-v1"
    assert sent.payload["retainer_amount"] == "2500.00"
    assert sent.payload["invoicing_contacts"] == [{"role": "billing", "name": "AP Team", "email": "ap@acme.example"}]


def test_a_refusal_is_held_then_fixed_in_the_psa_and_retried(
    over_http: tuple[LocalStack, Webhooks, LocalDownstream],
) -> None:
    stack, webhooks, downstream = over_http
    downstream.psa.refuse_customer("CUST-ACME", "customer CUST-ACME is not set up in the PSA")
    webhooks.event("clm", "contract.approved", CONTRACT)

    ledger = ledger_of(stack)
    refused = ledger.commands.get(PROJECT)
    assert refused is not None and refused.state.value == "refused"
    assert "CUST-ACME is not set up" in refused.answer
    held = f"sync_refused:SOW-1001:{PROJECT}"
    assert held in open_exception_ids(stack)
    assert "psa_project_ref" not in ledger.mapping("SOW-1001")

    downstream.psa.register_customer("CUST-ACME")
    from billbridge.cli.commands.sync import request_retry

    request_retry(stack, PROJECT, actor="ops@example.com")
    stack.drain()

    retried = ledger.commands.get(PROJECT)
    assert retried is not None and (retried.state.value, retried.attempts) == ("acknowledged", 2)
    assert ledger.mapping("SOW-1001")["psa_project_ref"] == retried.reference
    assert held not in open_exception_ids(stack)


def test_a_system_that_never_answers_in_time_fails_the_command(
    over_http: tuple[LocalStack, Webhooks, LocalDownstream],
) -> None:
    stack, webhooks, downstream = over_http
    downstream.erp.script("UpsertBillingSchedule", "time_out", "time_out", "time_out")
    webhooks.event("clm", "contract.approved", CONTRACT)

    failed = ledger_of(stack).commands.get(SCHEDULE)
    assert failed is not None and failed.state.value == "failed"
    assert "no answer" in failed.answer
    assert f"sync_failed:SOW-1001:{SCHEDULE}" in open_exception_ids(stack)


def test_an_answer_later_is_taken_from_the_systems_webhook(
    over_http: tuple[LocalStack, Webhooks, LocalDownstream],
) -> None:
    stack, webhooks, downstream = over_http
    downstream.psa.script("UpsertProject", "accept_later")
    webhooks.event("clm", "contract.approved", CONTRACT)
    ledger = ledger_of(stack)
    assert ledger.commands.get(PROJECT).state.value == "sent"  # type: ignore[union-attr]

    (answer,) = downstream.psa.take_answers()
    webhooks.post(answer)

    acknowledged = ledger.commands.get(PROJECT)
    assert acknowledged is not None and acknowledged.state.value == "acknowledged"
    assert ledger.mapping("SOW-1001")["psa_project_ref"] == acknowledged.reference == answer["data"]["reference"]


def test_event_connector_commands_wait_for_the_systems_answers_and_the_cli_shows_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secrets = generate_webhook_secrets()
    state = tmp_path / "state.sqlite"
    with LocalStack(secrets=secrets, state_file=state) as stack:
        ledger_of(stack).save_config(_config())
        webhooks = Webhooks(stack, secrets)
        webhooks.event("clm", "contract.approved", CONTRACT)
        published = [e for e in stack.observed_events() if e.get("detail-type") == "UpsertProjectRequested"]
        assert published and published[0]["detail"]["command_id"] == PROJECT
        assert ledger_of(stack).commands.get(PROJECT).state.value == "sent"  # type: ignore[union-attr]
        assert "psa_project_ref" not in ledger_of(stack).mapping("SOW-1001"), "no id is made up"

        webhooks.event("psa", "sync.acknowledged", {"command_id": PROJECT, "reference": "PRJ-4711"})
        webhooks.event("erp", "sync.refused", {"command_id": SCHEDULE, "code": "bad_fee", "message": "F1 overlaps"})
        webhooks.event("psa", "sync.acknowledged", {"command_id": "psa/UpsertProject/SOW-404-v1", "reference": "X"})
        dead = stack.dead_letters("feedback")
        assert len(dead) == 1 and "SOW-404" in dead[0]["messageAttributes"]["error"]["StringValue"]
        stack.save(state)

    capsys.readouterr()
    assert billbridge(["contracts", "show", "SOW-1001", "--state-file", str(state), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["ids"]["psa_project_ref"] == "PRJ-4711"
    by_system = {p["system"]: p for p in shown["propagation"]}
    assert (by_system["psa"]["state"], by_system["psa"]["acknowledged_version"]) == ("acknowledged", 1)
    assert (by_system["erp"]["state"], by_system["erp"]["answer"]) == ("refused", "bad_fee: F1 overlaps")

    assert billbridge(["contracts", "propagation", "--stale", "0", "--state-file", str(state), "--json"]) == 1
    stale = json.loads(capsys.readouterr().out)
    assert [(p["contract_id"], p["system"]) for p in stale] == [("SOW-1001", "erp")]

    assert billbridge(["sync", "retry", SCHEDULE, "--state-file", str(state), "--json"]) == 0
    retried = json.loads(capsys.readouterr().out)
    assert (retried["state"], retried["attempts"]) == ("sent", 2), "re-published, awaiting the ERP's answer"
    assert billbridge(["sync", "retry", PROJECT, "--state-file", str(state)]) == 1
    assert "nothing to retry" in capsys.readouterr().out


# --- every command type, both connectors ----------------------------------------------------------

TERMINATE = "psa/TerminateProject/SOW-1001-terminated-v3"
TERMINATE_SCHEDULE = "erp-us/TerminateBillingSchedule/SOW-1001-terminated-v3"
PROJECT_V2 = "psa/UpsertProject/SOW-1001-v2"
SCHEDULE_V2 = "erp-us/UpsertBillingSchedule/SOW-1001-v2"


def _through_a_contracts_life(stack: LocalStack, webhooks: Webhooks) -> tuple[str, str]:
    """Approval, an amendment, a billing run, the ERP's posting and payment, a termination.
    Returns the invoice-status command ids (posted, paid)."""
    webhooks.event("clm", "contract.approved", CONTRACT)
    amended = CONTRACT | {"version": 2, "effective_date": "2026-02-01"}
    webhooks.event("clm", "contract.amended", amended)
    run = stack.start_billing_run(
        {"period": "2026-01", "contract_ids": None, "run_id": "run-2026-01"}, name="run-2026-01"
    )
    stack.drain()
    assert run["succeeded"], run
    ledger = ledger_of(stack)
    (invoice,) = ledger.load("SOW-1001").book.invoices.values()
    total = str(invoice.total)
    webhooks.event(
        "erp",
        "invoice.posted",
        {
            "proposal_id": invoice.proposal_id,
            "invoice_number": "INV-1",
            "posting_date": "2026-02-02",
            "subtotal": str(invoice.subtotal),
            "tax": str(invoice.tax),
            "total": total,
            "currency": "USD",
        },
    )
    webhooks.event(
        "erp",
        "payment.applied",
        {"invoice_number": "INV-1", "payment_id": "PAY-1", "amount": total, "currency": "USD", "paid_on": "2026-02-20"},
    )
    webhooks.event(
        "clm", "contract.terminated", {"contract_id": "SOW-1001", "version": 3, "effective_date": "2026-06-30"}
    )
    return (
        f"psa/UpdateInvoiceStatus/{invoice.proposal_id}-posted-0.00",
        f"psa/UpdateInvoiceStatus/{invoice.proposal_id}-paid-{total}",
    )


def test_every_command_type_over_http_with_every_outcome(
    over_http: tuple[LocalStack, Webhooks, LocalDownstream],
) -> None:
    stack, webhooks, downstream = over_http
    downstream.psa.script("UpsertProject", "accept", "refuse")  # v1 accepted, v2 refused
    downstream.erp.script("UpsertBillingSchedule", "accept", "time_out", "time_out", "time_out")  # v2 fails
    downstream.psa.script("UpdateInvoiceStatus", "accept_later", "refuse")  # posted: later; paid: refused
    downstream.erp.script("TerminateBillingSchedule", "rate_limit")  # then accepted

    posted, paid = _through_a_contracts_life(stack, webhooks)
    for answer in downstream.psa.take_answers():
        webhooks.post(answer)

    states = {c.command_id: c.state.value for c in ledger_of(stack).commands.of_contract("SOW-1001")}
    assert states == {
        PROJECT: "acknowledged",
        SCHEDULE: "acknowledged",
        PROJECT_V2: "refused",
        SCHEDULE_V2: "failed",
        posted: "acknowledged",
        paid: "refused",
        TERMINATE: "acknowledged",
        TERMINATE_SCHEDULE: "acknowledged",
    }
    assert open_exception_ids(stack) >= {
        f"sync_refused:SOW-1001:{PROJECT_V2}",
        f"sync_failed:SOW-1001:{SCHEDULE_V2}",
        f"sync_refused:SOW-1001:{paid}",
    }
    sent_statuses = [r.payload for r in downstream.psa.received if r.name == "UpdateInvoiceStatus"]
    assert [(p["payment_status"], p["invoice_number"], p["posting_date"]) for p in sent_statuses] == [
        ("posted", "INV-1", "2026-02-02"),
        ("paid", "INV-1", "2026-02-02"),
    ]
    assert {r.name for r in downstream.erp.received} >= {"CreateInvoice", "TerminateBillingSchedule"}


def test_every_command_type_on_the_bus_answered_by_the_systems_webhooks(tmp_path: Path) -> None:
    secrets = generate_webhook_secrets()
    with LocalStack(secrets=secrets, state_file=tmp_path / "state.sqlite") as stack:
        ledger_of(stack).save_config(_config())
        webhooks = Webhooks(stack, secrets)
        posted, paid = _through_a_contracts_life(stack, webhooks)
        commands = ledger_of(stack).commands.of_contract("SOW-1001")
        assert {c.state.value for c in commands} == {"sent"}, "published: nothing is acknowledged yet"
        published = {e["detail"]["command_id"] for e in stack.observed_events() if "command_id" in e.get("detail", {})}
        assert published >= {c.command_id for c in commands}

        refusals = {PROJECT_V2, paid}
        for command in commands:
            source = command.system
            if command.command_id in refusals:
                webhooks.event(source, "sync.refused", {"command_id": command.command_id, "message": "not now"})
            else:
                reference = f"{command.system.upper()}-{command.name}"
                webhooks.event(source, "sync.acknowledged", {"command_id": command.command_id, "reference": reference})

        states = {c.command_id: c.state.value for c in ledger_of(stack).commands.of_contract("SOW-1001")}
        assert {k for k, v in states.items() if v == "refused"} == refusals
        assert states[posted] == "acknowledged"
        assert {k for k, v in states.items() if v == "acknowledged"} == set(states) - refusals
        assert ledger_of(stack).mapping("SOW-1001")["psa_project_ref"] == "PSA-UpsertProject"
        assert {f"sync_refused:SOW-1001:{c}" for c in refusals} <= open_exception_ids(stack)
