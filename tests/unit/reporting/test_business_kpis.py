"""The seed's business KPIs, one rule per test (reporting/business_kpis.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from billbridge.domain.model import (
    BillingException,
    BillingLine,
    ContractBook,
    Decision,
    ExceptionState,
    ExceptionType,
    Invoice,
    InvoiceStatus,
    Payment,
)
from billbridge.reporting.business_kpis import (
    ExceptionTimes,
    OpenDeadLetter,
    days_sales_outstanding,
    dispute_rate,
    failure_resolution,
    revenue_leakage,
)
from billbridge.reporting.kpis import compute_kpis, kpi_metrics, timings_from_audit

D = Decimal


def line(line_id: str, amount: str = "100.00", kind: str = "time", **fields: object) -> BillingLine:
    return BillingLine(
        line_id=line_id,
        kind=kind,  # type: ignore[arg-type]
        ref=line_id.split(":")[0],
        quantity=D(1),
        amount=D(amount),
        currency=str(fields.pop("currency", "EUR")),
        line_date=date(2026, 3, 31),
        **fields,  # type: ignore[arg-type]
    )


def invoice(
    proposal_id: str,
    *,
    total: str = "100.00",
    currency: str = "EUR",
    status: InvoiceStatus = InvoiceStatus.POSTED,
    posted: date | None = date(2026, 4, 1),
    payments: tuple[Payment, ...] = (),
    lines: tuple[BillingLine, ...] = (),
    erp_number: str | None = None,
) -> Invoice:
    return Invoice(
        proposal_id=proposal_id,
        contract_id="SOW-1",
        period="2026-03",
        seq=int(proposal_id.rsplit("-", 1)[-1]) if proposal_id[-1].isdigit() else 1,
        currency=currency,
        legal_entity="LE-DE",
        erp_instance="erp-eu",
        tax_jurisdiction="DE",
        tax_rate=D("0"),
        customer_id="C-1",
        contract_version=1,
        lines=lines,
        subtotal=D(total),
        tax=D(0),
        total=D(total),
        correlation_id="corr",
        run_id="run",
        status=status,
        posting_date=posted,
        payments=payments,
        erp_invoice_number=erp_number,
    )


def paid(amount: str, on: str, currency: str = "EUR") -> Payment:
    return Payment(payment_id=f"pay-{on}-{amount}", amount=D(amount), currency=currency, paid_on=date.fromisoformat(on))


def exception(
    exception_id: str,
    *,
    type: ExceptionType = ExceptionType.NO_RATE,
    state: ExceptionState = ExceptionState.OPEN,
    amount: str = "100.00",
    refs: tuple[str, ...] = ("TE-1",),
    currency: str = "EUR",
    decided_at: str | None = None,
) -> BillingException:
    return BillingException(
        exception_id=exception_id,
        type=type,
        contract_id="SOW-1",
        refs=refs,
        amount=D(amount),
        correlation_id="corr",
        state=state,
        currency=currency,
        decision=Decision(actor="alice", reason="r", decided_at=decided_at) if decided_at else None,
    )


def book(**fields: object) -> ContractBook:
    return ContractBook(contract_id="SOW-1", **fields)  # type: ignore[arg-type]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- DSO -----------------------------------------------------------------------------------------


def test_dso_is_days_from_posting_to_payment_weighted_by_the_amount_paid() -> None:
    books = [
        book(
            invoices={
                "P-1": invoice(
                    "P-1", total="300.00", payments=(paid("100.00", "2026-04-11"), paid("200.00", "2026-05-01"))
                ),
                "P-2": invoice(
                    "P-2", total="100.00", posted=date(2026, 4, 1), payments=(paid("100.00", "2026-04-21"),)
                ),
            }
        )
    ]
    dso = days_sales_outstanding(books, as_of=date(2026, 6, 1))
    # (10 * 100 + 30 * 200 + 20 * 100) / 400 = 22.5
    assert dso["days"] == D("22.5")
    assert dso["payments"] == 3
    assert dso["outstanding"] == []


def test_dso_never_adds_currencies_and_the_headline_is_the_worst_currency() -> None:
    books = [
        book(
            invoices={
                "P-1": invoice("P-1", payments=(paid("100.00", "2026-04-11"),)),
                "P-2": invoice("P-2", currency="USD", payments=(paid("100.00", "2026-05-11", "USD"),)),
            }
        )
    ]
    dso = days_sales_outstanding(books, as_of=date(2026, 6, 1))
    assert [(r["currency"], r["days"]) for r in dso["by_currency"]] == [("EUR", D("10.0")), ("USD", D("40.0"))]
    assert dso["days"] == D("40.0")


def test_dso_lists_posted_unpaid_invoices_as_outstanding_and_ignores_proposed_and_rejected_ones() -> None:
    books = [
        book(
            invoices={
                "P-1": invoice("P-1", total="250.00", payments=(paid("50.00", "2026-04-05"),)),
                "P-2": invoice("P-2", status=InvoiceStatus.PROPOSED, posted=None),
                "P-3": invoice("P-3", status=InvoiceStatus.REJECTED),
            }
        )
    ]
    dso = days_sales_outstanding(books, as_of=date(2026, 5, 1))
    (outstanding,) = dso["outstanding"]
    assert outstanding["proposal_id"] == "P-1"
    assert outstanding["open_amount"] == D("200.00") and outstanding["days_outstanding"] == 30


def test_dso_without_any_payment_is_unknown_not_zero() -> None:
    assert days_sales_outstanding([book(invoices={"P-1": invoice("P-1")})], as_of=date(2026, 5, 1))["days"] is None


# --- dispute rate --------------------------------------------------------------------------------


def test_dispute_rate_counts_rejected_tax_variance_and_later_corrected_invoices_over_all_invoices() -> None:
    corrected_line = line("TE-1:1")
    adjustment = line("adjustment:EX-1", kind="adjustment", source_refs=("TE-1:1",))
    books = [
        book(
            lines={"TE-1:1": corrected_line, "adjustment:EX-1": adjustment},
            invoices={
                "P-1": invoice("P-1", lines=(corrected_line,)),
                "P-2": invoice("P-2", status=InvoiceStatus.REJECTED),
                "P-3": invoice("P-3", erp_number="INV-3"),
                "P-4": invoice("P-4"),
                "P-5": invoice("P-5", lines=(adjustment,)),
            },
            exceptions={"EX-T": exception("EX-T", type=ExceptionType.TAX_VARIANCE, refs=("INV-3",))},
        )
    ]
    rate = dispute_rate(books)
    assert rate["invoices"] == 5 and rate["disputed"] == 3
    assert rate["percent"] == D("60.0")
    assert rate["by_reason"] == {"rejected": 1, "tax_variance": 1, "corrected": 1}
    assert [row["proposal_id"] for row in rate["rows"]] == ["P-1", "P-2", "P-3"]


def test_dispute_rate_without_invoices_is_unknown() -> None:
    assert dispute_rate([book()])["percent"] is None


# --- integration failure resolution time -------------------------------------------------------


def test_every_exception_is_timed_from_raised_to_closed_and_open_ones_and_dead_letters_are_aged() -> None:
    books = [
        book(
            exceptions={
                "EX-1": exception("EX-1", type=ExceptionType.SYNC_REFUSED, state=ExceptionState.RESOLVED),
                "EX-2": exception(
                    "EX-2",
                    type=ExceptionType.BILLING_FAILED,
                    state=ExceptionState.APPROVED,
                    decided_at="2026-04-02T12:00:00+00:00",
                ),
                "EX-3": exception("EX-3", type=ExceptionType.NO_RATE),
            }
        )
    ]
    times = ExceptionTimes(
        raised_at={"EX-1": at("2026-04-01T00:00"), "EX-2": at("2026-04-01T00:00"), "EX-3": at("2026-04-03T00:00")},
        closed_at={"EX-1": at("2026-04-01T06:00")},  # EX-2 closes at its decision's time
    )
    letters = [OpenDeadLetter("actuals", at("2026-04-03T18:00"))]
    resolution = failure_resolution(books, times, letters, now=at("2026-04-04T00:00"))
    assert resolution["closed"] == 2
    assert resolution["median_hours"] == D("21.00")  # (6 + 36) / 2
    assert resolution["p90_hours"] == D("36.0")
    assert {r["kind"]: r["median_hours"] for r in resolution["by_kind"]} == {
        "billing_failed": D("36.0"),
        "sync_refused": D("6.0"),
    }
    assert resolution["open"] == 2
    assert resolution["oldest_open_hours"] == D("24.0")
    assert [r["kind"] for r in resolution["open_failures"]] == ["no_rate", "dead_letter"]


def test_the_closing_time_comes_from_the_audit_trail() -> None:
    trails = {
        "SOW-1": [
            {"action": "exception_raised", "ref": "EX-1", "recorded_at": "2026-04-01T00:00:00+00:00"},
            {"action": "exception_withdrawn", "ref": "EX-1", "recorded_at": "2026-04-01T02:30:00+00:00"},
            {"action": "exception_withdrawn", "ref": "EX-1", "recorded_at": "2026-04-09T00:00:00+00:00"},
        ]
    }
    timings = timings_from_audit(trails)
    assert timings.exception_closed_at["EX-1"] == at("2026-04-01T02:30")


# --- revenue leakage ----------------------------------------------------------------------------


def test_revenue_leakage_sums_written_off_and_withdrawn_amounts_per_currency_as_decimals() -> None:
    books = [
        book(
            exceptions={
                "EX-1": exception("EX-1", state=ExceptionState.WRITTEN_OFF, amount="0.10", refs=("TE-1",)),
                "EX-2": exception("EX-2", state=ExceptionState.WRITTEN_OFF, amount="0.20", refs=("TE-2",)),
                "EX-3": exception("EX-3", state=ExceptionState.WITHDRAWN, amount="50.00", refs=("TE-3",)),
                "EX-4": exception("EX-4", state=ExceptionState.WRITTEN_OFF, amount="7", currency="JPY", refs=("T4",)),
                "EX-5": exception("EX-5", state=ExceptionState.OPEN, amount="999.00", refs=("TE-5",)),
            }
        )
    ]
    leakage = revenue_leakage(books)
    assert leakage["by_currency"] == [
        {"currency": "EUR", "written_off": D("0.30"), "withdrawn": D("50.00"), "amount": D("50.30")},
        {"currency": "JPY", "written_off": D("7"), "withdrawn": D("0"), "amount": D("7")},
    ]
    assert all(isinstance(row["amount"], Decimal) for row in leakage["by_currency"])


def test_a_written_off_credit_owed_to_the_client_is_not_leakage_nor_a_superseded_withdrawal() -> None:
    books = [
        book(
            exceptions={
                "EX-1": exception("EX-1", state=ExceptionState.WRITTEN_OFF, amount="-40.00", refs=("TE-1",)),
                "EX-2": exception("EX-2", state=ExceptionState.WITHDRAWN, amount="80.00", refs=("TE-2",)),
                "EX-3": exception("EX-3", type=ExceptionType.OUTSIDE_TERM, amount="80.00", refs=("TE-2",)),
            }
        )
    ]
    assert revenue_leakage(books)["by_currency"] == []


# --- in the KPIs and as metrics ----------------------------------------------------------------


def test_the_business_kpis_are_metrics_with_decimal_values() -> None:
    books = [
        book(
            invoices={"P-1": invoice("P-1", payments=(paid("100.00", "2026-04-11"),))},
            exceptions={"EX-1": exception("EX-1", state=ExceptionState.WRITTEN_OFF, amount="12.50")},
        )
    ]
    kpis = compute_kpis([], as_of=date(2026, 5, 1))
    kpis["business"] = {
        "dso": days_sales_outstanding(books, as_of=date(2026, 5, 1)),
        "dispute_rate": dispute_rate(books),
        "failure_resolution": failure_resolution(books, ExceptionTimes(), [], now=at("2026-05-01T00:00")),
        "revenue_leakage": revenue_leakage(books),
    }
    values = {(metric.name, dict(metric.dimensions).get("Currency")): metric.value for metric in kpi_metrics(kpis)}
    assert values[("DaysSalesOutstanding", None)] == Decimal(10)
    assert values[("DisputeRatePercent", None)] == Decimal(0)
    assert values[("RevenueLeakageAmount", "EUR")] == Decimal("12.50")
    assert all(isinstance(value, Decimal | int) for value in values.values())


def test_a_failure_raised_after_the_reports_moment_is_aged_zero_not_negative() -> None:
    books = [book(exceptions={"EX-1": exception("EX-1")})]
    times = ExceptionTimes(raised_at={"EX-1": at("2026-11-29T10:00")})
    letters = [OpenDeadLetter("actuals", at("2026-11-29T11:00"))]
    resolution = failure_resolution(books, times, letters, now=at("2026-06-30T23:59"))
    assert [row["open_hours"] for row in resolution["open_failures"]] == [D(0), D(0)]
    assert resolution["oldest_open_hours"] == D(0)
