"""Tax table, legal entity routing and ERP tax variance."""

from __future__ import annotations

from billbridge.domain.model import BillingConfig, ExceptionState, ExceptionType, TaxRate

from tests.unit.domain.builders import D, Desk, config, d, entry, version


def test_tax_is_the_rate_in_force_on_the_last_day_of_the_period() -> None:
    desk = Desk(
        billing_config=BillingConfig(
            tax_rates=(
                TaxRate("US-NY", D("0.08"), d("2020-01-01")),
                TaxRate("US-NY", D("0.10"), d("2026-03-31")),
                TaxRate("US-NY", D("0.50"), d("2026-04-01")),
            ),
            legal_entities=config().legal_entities,
        )
    )
    desk.version(version())
    desk.entry(entry("TE-1", {"2026-03-02": "1"}))
    invoice = desk.bill("2026-03")
    assert invoice is not None
    assert (invoice.tax_rate, invoice.tax, invoice.total) == (D("0.10"), D("10.00"), D("110.00"))


def test_unknown_tax_jurisdiction_holds_the_invoice() -> None:
    desk = Desk(billing_config=config(tax={}))
    desk.version(version())
    desk.entry(entry("TE-1"))
    outcome = desk.bill_outcome("2026-03")
    assert outcome.invoice is None
    held = desk.exception(ExceptionType.UNKNOWN_TAX_JURISDICTION)
    assert outcome.held_by == (held.exception_id,)
    assert (held.refs, held.amount, held.period) == (("2026-03",), D("800.00"), "2026-03")
    assert [line.invoice_id for line in desk.lines()] == [None]
    assert desk.book.invoices == {}


def test_unknown_legal_entity_holds_the_invoice() -> None:
    desk = Desk(billing_config=config(entities={"DE01": "erp-eu"}))
    desk.version(version())
    desk.entry(entry("TE-1"))
    assert desk.bill("2026-03") is None
    assert desk.exception(ExceptionType.UNKNOWN_LEGAL_ENTITY).refs == ("2026-03",)
    assert desk.unbilled() == desk.lines()


def test_held_invoice_is_composed_once_the_configuration_knows_the_jurisdiction() -> None:
    desk = Desk(billing_config=config(tax={}))
    desk.version(version())
    desk.entry(entry("TE-1"))
    desk.bill("2026-03")
    desk.billing_config = config()
    invoice = desk.bill("2026-03")
    assert invoice is not None
    assert invoice.proposal_id == "SOW-1-2026-03-1"
    assert desk.exception(ExceptionType.UNKNOWN_TAX_JURISDICTION).state is ExceptionState.RESOLVED


def test_held_run_keeps_the_cap_split_undone() -> None:
    desk = Desk(billing_config=config(tax={}))
    desk.version(version(cap="500.00"))
    desk.entry(entry("TE-1"))
    desk.bill("2026-03")
    assert [(line.quantity, line.amount) for line in desk.lines()] == [(D("8"), D("800.00"))]


def test_invoice_goes_to_the_erp_instance_that_owns_the_legal_entity() -> None:
    desk = Desk()
    desk.version(version(legal_entity="DE01", tax_jurisdiction="DE", currency="EUR"))
    desk.entry(entry("TE-1"))
    invoice = desk.bill("2026-03")
    assert invoice is not None
    assert (invoice.legal_entity, invoice.erp_instance, invoice.currency) == ("DE01", "erp-eu", "EUR")
    assert invoice.tax == D("152.00")


def test_erp_tax_differing_from_the_estimate_raises_tax_variance_and_erp_figures_stand() -> None:
    desk = Desk()
    desk.version(version())
    desk.entry(entry("TE-1"))
    invoice = desk.bill("2026-03")
    assert invoice is not None
    assert invoice.tax == D("71.00")
    desk.posted(invoice.proposal_id, "INV-1", tax="72.00", total="872.00")
    posted = desk.invoice(invoice.proposal_id)
    assert (posted.tax, posted.total, posted.estimated_tax) == (D("72.00"), D("872.00"), D("71.00"))
    variance = desk.exception(ExceptionType.TAX_VARIANCE)
    assert variance.refs == ("INV-1",)
    assert variance.amount == D("1.00")


def test_erp_tax_equal_to_the_estimate_raises_nothing() -> None:
    desk = Desk()
    desk.version(version())
    desk.entry(entry("TE-1"))
    invoice = desk.bill("2026-03")
    assert invoice is not None
    desk.posted(invoice.proposal_id, "INV-1", tax="71.00", total="871.00")
    assert desk.exceptions(ExceptionType.TAX_VARIANCE) == []
