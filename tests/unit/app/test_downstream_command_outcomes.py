"""Every downstream command (project upsert, billing-schedule upsert, termination,
invoice status) and every outcome (acknowledged, sent then answered, refused,
failed), through the use cases with in-memory fakes."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
from billbridge.app.downstream_sync import NothingToRetryError, UnknownCommandError
from billbridge.app.ports import ConnectorReceipt, TransientConnectorError
from billbridge.domain.downstream_commands import CommandState, PropagationState, propagation_of
from billbridge.local.demo_engagement import CONFIG

from tests.fakes.hub import CoreHub

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
    "cap_amount": "100000.00",
    "retainer_amount": "2500.00",
    "milestones": [{"milestone_id": "M1", "name": "Onboarding", "amount": "10000.00"}],
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
    "cost_centers": ["CC-100"],
    "billing_contact": {"name": "AP Team", "email": "ap@acme.example"},
}
PSA_PROJECT = "psa/UpsertProject/SOW-1001-v1"
ERP_SCHEDULE = "erp-us/UpsertBillingSchedule/SOW-1001-v1"
SEQUENCE = iter(range(1, 10_000))


def event(source: str, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"{source}-{next(SEQUENCE)}",
        "source": source,
        "type": event_type,
        "time": "2026-01-01T09:00:00Z",
        "data": data,
    }


def contract(version: int = 1, **changes: Any) -> dict[str, Any]:
    return event(
        "clm", "contract.approved" if version == 1 else "contract.amended", CONTRACT | {"version": version} | changes
    )


@pytest.fixture
def hub() -> CoreHub:
    # The demo's configuration without its customer master: these contracts' customers are not in it.
    return CoreHub({k: v for k, v in copy.deepcopy(CONFIG).items() if k != "customer_master"})


def open_exceptions(hub: CoreHub) -> dict[str, Any]:
    return {e.exception_id: e for e in hub.ledger.exceptions() if e.state.value == "open"}


def test_upserts_carry_the_whole_contract_and_are_acknowledged_with_the_systems_ids(hub: CoreHub) -> None:
    hub.deliver(contract())

    project, schedule = hub.psa.commands[0], hub.erp.commands[0]
    assert (project.name, project.target, project.idempotency_key) == ("UpsertProject", "psa", "SOW-1001-v1")
    assert (schedule.name, schedule.target) == ("UpsertBillingSchedule", "erp-us")
    assert project.headers["X-Command-Id"] == PSA_PROJECT
    assert project.payload["billing_method"] == "time_and_materials+fixed_fee+milestones+retainer"
    assert project.payload["rates"] == [{"role": "consultant", "resource_id": None, "rate": "150.00"}]
    assert project.payload["milestones"] == [{"milestone_id": "M1", "name": "Onboarding", "amount": "10000.00"}]
    assert (project.payload["cap_amount"], project.payload["retainer_amount"]) == ("100000.00", "2500.00")
    assert (project.payload["start_date"], project.payload["end_date"]) == ("2026-01-01", "2026-12-31")
    assert project.payload["invoicing_contacts"] == [{"role": "billing", "name": "AP Team", "email": "ap@acme.example"}]
    assert schedule.payload["recurring_fees"][0]["amount"] == "5000.00"
    assert schedule.payload["retainer_amount"] == "2500.00"
    assert schedule.payload["invoicing_contacts"] == project.payload["invoicing_contacts"]

    assert hub.commands.get(PSA_PROJECT).state is CommandState.ACKNOWLEDGED  # type: ignore[union-attr]
    ids = hub.ledger.mapping("SOW-1001")
    assert (ids["psa_project_ref"], ids["erp_billing_schedule_ref"]) == ("PRJ-SOW-1001-v1", "SCH-SOW-1001-v1")
    assert not open_exceptions(hub)


def test_an_acknowledged_command_is_not_sent_again_on_redelivery(hub: CoreHub) -> None:
    approved = contract()
    hub.deliver(approved)
    hub.consume(approved)  # SQS at-least-once: the same event again

    assert len(hub.psa.commands) == len(hub.erp.commands) == 1
    assert hub.commands.get(PSA_PROJECT).attempts == 1  # type: ignore[union-attr]


def test_a_refusal_is_held_with_the_payload_and_answer_and_a_retry_after_the_fix_acknowledges(hub: CoreHub) -> None:
    hub.psa.answers["UpsertProject"] = ConnectorReceipt(accepted=False, detail="HTTP 422 customer_unknown")
    hub.deliver(contract())

    refused = hub.commands.get(PSA_PROJECT)
    assert refused is not None and refused.state is CommandState.REFUSED
    assert refused.answer == "HTTP 422 customer_unknown" and refused.payload["contract_id"] == "SOW-1001"
    held = open_exceptions(hub)[f"sync_refused:SOW-1001:{PSA_PROJECT}"]
    assert held.refs == (PSA_PROJECT,) and "customer_unknown" in held.detail
    assert "psa_project_ref" not in hub.ledger.mapping("SOW-1001")  # no made-up id
    assert hub.ledger.mapping("SOW-1001")["erp_billing_schedule_ref"] == "SCH-SOW-1001-v1"

    del hub.psa.answers["UpsertProject"]  # fixed in the PSA
    retried = hub.downstream.retry(PSA_PROJECT, lambda target: hub.psa)

    assert retried.state is CommandState.ACKNOWLEDGED and retried.attempts == 2
    assert hub.ledger.mapping("SOW-1001")["psa_project_ref"] == "PRJ-SOW-1001-v1"
    assert not open_exceptions(hub)
    states = [e.state.value for e in hub.ledger.exceptions()]
    assert states == ["resolved"]
    with pytest.raises(NothingToRetryError):
        hub.downstream.retry(PSA_PROJECT, lambda target: hub.psa)


def test_no_answer_after_the_connectors_retries_is_a_failure_held_as_sync_failed(hub: CoreHub) -> None:
    hub.erp.answers["UpsertBillingSchedule"] = TransientConnectorError("erp-us UpsertBillingSchedule: HTTP 503")
    hub.deliver(contract())

    failed = hub.commands.get(ERP_SCHEDULE)
    assert failed is not None and failed.state is CommandState.FAILED and "HTTP 503" in failed.answer
    assert f"sync_failed:SOW-1001:{ERP_SCHEDULE}" in open_exceptions(hub)

    hub.erp.answers["UpsertBillingSchedule"] = ConnectorReceipt(accepted=False, detail="HTTP 400 bad_schedule")
    hub.downstream.retry(ERP_SCHEDULE, lambda target: hub.erp)

    held = open_exceptions(hub)
    assert list(held) == [f"sync_refused:SOW-1001:{ERP_SCHEDULE}"]  # the failure was withdrawn


def test_a_command_awaiting_its_answer_is_acknowledged_by_the_systems_event(hub: CoreHub) -> None:
    hub.psa.answers["UpsertProject"] = ConnectorReceipt(accepted=True, awaiting_acknowledgement=True)
    hub.deliver(contract())
    assert hub.commands.get(PSA_PROJECT).state is CommandState.SENT  # type: ignore[union-attr]
    assert "psa_project_ref" not in hub.ledger.mapping("SOW-1001")

    hub.deliver(event("psa", "sync.acknowledged", {"command_id": PSA_PROJECT, "reference": "PRJ-77"}))

    acknowledged = hub.commands.get(PSA_PROJECT)
    assert acknowledged is not None and acknowledged.reference == "PRJ-77"
    assert acknowledged.acknowledged_at == hub.clock.now().isoformat()
    assert hub.ledger.mapping("SOW-1001")["psa_project_ref"] == "PRJ-77"


def test_a_refusal_event_is_held_and_a_late_refusal_never_undoes_an_acknowledgement(hub: CoreHub) -> None:
    hub.erp.answers["UpsertBillingSchedule"] = ConnectorReceipt(accepted=True, awaiting_acknowledgement=True)
    hub.deliver(contract())
    hub.deliver(
        event("erp", "sync.refused", {"command_id": ERP_SCHEDULE, "code": "fee_overlap", "message": "F1 overlaps"})
    )
    assert hub.commands.get(ERP_SCHEDULE).state is CommandState.REFUSED  # type: ignore[union-attr]
    assert open_exceptions(hub)[f"sync_refused:SOW-1001:{ERP_SCHEDULE}"].detail.endswith("fee_overlap: F1 overlaps")

    hub.deliver(event("erp", "sync.acknowledged", {"command_id": ERP_SCHEDULE, "reference": "SCH-9"}))
    hub.deliver(event("erp", "sync.refused", {"command_id": ERP_SCHEDULE, "message": "late"}))

    command = hub.commands.get(ERP_SCHEDULE)
    assert command is not None and command.state is CommandState.ACKNOWLEDGED and command.reference == "SCH-9"
    assert [state for _, state, _ in command.history][-1] == "refused"  # kept in the history only
    assert not open_exceptions(hub)


def test_an_answer_to_a_command_never_sent_is_refused_by_name(hub: CoreHub) -> None:
    with pytest.raises(UnknownCommandError, match="psa/UpsertProject/SOW-404-v1"):
        hub.deliver(event("psa", "sync.acknowledged", {"command_id": "psa/UpsertProject/SOW-404-v1", "reference": "X"}))


def test_a_termination_is_sent_to_both_systems(hub: CoreHub) -> None:
    hub.deliver(contract())
    hub.deliver(
        event("clm", "contract.terminated", {"contract_id": "SOW-1001", "version": 2, "effective_date": "2026-06-30"})
    )

    terminate_project, terminate_schedule = hub.psa.commands[-1], hub.erp.commands[-1]
    assert (terminate_project.name, terminate_project.idempotency_key) == ("TerminateProject", "SOW-1001-terminated-v2")
    assert (terminate_schedule.name, terminate_schedule.target) == ("TerminateBillingSchedule", "erp-us")
    assert terminate_project.payload == {
        "contract_id": "SOW-1001",
        "contract_version": 2,
        "effective_date": "2026-06-30",
        "customer_id": "CUST-ACME",
        "legal_entity": "US01",
    }
    by_system = {p.system: p for p in propagation_of(hub.commands.all_commands())}
    assert by_system["psa"].latest_version == 2 and by_system["psa"].state is PropagationState.ACKNOWLEDGED


def test_invoice_status_reaches_the_psa_with_number_amounts_posting_date_and_payment(hub: CoreHub) -> None:
    hub.deliver(contract())
    (proposal_id,) = hub.bill("2026-01")
    invoice = hub.ledger.load("SOW-1001").book.invoices[proposal_id]
    hub.deliver(
        event(
            "erp",
            "invoice.posted",
            {
                "proposal_id": proposal_id,
                "invoice_number": "INV-1",
                "posting_date": "2026-02-02",
                "subtotal": str(invoice.subtotal),
                "tax": str(invoice.tax),
                "total": str(invoice.total),
                "currency": "USD",
            },
        )
    )
    posted = hub.psa.commands[-1]
    assert posted.name == "UpdateInvoiceStatus" and posted.target == "psa"
    assert posted.payload | {"amount": "-", "subtotal": "-", "tax": "-"} == {
        "contract_id": "SOW-1001",
        "proposal_id": proposal_id,
        "period": "2026-01",
        "invoice_number": "INV-1",
        "currency": "USD",
        "amount": "-",
        "subtotal": "-",
        "tax": "-",
        "posting_date": "2026-02-02",
        "payment_status": "posted",
        "amount_paid": "0.00",
    }
    assert (posted.payload["amount"], posted.payload["tax"]) == (str(invoice.total), str(invoice.tax))

    hub.deliver(
        event(
            "erp",
            "payment.applied",
            {
                "invoice_number": "INV-1",
                "payment_id": "PAY-1",
                "amount": str(invoice.total),
                "currency": "USD",
                "paid_on": "2026-02-20",
            },
        )
    )
    paid = hub.psa.commands[-1]
    assert (paid.payload["payment_status"], paid.payload["amount_paid"]) == ("paid", str(invoice.total))
    assert paid.idempotency_key != posted.idempotency_key
    statuses = [c for c in hub.commands.of_contract("SOW-1001") if c.name == "UpdateInvoiceStatus"]
    assert {c.state for c in statuses} == {CommandState.ACKNOWLEDGED}


def test_propagation_shows_the_version_each_system_holds_and_what_is_stale(hub: CoreHub) -> None:
    hub.deliver(contract())
    hub.clock.advance(3600)
    hub.psa.answers["UpsertProject"] = ConnectorReceipt(accepted=True, awaiting_acknowledgement=True)
    hub.deliver(contract(2, effective_date="2026-03-01", rate_card=[{"role": "consultant", "rate": "160.00"}]))
    hub.clock.advance(5 * 3600)

    by_system = {p.system: p for p in propagation_of(hub.commands.all_commands())}
    psa, erp = by_system["psa"], by_system["erp"]
    assert (psa.latest_version, psa.state, psa.acknowledged_version) == (2, PropagationState.PENDING, 1)
    assert psa.reference == "PRJ-SOW-1001-v1"
    assert (erp.latest_version, erp.state, erp.acknowledged_version) == (2, PropagationState.ACKNOWLEDGED, 2)
    assert psa.is_stale(hub.clock.now(), timedelta(hours=4))
    assert not psa.is_stale(hub.clock.now(), timedelta(hours=6))
    assert not erp.is_stale(hub.clock.now(), timedelta(hours=1))


def test_each_partial_payment_reaches_the_psa_with_the_amount_paid_so_far(hub: CoreHub) -> None:
    hub.deliver(contract())
    (proposal_id,) = hub.bill("2026-01")
    invoice = hub.ledger.load("SOW-1001").book.invoices[proposal_id]
    posted = {
        "proposal_id": proposal_id,
        "invoice_number": "INV-7",
        "posting_date": "2026-02-02",
        "subtotal": str(invoice.subtotal),
        "tax": str(invoice.tax),
        "total": str(invoice.total),
        "currency": "USD",
    }
    hub.deliver(event("erp", "invoice.posted", posted))
    for payment_id in ("PAY-1", "PAY-2"):
        payment = {"invoice_number": "INV-7", "payment_id": payment_id, "amount": "100.00", "currency": "USD"}
        hub.deliver(event("erp", "payment.applied", payment | {"paid_on": "2026-02-20"}))

    statuses = [(c.payload["payment_status"], c.payload["amount_paid"]) for c in hub.psa.commands[-2:]]
    assert statuses == [("partially_paid", "100.00"), ("partially_paid", "200.00")]


def test_a_system_cannot_answer_a_command_sent_to_another(hub: CoreHub) -> None:
    hub.erp.answers["UpsertBillingSchedule"] = ConnectorReceipt(accepted=True, awaiting_acknowledgement=True)
    hub.deliver(contract())

    with pytest.raises(ValueError, match="sent to the erp, not answered by the psa"):
        hub.deliver(event("psa", "sync.acknowledged", {"command_id": ERP_SCHEDULE, "reference": "FAKE-1"}))
    assert hub.commands.get(ERP_SCHEDULE).state is CommandState.SENT  # type: ignore[union-attr]
