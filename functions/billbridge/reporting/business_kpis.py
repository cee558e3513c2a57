"""The seed's business KPIs, computed from the ledger: pure functions over books and timings.

Rules, so the figures can be read without the code (decision 0013 says why):
- **DSO** (days sales outstanding, collected): for each payment of an invoice the ERP
  posted, the days from the invoice's posting date to the payment's date, weighted by
  the payment's amount; per currency (amounts of different currencies are never added).
  The headline figure (`days`, what the alarm watches) is the worst currency's. Invoices
  posted and not fully paid are listed as outstanding with their age as of `as_of`.
- **Dispute rate**: invoices disputed over invoices (every invoice proposed, rejected
  ones included). Disputed: rejected by the ERP, posted with a tax variance, or corrected
  later (an approved adjustment names one of its lines).
- **Integration failure resolution time**: every exception, open to closed (raised:
  its first `exception_raised` audit record; closed: the first record of its closing
  state, else its decision's time), in hours; median and p90 over the closed ones, per
  type and overall; the open ones with their age as of `now`. Dead letters: every
  message still in a DLQ is an open failure, aged from when it was dead-lettered (SQS
  forgets a message once redriven or deleted, so closed dead letters have no duration).
- **Revenue leakage**: money the firm gave up, per currency: written-off exceptions and
  withdrawn ones (the input went away), positive amounts only (a credit owed to the client
  that is written off is not revenue lost); a withdrawal superseded by another exception
  of the same input is not counted twice.
- Days from approved time to invoice: `kpis.approval_to_invoice` (median, p90).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal

from billbridge.reporting.kpis import value_of
from billbridge.reporting.statistics import median, one_decimal, percent, percentile

TYPE_CHECKING = False  # `typing` costs ~4 ms to import: its names serve annotations only
if TYPE_CHECKING:
    from typing import Any

    from billbridge.reporting.kpi_records import BookRecord, DecisionRecord

ZERO = Decimal(0)
CLOSED_STATES = frozenset({"approved", "written_off", "resolved", "withdrawn"})
"""`ExceptionState` values of a closed exception."""
LEAKING_STATES = frozenset({"written_off", "withdrawn"})
CORRECTING_TYPES = frozenset({"invoiced_entry_changed", "retroactive_change"})


class ExceptionTimes:
    """When each exception was raised and closed, from the audit trail (exception id -> when)."""

    __slots__ = ("closed_at", "raised_at")

    def __init__(
        self, raised_at: Mapping[str, datetime] | None = None, closed_at: Mapping[str, datetime] | None = None
    ) -> None:
        self.raised_at: Mapping[str, datetime] = raised_at or {}
        self.closed_at: Mapping[str, datetime] = closed_at or {}


class OpenDeadLetter:
    __slots__ = ("dead_lettered_at", "queue")

    def __init__(self, queue: str, dead_lettered_at: datetime) -> None:
        self.queue = queue
        self.dead_lettered_at = dead_lettered_at


def days_sales_outstanding(books: Sequence[BookRecord], *, as_of: date) -> dict[str, Any]:
    weighted: dict[str, Decimal] = {}
    collected: dict[str, Decimal] = {}
    payments = 0
    outstanding: list[dict[str, Any]] = []
    for book in books:
        for invoice in sorted(book.invoices.values(), key=lambda i: i.proposal_id):
            if invoice.posting_date is None or invoice.status == "rejected":
                continue
            for payment in invoice.payments:
                if payment.amount <= 0:
                    continue
                days = Decimal(max((payment.paid_on - invoice.posting_date).days, 0))
                weighted[invoice.currency] = weighted.get(invoice.currency, ZERO) + days * payment.amount
                collected[invoice.currency] = collected.get(invoice.currency, ZERO) + payment.amount
                payments += 1
            if invoice.status != "paid" and invoice.paid_amount < invoice.total:
                outstanding.append(
                    {
                        "proposal_id": invoice.proposal_id,
                        "contract_id": invoice.contract_id,
                        "erp_invoice_number": invoice.erp_invoice_number,
                        "posting_date": invoice.posting_date.isoformat(),
                        "currency": invoice.currency,
                        "open_amount": invoice.total - invoice.paid_amount,
                        "days_outstanding": max((as_of - invoice.posting_date).days, 0),
                    }
                )
    days_by_currency = {currency: one_decimal(weighted[currency] / collected[currency]) for currency in collected}
    by_currency = [
        {"currency": currency, "collected": collected[currency], "days": days_by_currency[currency]}
        for currency in sorted(collected)
    ]
    outstanding.sort(key=lambda row: (-row["days_outstanding"], row["proposal_id"]))
    return {
        "days": max(days_by_currency.values(), default=None),
        "payments": payments,
        "by_currency": by_currency,
        "outstanding": outstanding,
    }


def dispute_rate(books: Sequence[BookRecord]) -> dict[str, Any]:
    invoices = [invoice for book in books for invoice in book.invoices.values()]
    variance_refs = {
        ref
        for book in books
        for exception in book.exceptions.values()
        if exception.type == "tax_variance"
        for ref in exception.refs
    }
    corrected_lines = {
        line_id
        for book in books
        for line in book.lines.values()
        if line.kind == "adjustment"
        for line_id in line.source_refs
    }
    rows: list[dict[str, Any]] = []
    for invoice in sorted(invoices, key=lambda i: (i.contract_id, i.period, i.seq)):
        reasons: list[str] = []
        if invoice.status == "rejected":
            reasons.append("rejected")
        if invoice.erp_invoice_number in variance_refs or invoice.proposal_id in variance_refs:
            reasons.append("tax_variance")
        if any(line.line_id in corrected_lines for line in invoice.lines):
            reasons.append("corrected")
        if reasons:
            rows.append(
                {
                    "proposal_id": invoice.proposal_id,
                    "contract_id": invoice.contract_id,
                    "erp_invoice_number": invoice.erp_invoice_number,
                    "reasons": reasons,
                }
            )
    return {
        "invoices": len(invoices),
        "disputed": len(rows),
        "percent": percent(Decimal(len(rows)), Decimal(len(invoices))),
        "by_reason": {
            reason: sum(1 for row in rows if reason in row["reasons"])
            for reason in ("rejected", "tax_variance", "corrected")
        },
        "rows": rows,
    }


def failure_resolution(
    books: Sequence[BookRecord],
    times: ExceptionTimes,
    dead_letters: Sequence[OpenDeadLetter],
    *,
    now: datetime,
) -> dict[str, Any]:
    closed: dict[str, list[Decimal]] = {}
    open_rows: list[dict[str, Any]] = []
    for book in books:
        for exception in book.exceptions.values():
            raised = times.raised_at.get(exception.exception_id)
            if exception.state == "open":
                open_rows.append(
                    {
                        "failure": exception.exception_id,
                        "kind": value_of(exception.type),
                        # an `as_of` before the raising (a report of the past) ages it 0, not negative
                        "open_hours": max(_hours(now - raised), ZERO) if raised else None,
                    }
                )
                continue
            closed_at = times.closed_at.get(exception.exception_id) or _decided_at(exception.decision)
            if raised is None or closed_at is None or exception.state not in CLOSED_STATES:
                continue
            closed.setdefault(value_of(exception.type), []).append(max(_hours(closed_at - raised), ZERO))
    for letter in dead_letters:
        open_rows.append(
            {
                "failure": f"dead letter in {letter.queue}",
                "kind": "dead_letter",
                "open_hours": max(_hours(now - letter.dead_lettered_at), ZERO),
            }
        )
    every = sorted(hours for values in closed.values() for hours in values)
    open_rows.sort(key=lambda row: (-(row["open_hours"] or ZERO), row["failure"]))
    return {
        "closed": len(every),
        "median_hours": median(every),
        "p90_hours": percentile(every, 90),
        "by_kind": [
            {
                "kind": kind,
                "closed": len(values),
                "median_hours": median(sorted(values)),
                "p90_hours": percentile(sorted(values), 90),
            }
            for kind, values in sorted(closed.items())
        ],
        "open": len(open_rows),
        "oldest_open_hours": max(
            (row["open_hours"] for row in open_rows if row["open_hours"] is not None), default=None
        ),
        "open_failures": open_rows,
    }


def revenue_leakage(books: Sequence[BookRecord]) -> dict[str, Any]:
    totals: dict[str, dict[str, Decimal]] = {}
    rows = []
    for book in books:
        held_refs: dict[str, set[str]] = {}
        for exception in book.exceptions.values():
            for ref in exception.refs:
                held_refs.setdefault(ref, set()).add(exception.exception_id)
        for exception in sorted(book.exceptions.values(), key=lambda e: e.exception_id):
            if exception.state not in LEAKING_STATES or exception.amount <= 0:
                continue
            if exception.state == "withdrawn" and any(len(held_refs.get(ref, set())) > 1 for ref in exception.refs):
                continue  # superseded: another exception holds the same input
            currency = exception.currency or (book.latest_version.currency if book.latest_version else "?")
            total = totals.setdefault(currency, {"written_off": ZERO, "withdrawn": ZERO})
            total[value_of(exception.state)] += exception.amount
            rows.append(
                {
                    "exception_id": exception.exception_id,
                    "contract_id": exception.contract_id,
                    "type": value_of(exception.type),
                    "state": value_of(exception.state),
                    "amount": exception.amount,
                    "currency": currency,
                }
            )
    return {
        "by_currency": [
            {
                "currency": currency,
                "written_off": amounts["written_off"],
                "withdrawn": amounts["withdrawn"],
                "amount": amounts["written_off"] + amounts["withdrawn"],
            }
            for currency, amounts in sorted(totals.items())
        ],
        "rows": rows,
    }


def _decided_at(decision: DecisionRecord | None) -> datetime | None:
    if decision is None or not decision.decided_at:
        return None
    try:
        return datetime.fromisoformat(str(decision.decided_at).replace("Z", "+00:00"))
    except ValueError:
        return None


def _hours(elapsed: Any) -> Decimal:
    return Decimal(str(round(elapsed.total_seconds() / 3600, 2)))
