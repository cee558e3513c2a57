"""Contracts checked against the customer master (docs/spec/billing.md, "Customer master")."""

from __future__ import annotations

from datetime import date

import pytest
from billbridge.domain.customer_master import (
    CustomerVersion,
    LegalEntityVersion,
    MasterChange,
    MasterFacts,
    MasterFindingKind,
    MasterPolicy,
    TaxExemption,
    check_contract_against_master,
    classify_version,
    version_on,
)
from billbridge.domain.model import ExceptionState, ExceptionType

from tests.unit.domain.builders import D, Desk, d, entry, version

ENFORCED = MasterPolicy(enforced=True, grace_days=30)


def customer(
    number: int = 1,
    *,
    effective: str = "2026-01-01",
    status: str = "active",
    currencies: tuple[str, ...] = ("USD",),
    exemptions: tuple[TaxExemption, ...] = (),
) -> CustomerVersion:
    return CustomerVersion(
        customer_id="CUST-1",
        version=number,
        effective_date=d(effective),
        name="Acme Analytics Inc.",
        status=status,
        billing_currencies=currencies,
        tax_jurisdiction="US-NY",
        payment_terms_days=30,
        tax_exemptions=exemptions,
        erp_customer_ids=(("erp-us", "C-100234"),),
    )


def legal_entity(number: int = 1, *, status: str = "active", erp: str = "erp-us") -> LegalEntityVersion:
    return LegalEntityVersion(
        legal_entity="US01",
        version=number,
        effective_date=d("2020-01-01"),
        name="Billbridge Consulting US LLC",
        erp_instance=erp,
        country="US",
        functional_currency="USD",
        status=status,
    )


def facts(*customers: CustomerVersion, entities: tuple[LegalEntityVersion, ...] = ()) -> MasterFacts:
    return MasterFacts(
        policy=ENFORCED,
        customer={c.version: c for c in customers},
        legal_entity={e.version: e for e in entities},
        legal_entities_mastered=bool(entities),
    )


def desk_with(master: MasterFacts | None) -> Desk:
    desk = Desk(master=master)
    desk.version(version())
    desk.entry(entry("TE-1", {"2026-03-02": "8"}))
    return desk


def test_without_an_enforced_master_the_contract_bills_on_its_own_terms() -> None:
    master = MasterFacts(policy=MasterPolicy(enforced=False))
    invoice = desk_with(master).bill("2026-03")
    assert invoice is not None and invoice.tax == D("71.00") and invoice.tax_exemption_certificate is None


def test_unknown_customer_is_pending_within_the_grace_period_and_raises_nothing() -> None:
    desk = Desk(master=MasterFacts(policy=MasterPolicy(enforced=True, grace_days=120)))
    desk.version(version())
    desk.entry(entry("TE-1", {"2026-03-02": "8"}))
    outcome = desk.bill_outcome("2026-03")
    assert outcome.invoice is None and outcome.held_by == ()
    assert desk.book.exceptions == {}
    assert [line.invoice_id for line in desk.lines()] == [None]
    assert [record.action for record in outcome.update.audit] == ["customer_pending"]


def test_pending_contract_bills_its_waiting_lines_once_the_customer_arrives() -> None:
    desk = Desk(master=MasterFacts(policy=MasterPolicy(enforced=True, grace_days=120)))
    desk.version(version())
    desk.entry(entry("TE-1", {"2026-03-02": "8"}))
    assert desk.bill("2026-03") is None
    desk.master = facts(customer())
    desk.entry(entry("TE-2", {"2026-04-01": "2"}))
    invoice = desk.bill("2026-04")
    assert invoice is not None
    assert sorted(line.ref for line in invoice.lines) == ["TE-1", "TE-2"]


def test_unknown_customer_after_the_grace_period_holds_the_invoice() -> None:
    desk = desk_with(MasterFacts(policy=ENFORCED))  # contract starts 2026-01-01, March ends 89 days later
    outcome = desk.bill_outcome("2026-03")
    assert outcome.invoice is None
    held = desk.exception(ExceptionType.UNKNOWN_CUSTOMER)
    assert outcome.held_by == (held.exception_id,)
    assert (held.refs, held.amount) == (("2026-03",), D("800.00"))
    assert "CUST-1" in held.detail


def test_held_unknown_customer_is_resolved_when_the_customer_arrives() -> None:
    desk = desk_with(MasterFacts(policy=ENFORCED))
    desk.bill("2026-03")
    desk.master = facts(customer())
    assert desk.bill("2026-03") is not None
    assert desk.exception(ExceptionType.UNKNOWN_CUSTOMER).state is ExceptionState.RESOLVED


def test_inactive_customer_holds_the_invoice() -> None:
    desk = desk_with(facts(customer(), customer(2, effective="2026-02-01", status="inactive")))
    assert desk.bill("2026-03") is None
    assert "inactive" in desk.exception(ExceptionType.CUSTOMER_INACTIVE).detail


def test_the_customer_version_in_force_on_the_periods_last_day_is_checked() -> None:
    desk = desk_with(facts(customer(), customer(2, effective="2026-04-01", status="inactive")))
    assert desk.bill("2026-03") is not None


def test_contract_currency_the_customer_cannot_be_billed_in_holds_the_invoice() -> None:
    desk = desk_with(facts(customer(currencies=("EUR", "GBP"))))
    assert desk.bill("2026-03") is None
    detail = desk.exception(ExceptionType.CUSTOMER_CURRENCY_MISMATCH).detail
    assert "USD" in detail and "EUR, GBP" in detail


def test_legal_entity_absent_from_a_mastered_legal_entity_list_holds_the_invoice() -> None:
    master = MasterFacts(policy=ENFORCED, customer={1: customer()}, legal_entity={}, legal_entities_mastered=True)
    desk = desk_with(master)
    assert desk.bill("2026-03") is None
    assert "US01" in desk.exception(ExceptionType.UNKNOWN_LEGAL_ENTITY).detail


def test_inactive_legal_entity_is_not_configured() -> None:
    finding = check_contract_against_master(
        facts=facts(customer(), entities=(legal_entity(status="inactive"),)),
        customer_id="CUST-1",
        legal_entity="US01",
        currency="USD",
        contract_start=d("2026-01-01"),
        on=d("2026-03-31"),
    )
    assert finding is not None and finding.kind is MasterFindingKind.LEGAL_ENTITY_NOT_CONFIGURED


def test_exemption_valid_on_the_periods_last_day_makes_the_tax_zero_with_the_certificate() -> None:
    exemption = TaxExemption("NY-EX-0042", valid_from=d("2026-03-31"), valid_to=d("2026-12-31"))
    invoice = desk_with(facts(customer(exemptions=(exemption,)))).bill("2026-03")
    assert invoice is not None
    assert (invoice.subtotal, invoice.tax, invoice.total) == (D("800.00"), D("0.00"), D("800.00"))
    assert invoice.tax_exemption_certificate == "NY-EX-0042"


@pytest.mark.parametrize(
    ("valid_from", "valid_to"),
    [("2026-04-01", None), ("2026-01-01", "2026-03-30")],
    ids=["starts-after-the-period", "ended-before-its-last-day"],
)
def test_exemption_not_valid_on_the_last_day_leaves_the_tax(valid_from: str, valid_to: str | None) -> None:
    exemption = TaxExemption("NY-EX-0042", valid_from=d(valid_from), valid_to=d(valid_to) if valid_to else None)
    invoice = desk_with(facts(customer(exemptions=(exemption,)))).bill("2026-03")
    assert invoice is not None
    assert invoice.tax == D("71.00") and invoice.tax_exemption_certificate is None


def test_the_legal_entity_master_routes_to_its_erp_instance_when_the_configuration_does_not() -> None:
    desk = Desk(master=facts(customer(), entities=(legal_entity(erp="erp-us-2"),)))
    desk.billing_config = type(desk.billing_config)(tax_rates=desk.billing_config.tax_rates, legal_entities=())
    desk.version(version())
    desk.entry(entry("TE-1"))
    invoice = desk.bill("2026-03")
    assert invoice is not None and invoice.erp_instance == "erp-us-2"


def test_a_repeated_version_changes_nothing_and_other_content_is_a_conflict() -> None:
    known = {1: customer()}
    assert classify_version(known, customer()) is MasterChange.SAME
    assert classify_version(known, customer(status="inactive")) is MasterChange.CONFLICT
    assert classify_version(known, customer(2)) is MasterChange.NEW


def test_the_version_in_force_is_the_highest_effective_on_the_day() -> None:
    versions = {1: customer(), 2: customer(2, effective="2026-06-01"), 3: customer(3, effective="2026-03-01")}
    assert version_on(versions, date(2026, 2, 1)) == versions[1]
    assert version_on(versions, date(2026, 4, 1)) == versions[3]
    assert version_on(versions, date(2026, 7, 1)) == versions[3]
    assert version_on(versions, date(2025, 12, 31)) is None


def test_negative_grace_is_refused() -> None:
    with pytest.raises(ValueError, match="grace_days"):
        MasterPolicy(enforced=True, grace_days=-1)


def test_before_the_customers_first_effective_date_its_earliest_version_applies() -> None:
    exemption = TaxExemption("NY-EX-0042", valid_from=d("2026-01-01"))
    desk = desk_with(facts(customer(effective="2026-04-15", exemptions=(exemption,))))
    invoice = desk.bill("2026-03")
    assert invoice is not None and invoice.tax_exemption_certificate == "NY-EX-0042"
    early = check_contract_against_master(
        facts=facts(customer(effective="2026-03-15", status="inactive")),
        customer_id="CUST-1",
        legal_entity="US01",
        currency="USD",
        contract_start=d("2026-01-01"),
        on=d("2026-02-28"),
    )
    assert early is not None and early.kind is MasterFindingKind.CUSTOMER_INACTIVE
