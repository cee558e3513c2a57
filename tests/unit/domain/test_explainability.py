"""Explainable rating: every line says how it was made."""

from __future__ import annotations

from billbridge.domain.model import BillingLine

from tests.fakes.hub import CoreHub
from tests.unit.domain.builders import Desk, completion, entry, expense, fee, version, week


def assert_explained(line: BillingLine) -> None:
    assert line.contract_version is not None, line
    assert line.rate_rule, line
    assert line.rules, line
    assert line.correlation_id, line


def test_time_line_carries_version_rate_rule_rules_source_and_correlation() -> None:
    desk = Desk()
    desk.version(version(1, resources={"R-7": "140.00"}))
    desk.version(version(2, effective="2026-03-04", resources={"R-7": "150.00"}))
    desk.entry(entry("TE-1", week("2026-03-02"), resource_id="R-7"))
    first, second = desk.lines()
    for line in (first, second):
        assert_explained(line)
        assert line.rate_rule == "rate_card[resource_id=R-7]"
        assert line.source_refs == ("psa:TE-1-r1",)
        assert line.correlation_id == "corr-TE-1-r1"
    assert (first.contract_version, second.contract_version) == (1, 2)
    assert "version 2 applies from 2026-03-04" in second.rules
    assert any("split" in rule for rule in second.rules)


def test_expense_and_milestone_lines_are_explained() -> None:
    desk = Desk()
    desk.version(version(categories=["travel"], markup="0.05", milestones={"M1": "1000.00"}))
    desk.expense(expense("EX-1"))
    desk.complete(completion("M1"))
    (expense_line,) = desk.lines("expense")
    (milestone_line,) = desk.lines("milestone")
    for line in (expense_line, milestone_line):
        assert_explained(line)
    assert expense_line.source_refs == ("psa:EX-1",)
    assert expense_line.rate_rule == "expense_policy[markup_pct=0.05]"
    assert milestone_line.rate_rule == "milestones[M1]"


def test_every_invoice_line_is_explained() -> None:
    desk = Desk()
    desk.version(version(retainer="50.00", fees=[fee("F1", "100.00")], cap="300.00"))
    desk.entry(entry("TE-1", {"2026-03-02": "4"}))
    invoice = desk.bill("2026-03")
    assert invoice is not None
    assert {line.kind for line in invoice.lines} == {"fee", "time", "retainer"}
    for line in invoice.lines:
        assert_explained(line)
        assert line.invoice_id == invoice.proposal_id
    (time_line,) = [line for line in invoice.lines if line.kind == "time"]
    assert any("cap" in rule for rule in time_line.rules)


def test_rating_is_audited_with_the_rule_and_correlation_id() -> None:
    desk = Desk()
    desk.version(version())
    update = desk.entry(entry("TE-1"))
    rated = [record for record in update.audit if record.action == "line_rated"]
    assert len(rated) == 1
    assert rated[0].contract_version == 1
    assert rated[0].rule == "rate_card[role=consultant]"
    assert rated[0].correlation_id == "TE-1"


def test_line_correlation_id_is_the_delivering_events() -> None:
    hub = CoreHub(
        {
            "tax_rates": [{"jurisdiction": "US-NY", "rate": "0.1", "effective_from": "2020-01-01"}],
            "legal_entities": [{"legal_entity": "US01", "erp_instance": "erp-us"}],
        }
    )
    hub.deliver(
        {
            "id": "c1",
            "source": "clm",
            "type": "contract.approved",
            "correlationid": "corr-c1",
            "data": {
                "contract_id": "SOW-9",
                "version": 1,
                "effective_date": "2026-01-01",
                "customer_id": "C",
                "legal_entity": "US01",
                "currency": "USD",
                "tax_jurisdiction": "US-NY",
                "start_date": "2026-01-01",
                "end_date": "2026-12-31",
                "rate_card": [{"role": "dev", "rate": "10"}],
            },
        }
    )
    hub.deliver(
        {
            "id": "t1",
            "source": "psa",
            "type": "time_entry.approved",
            "correlationid": "corr-t1",
            "data": {
                "entry_id": "TE-1",
                "revision": 1,
                "contract_id": "SOW-9",
                "resource_id": "EMP-1",
                "role": "dev",
                "billable": True,
                "work_date": "2026-03-02",
                "hours": "2",
            },
        }
    )
    hub.bill("2026-03")
    (invoice,) = hub.report()["invoices"]
    (line,) = invoice["lines"]
    assert (line["correlation_id"], line["source_refs"]) == ("corr-t1", ["psa:t1"])
    assert (line["contract_version"], line["rate_rule"]) == (1, "rate_card[role=dev]")
