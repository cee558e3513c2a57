"""Customer master, system-of-record rules, schema versions and rollout switches
through the whole local stack (signed webhooks, queues, the billing state machine)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from billbridge import topology
from billbridge.adapters.dynamo_refusal_log import DynamoRefusalLog
from billbridge.app.canonical_events import schema_uri
from billbridge.app.rollout import SHADOW_REFERENCE
from billbridge.cli.main import main as billbridge
from billbridge.local.scenario_replay import ScenarioReplayer, generate_webhook_secrets
from billbridge.local.stack import LocalStack
from billbridge.reporting.customer_view import customer_detail

from tests.scenarios.catalog import load_scenario

SCENARIO, _ = load_scenario("07-customer-master")
CONFIG = SCENARIO["config"]


def step_event(event_id: str) -> dict[str, Any]:
    for step in SCENARIO["steps"]:
        if "deliver" in step and step["deliver"]["id"] == event_id:
            return copy.deepcopy(step["deliver"])
    raise KeyError(event_id)


def customer_event(customer_id: str) -> dict[str, Any]:
    for step in SCENARIO["steps"]:
        event = step.get("deliver", {})
        if event.get("type") == "customer.upserted" and event["data"]["customer_id"] == customer_id:
            return copy.deepcopy(event)
    raise KeyError(customer_id)


def contract_event(contract_id: str) -> dict[str, Any]:
    for step in SCENARIO["steps"]:
        event = step.get("deliver", {})
        if event.get("type") == "contract.approved" and event["data"]["contract_id"] == contract_id:
            return copy.deepcopy(event)
    raise KeyError(contract_id)


def drain(stack: LocalStack) -> None:
    with stack.unit_of_work():
        stack.drain()


@pytest.fixture
def secrets() -> dict[str, list[str]]:
    return generate_webhook_secrets()


def test_customer_from_a_source_that_is_not_the_system_of_record_is_refused_and_audited(
    secrets: dict[str, list[str]],
) -> None:
    with LocalStack(secrets=secrets) as stack, ScenarioReplayer(stack, secrets) as replayer:
        replayer.configure(CONFIG)
        event = customer_event("CUST-7002") | {"source": "crm", "id": "crm-0001"}
        refused = replayer.deliver(event)
        assert refused.status == 400
        assert refused.body["field"] == "source" and "customer=erp" in refused.body["error"]
        with stack.unit_of_work():
            log = DynamoRefusalLog(table_name=stack.names.ledger_table, client=stack.client("dynamodb"))
            (record,) = log.refusals()
            assert (record["source"], record["event_id"], record["rule"]) == ("crm", "crm-0001", "customer=erp")
            assert replayer.ledger.master_keys("customer") == []


def test_crm_as_the_configured_system_of_record_writes_customers(secrets: dict[str, list[str]]) -> None:
    env = {topology.ENV_SYSTEMS_OF_RECORD: json.dumps({"customer": "crm"})}
    with LocalStack(secrets=secrets, extra_env=env) as stack, ScenarioReplayer(stack, secrets) as replayer:
        replayer.configure(CONFIG)
        assert replayer.deliver(customer_event("CUST-7002") | {"source": "crm", "id": "crm-0001"}).status == 202
        assert replayer.deliver(customer_event("CUST-7001")).status == 400
        drain(stack)
        with stack.unit_of_work():
            assert replayer.ledger.master_keys("customer") == ["CUST-7002"]


def test_a_pending_contract_is_released_when_its_customer_arrives_and_shows_in_customers_show(
    secrets: dict[str, list[str]], tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state.sqlite"
    with LocalStack(secrets=secrets, state_file=state) as stack, ScenarioReplayer(stack, secrets) as replayer:
        replayer.configure(CONFIG)
        assert replayer.deliver(contract_event("SOW-7003")).status == 202
        drain(stack)
        with stack.unit_of_work():
            pending = customer_detail(replayer.ledger, "CUST-7003", replayer.ledger.books())
            assert pending is not None and pending["status"] == "not in master"
            assert [c["master_status"] for c in pending["contracts"]] == ["pending_customer"]
            assert not [c for c in replayer.ledger.commands.all_commands() if c.contract_id == "SOW-7003"]
        assert replayer.deliver(customer_event("CUST-7003")).status == 202
        drain(stack)
        with stack.unit_of_work():
            ids = replayer.ledger.mapping("SOW-7003")
            assert ids["erp_customer_id"] == "C-700003"
            # The waiting upserts are sent now (their ids come with the systems' acknowledgements).
            sent = {c.name for c in replayer.ledger.commands.all_commands() if c.contract_id == "SOW-7003"}
            assert sent == {"UpsertProject", "UpsertBillingSchedule"}
            assert replayer.ledger.pending_contracts("CUST-7003") == []
    capsys.readouterr()  # the functions' own log lines
    assert billbridge(["customers", "show", "CUST-7003", "--json", "--state-file", str(state)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["name"] == "Brooklyn Design Studio"
    assert shown["ids"]["erp_customer_id@erp-us"] == "C-700003"
    assert [c["contract_id"] for c in shown["contracts"]] == ["SOW-7003"]
    assert billbridge(["customers", "list", "--state-file", str(state)]) == 0
    assert "Brooklyn Design Studio" in capsys.readouterr().out


def test_contract_approved_v2_bills_like_v1_and_an_unknown_version_is_refused(secrets: dict[str, list[str]]) -> None:
    with LocalStack(secrets=secrets) as stack, ScenarioReplayer(stack, secrets) as replayer:
        replayer.configure(CONFIG)
        replayer.deliver(customer_event("CUST-7002"))
        v2 = contract_event("SOW-7002")
        v2["dataschema"] = schema_uri("contract.approved", 2)
        v2["data"]["rate_card"] = [{"role": "consultant", "rate": {"amount": "150.00", "currency": "USD"}}]
        unknown = copy.deepcopy(v2) | {"id": "clm-0099", "dataschema": schema_uri("contract.approved", 7)}
        refused = replayer.deliver(unknown)
        assert refused.status == 400 and refused.body["field"] == "dataschema"
        assert schema_uri("contract.approved", 1) in refused.body["error"]
        assert replayer.deliver(v2).status == 202
        assert replayer.deliver(step_event("psa-0002")).status == 202  # TE-7102: 8 h on SOW-7002
        run = replayer.bill("2026-05", request_id="v2")
        assert run.succeeded
        with stack.unit_of_work():
            (invoice,) = replayer.ledger.load("SOW-7002").book.invoices.values()
        assert (invoice.subtotal, invoice.tax) == (pytest.approx(1200), pytest.approx(106.5))


def test_shadow_billing_proposes_without_posting_and_off_refuses(secrets: dict[str, list[str]]) -> None:
    env = {topology.ENV_ROLLOUT: json.dumps({"workflows": {"actuals": "shadow", "feedback": "off"}})}
    with LocalStack(secrets=secrets, extra_env=env) as stack, ScenarioReplayer(stack, secrets) as replayer:
        replayer.configure(CONFIG)
        for event_id in ("erp-0001", "erp-0003", "clm-0002", "psa-0002"):
            assert replayer.deliver(step_event(event_id)).status == 202
        run = replayer.bill("2026-05", request_id="shadow")
        assert run.succeeded
        with stack.unit_of_work():
            (invoice,) = replayer.ledger.load("SOW-7002").book.invoices.values()
        assert invoice.submitted_to_erp and invoice.erp_reference == SHADOW_REFERENCE
        posted = {
            "specversion": "1.0",
            "id": "erp-9001",
            "source": "erp",
            "type": "invoice.posted",
            "time": "2026-06-01T10:00:00Z",
            "data": {
                "proposal_id": invoice.proposal_id,
                "invoice_number": "INV-1",
                "posting_date": "2026-06-01",
                "subtotal": "1200.00",
                "tax": "106.50",
                "total": "1306.50",
                "currency": "USD",
            },
        }
        refused = replayer.deliver(posted)
        assert refused.status == 400 and "workflow feedback is off" in refused.body["error"]
