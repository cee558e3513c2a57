"""Composing a contract's invoice proposal for a billing period.

Gathers the unbilled time (cap applied), expenses, milestones, the period's
recurring fees and approved adjustments; offsets the retainer; adds tax. The
proposal id is `{contract_id}-{period}-{seq}`, the idempotency key toward the
ERP. Re-running a period bills only what is new (a supplementary invoice).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

from billbridge.domain.book_draft import BookDraft, RuleContext
from billbridge.domain.customer_master import (
    MasterFacts,
    MasterFinding,
    MasterFindingKind,
    check_contract_against_master,
    tax_exemption_for,
    version_on,
)
from billbridge.domain.model import (
    BillingConfig,
    BillingException,
    BillingLine,
    BookUpdate,
    ContractBook,
    ContractVersion,
    ExceptionState,
    ExceptionType,
    Invoice,
    RecurringFee,
    StatedBasis,
    WorkDay,
)
from billbridge.domain.money import ZERO, round_hours, round_money
from billbridge.domain.rating import time_line_id
from billbridge.domain.versions import VersionTimeline

MASTER_HOLDS = {
    MasterFindingKind.UNKNOWN_CUSTOMER: ExceptionType.UNKNOWN_CUSTOMER,
    MasterFindingKind.CUSTOMER_INACTIVE: ExceptionType.CUSTOMER_INACTIVE,
    MasterFindingKind.CUSTOMER_CURRENCY_MISMATCH: ExceptionType.CUSTOMER_CURRENCY_MISMATCH,
    MasterFindingKind.LEGAL_ENTITY_NOT_CONFIGURED: ExceptionType.UNKNOWN_LEGAL_ENTITY,
}
"""Findings against the customer master that hold the invoice, as the exceptions they raise."""
ROUTING_HOLDS = (
    ExceptionType.UNKNOWN_TAX_JURISDICTION,
    ExceptionType.UNKNOWN_LEGAL_ENTITY,
    ExceptionType.UNKNOWN_CUSTOMER,
    ExceptionType.CUSTOMER_INACTIVE,
    ExceptionType.CUSTOMER_CURRENCY_MISMATCH,
)
"""Exceptions that hold a contract's invoice for a period (one open of each per period)."""
LINE_ORDER = {"fee": 0, "milestone": 1, "time": 2, "expense": 3, "adjustment": 4, "retainer": 5}


class InvalidPeriodError(ValueError):
    """A billing period is a calendar month written `YYYY-MM`."""


@dataclass(frozen=True, slots=True)
class Period:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Period:
        try:
            year_text, month_text = text.split("-")
            period = cls(int(year_text), int(month_text))
        except ValueError as error:
            raise InvalidPeriodError(f"billing period must be YYYY-MM, got {text!r}") from error
        if not 1 <= period.month <= 12 or len(year_text) != 4 or len(month_text) != 2:
            raise InvalidPeriodError(f"billing period must be YYYY-MM, got {text!r}")
        return period

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    @property
    def days(self) -> int:
        return calendar.monthrange(self.year, self.month)[1]

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True, slots=True)
class BillingOutcome:
    update: BookUpdate
    invoice: Invoice | None
    held_by: tuple[str, ...] = ()
    """Exception ids that held the invoice (unknown tax jurisdiction or legal entity)."""


def compose_invoice(
    book: ContractBook,
    *,
    period: str,
    config: BillingConfig,
    run_id: str,
    context: RuleContext,
    master: MasterFacts | None = None,
) -> BillingOutcome:
    """`master`: what the customer master holds for the contract (None or not
    enforced: the contract is billed on its own terms)."""
    billing_period = Period.parse(period)
    if not book.versions:
        return BillingOutcome(update=BookUpdate.unchanged(book), invoice=None)
    draft = BookDraft(book, context)
    timeline = draft.timeline()
    end = billing_period.last_day
    latest = book.latest_version
    assert latest is not None
    terms = timeline.applicable_on(end) or latest

    time_candidates = sorted(
        (
            line
            for line in draft.lines.values()
            if line.kind == "time"
            and not draft.is_billed(line)
            and line.line_date <= end
            and line.ref not in draft.written_off_refs
        ),
        key=lambda line: line.order_key,
    )
    billed_time, held_time = _apply_cap(draft, time_candidates, latest.cap_amount)
    expense_lines = _unbilled(draft, "expense", end)
    milestone_lines = _unbilled(draft, "milestone", end)
    adjustment_lines = [
        line for line in draft.lines.values() if line.kind == "adjustment" and not draft.is_billed(line)
    ]
    fee_lines = _fee_lines(draft, timeline, billing_period)

    _track_cap(draft, held_time, latest, str(billing_period), billed_time)
    chargeable = billed_time + expense_lines + milestone_lines + adjustment_lines + fee_lines
    if not chargeable:
        for routing in ROUTING_HOLDS:
            draft.withdraw_exception(routing, str(billing_period), "nothing is left to bill for the period")
        draft.record("nothing_to_bill", f"{book.contract_id}:{billing_period}", rule="no invoice")
        update = draft.freeze()
        return BillingOutcome(update=update, invoice=None)

    tax_rate = config.tax_rate_on(terms.tax_jurisdiction, end)
    erp_instance = config.erp_instance_for(terms.legal_entity) or _mastered_erp_instance(master, end)
    finding = (
        check_contract_against_master(
            facts=master,
            customer_id=terms.customer_id,
            legal_entity=terms.legal_entity,
            currency=terms.currency,
            contract_start=min(v.start_date for v in book.versions.values()),
            on=end,
        )
        if master is not None
        else None
    )
    if finding is not None and not finding.is_exception:
        # Pending, not an error: the lines wait unbilled for the customer (no exception).
        waiting = BookDraft(book, context)
        waiting.exceptions = draft.exceptions
        waiting.audit = draft.audit
        waiting.events = draft.events
        waiting.record(
            "customer_pending",
            f"{book.contract_id}:{billing_period}",
            contract_version=terms.version,
            rule="customer master: a contract waits for its customer",
            detail=finding.detail,
        )
        return BillingOutcome(update=waiting.freeze(), invoice=None)
    held_by = _validate_routing(draft, terms, tax_rate, erp_instance, str(billing_period), chargeable)
    if finding is not None and not (
        finding.kind is MasterFindingKind.LEGAL_ENTITY_NOT_CONFIGURED and erp_instance is None
    ):
        held_by += (_raise_master_hold(draft, finding, terms, str(billing_period), chargeable),)
    if held_by:
        # The lines stay unbilled; the cap split is not kept either.
        undo = BookDraft(book, context)
        undo.exceptions = draft.exceptions
        undo.audit = draft.audit
        undo.events = draft.events
        return BillingOutcome(update=undo.freeze(), invoice=None, held_by=held_by)
    assert tax_rate is not None and erp_instance is not None

    seq = 1 + sum(1 for invoice in book.invoices.values() if invoice.period == str(billing_period))
    proposal_id = f"{book.contract_id}-{billing_period}-{seq}"
    retainer_line = _retainer_line(draft, latest, billed_time + expense_lines, proposal_id, end)
    invoice_lines = [line.invoiced_as(proposal_id) for line in chargeable]
    if retainer_line is not None:
        invoice_lines.append(retainer_line)
    invoice_lines.sort(
        key=lambda line: (
            LINE_ORDER[line.kind],
            line.first_date or line.line_date,
            line.ref,
            line.split_position,
        )
    )
    for line in invoice_lines:
        draft.put_line(line)

    currency = terms.currency
    subtotal = sum((line.amount for line in invoice_lines), ZERO)
    exemption = tax_exemption_for(master, end)
    if exemption is not None:
        tax_rate = ZERO
    tax = round_money(subtotal * tax_rate, currency)
    invoice = Invoice(
        proposal_id=proposal_id,
        contract_id=book.contract_id,
        period=str(billing_period),
        seq=seq,
        currency=currency,
        legal_entity=terms.legal_entity,
        erp_instance=erp_instance,
        tax_jurisdiction=terms.tax_jurisdiction,
        tax_rate=tax_rate,
        customer_id=terms.customer_id,
        contract_version=terms.version,
        lines=tuple(invoice_lines),
        subtotal=subtotal,
        tax=tax,
        total=subtotal + tax,
        correlation_id=context.correlation_id,
        run_id=run_id,
        estimated_tax=tax,
        tax_exemption_certificate=exemption.certificate_id if exemption is not None else None,
    )
    draft.invoices[proposal_id] = invoice
    for routing in ROUTING_HOLDS:
        draft.resolve_exception(routing, str(billing_period), "the invoice could be routed")
    draft.record(
        "invoice_proposed",
        proposal_id,
        contract_version=terms.version,
        rule=(
            f"tax {terms.tax_jurisdiction} exempt (certificate {exemption.certificate_id}); ERP {erp_instance}"
            if exemption is not None
            else f"tax {terms.tax_jurisdiction} at {tax_rate}; ERP {erp_instance}"
        ),
        detail=f"{len(invoice_lines)} line(s), total {invoice.total} {currency}",
    )
    return BillingOutcome(update=draft.freeze(), invoice=invoice)


def _unbilled(draft: BookDraft, kind: str, end: date) -> list[BillingLine]:
    return sorted(
        (
            line
            for line in draft.lines.values()
            if line.kind == kind
            and not draft.is_billed(line)
            and line.line_date <= end
            and line.ref not in draft.written_off_refs
        ),
        key=lambda line: (line.line_date, line.ref),
    )


def invoiced_time_total(draft: BookDraft) -> Decimal:
    return sum(
        (line.amount for line in draft.lines.values() if line.kind == "time" and draft.is_billed(line)),
        ZERO,
    )


def _apply_cap(
    draft: BookDraft, candidates: list[BillingLine], cap: Decimal | None
) -> tuple[list[BillingLine], list[BillingLine]]:
    """Bill time lines in cap order up to the cap; split the crossing line; hold the rest."""
    if cap is None:
        return candidates, []
    remaining = cap - invoiced_time_total(draft)
    billed: list[BillingLine] = []
    held: list[BillingLine] = []
    for line in candidates:
        if line.cap_released:
            billed.append(line)
            remaining -= line.amount
        elif held:
            held.append(line)
        elif line.amount <= remaining:
            billed.append(line)
            remaining -= line.amount
        elif remaining > 0 and line.rate:
            billed_part, rest = split_line_at(line, remaining)
            draft.drop_line(line.line_id)
            draft.put_line(billed_part)
            draft.put_line(rest)
            draft.record(
                "line_split_at_cap",
                line.line_id,
                contract_version=line.contract_version,
                rule=f"not-to-exceed cap {cap}",
                detail=(
                    f"billed {billed_part.quantity} h = {billed_part.amount}; held {rest.quantity} h = {rest.amount}"
                ),
            )
            billed.append(billed_part)
            held.append(rest)
            remaining = ZERO
        else:
            held.append(line)
    return billed, held


def split_line_at(line: BillingLine, amount: Decimal) -> tuple[BillingLine, BillingLine]:
    """Split a time line so that its first part bills exactly `amount`
    (quantity = round(amount / rate, 2)); the rest keeps the remaining hours."""
    assert line.rate is not None
    quantity = round_hours(amount / line.rate)
    first_days, rest_days = _allocate_days(line.days, quantity)
    first = line.stated(
        quantity=quantity,
        amount=amount,
        days=first_days,
        line_date=first_days[-1].date if first_days else line.line_date,
        rules=(*line.rules, "split at the not-to-exceed cap: billed part"),
        description=f"{line.description}; billed up to the not-to-exceed cap: {quantity} of {line.quantity} h",
    )
    rest_first_date = rest_days[0].date if rest_days else line.line_date
    rest = line.stated(
        line_id=time_line_id(line.ref, line.revision or 0, rest_first_date, line.split_position + 1),
        quantity=line.quantity - quantity,
        amount=line.amount - amount,
        days=rest_days,
        first_date=rest_first_date,
        split_position=line.split_position + 1,
        rules=(*line.rules, "split at the not-to-exceed cap: held part"),
        description=(
            f"{line.description}; held past the not-to-exceed cap: {line.quantity - quantity} of {line.quantity} h"
        ),
    )
    return first, rest


def _allocate_days(days: tuple[WorkDay, ...], quantity: Decimal) -> tuple[tuple[WorkDay, ...], tuple[WorkDay, ...]]:
    first: list[WorkDay] = []
    rest: list[WorkDay] = []
    left = quantity
    for day in days:
        if left <= 0:
            rest.append(day)
        elif day.hours <= left:
            first.append(day)
            left -= day.hours
        else:
            first.append(WorkDay(date=day.date, hours=left))
            rest.append(WorkDay(date=day.date, hours=day.hours - left))
            left = ZERO
    return tuple(first), tuple(rest)


def _track_cap(
    draft: BookDraft,
    held: list[BillingLine],
    latest: ContractVersion,
    period: str,
    chargeable_time: list[BillingLine],
) -> None:
    """One open `cap_exceeded` per contract, updated by each run; resolved once
    nothing is held any more."""
    open_exception = _open_cap_exception(draft)
    if not held:
        if open_exception is not None:
            # Resolved when what it held was billed; withdrawn when it went away
            # (its entries rejected or replaced before they could bill).
            billed_refs = {line.ref for line in chargeable_time if line.ref in open_exception.refs}
            state = ExceptionState.RESOLVED if billed_refs else ExceptionState.WITHDRAWN
            draft.exceptions[open_exception.exception_id] = replace(open_exception, state=state)
            why = (
                "held time billed after the cap was raised or released"
                if billed_refs
                else "the held time went away before it could bill"
            )
            draft.record(f"exception_{state.value}", open_exception.exception_id, rule="cap_exceeded", detail=why)
            draft.emit(
                "operations",
                "ExceptionResolved" if billed_refs else "ExceptionWithdrawn",
                {"exception_id": open_exception.exception_id, "type": "cap_exceeded", "state": state.value},
            )
        return
    if open_exception is not None:
        key = open_exception.exception_id.rsplit(":", 1)[1]
    else:
        count = sum(1 for e in draft.exceptions.values() if e.type is ExceptionType.CAP_EXCEEDED)
        key = str(count + 1)
    total_held = sum((line.amount for line in held), ZERO)
    draft.raise_exception(
        ExceptionType.CAP_EXCEEDED,
        key,
        refs=tuple(dict.fromkeys(line.ref for line in held)),
        amount=total_held,
        detail=f"not-to-exceed cap {latest.cap_amount} reached; {total_held} {latest.currency} of time held",
        contract_version=latest.version,
        period=period,
        line_ids=tuple(line.line_id for line in held),
    )


def _open_cap_exception(draft: BookDraft) -> BillingException | None:
    for exception in draft.exceptions.values():
        if exception.type is ExceptionType.CAP_EXCEEDED and exception.state is ExceptionState.OPEN:
            return exception
    return None


def _fee_lines(draft: BookDraft, timeline: VersionTimeline, period: Period) -> list[BillingLine]:
    """One line per (fee, version) segment of the month, prorated by days; a
    fee is billed at most once per contract and month."""
    billed_fees = {
        line.ref
        for line in draft.lines.values()
        if line.kind == "fee" and draft.is_billed(line) and line.line_id.split(":")[2] == str(period)
    }
    segments: dict[tuple[str, int], tuple[RecurringFee, ContractVersion, list[date]]] = {}
    day = period.first_day
    last_day = period.last_day
    while day <= last_day:
        version = timeline.applicable_on(day)
        if version is not None and timeline.in_term(version, day):
            for fee in version.recurring_fees:
                if fee.fee_id in billed_fees:
                    continue
                if fee.start_date <= day and (fee.end_date is None or day <= fee.end_date):
                    key = (fee.fee_id, version.version)
                    if key not in segments:
                        segments[key] = (fee, version, [])
                    segments[key][2].append(day)
        day += timedelta(days=1)
    lines = []
    for (fee_id, version_number), (fee, version, days) in segments.items():
        amount = round_money(fee.amount * len(days) / period.days, version.currency)
        whole = len(days) == period.days
        lines.append(
            BillingLine(
                line_id=f"fee:{fee_id}:{period}:v{version_number}",
                kind="fee",
                ref=fee_id,
                quantity=Decimal(len(days)),
                amount=amount,
                currency=version.currency,
                line_date=days[-1],
                rate=fee.amount,
                contract_version=version_number,
                first_date=days[0],
                correlation_id=draft.context.correlation_id,
                basis=StatedBasis(
                    rate_rule=f"recurring_fees[{fee_id}]",
                    rules=(
                        f"version {version_number} applies from {version.effective_date.isoformat()}",
                        "full month" if whole else f"prorated {len(days)}/{period.days} days",
                    ),
                    description=_fee_description(fee, version, period, days),
                ),
            )
        )
    return lines


def _fee_description(fee: RecurringFee, version: ContractVersion, period: Period, days: list[date]) -> str:
    """What a fee line is, on the line itself: the month, its days, the proration and the version."""
    span = f"{days[0].isoformat()}..{days[-1].isoformat()}"
    monthly = f"{fee.amount} {version.currency} a month"
    if len(days) == period.days:
        share = f"full month, {period.days} days ({span}): {monthly}"
    else:
        share = f"{len(days)} of {period.days} days ({span}): {monthly} x {len(days)}/{period.days} (prorated)"
    return f"{fee.description}, {period}: {share}, contract version {version.version}"


def _retainer_line(
    draft: BookDraft,
    latest: ContractVersion,
    charges: list[BillingLine],
    proposal_id: str,
    end: date,
) -> BillingLine | None:
    """Offset time and expense charges against the prepaid balance (never below zero)."""
    if not latest.retainer_amount:
        return None
    used = -sum(
        (line.amount for line in draft.lines.values() if line.kind == "retainer" and draft.is_billed(line)),
        ZERO,
    )
    remaining = latest.retainer_amount - used
    charged = sum((line.amount for line in charges), ZERO)
    offset = min(remaining, charged)
    if offset <= 0:
        return None
    return BillingLine(
        line_id=f"retainer:{proposal_id}",
        kind="retainer",
        ref="retainer",
        quantity=Decimal(1),
        amount=-offset,
        currency=latest.currency,
        line_date=end,
        contract_version=latest.version,
        correlation_id=draft.context.correlation_id,
        invoice_id=proposal_id,
        basis=StatedBasis(
            rate_rule="retainer_amount",
            rules=(f"retainer {latest.retainer_amount}: {remaining} remaining before this invoice",),
            description=(
                f"Retainer drawdown: {offset} {latest.currency} of the {latest.retainer_amount} prepaid "
                f"({remaining - offset} remaining)"
            ),
        ),
    )


def _mastered_erp_instance(master: MasterFacts | None, on: date) -> str | None:
    """The ERP instance of the contract's legal entity in the legal-entity master (enforced only)."""
    if master is None or not master.policy.enforced:
        return None
    entity = version_on(master.legal_entity, on)
    return entity.erp_instance if entity is not None and entity.active else None


def _raise_master_hold(
    draft: BookDraft, finding: MasterFinding, terms: ContractVersion, period: str, chargeable: list[BillingLine]
) -> str:
    return draft.raise_exception(
        MASTER_HOLDS[finding.kind],
        period,
        refs=(period,),
        amount=sum((line.amount for line in chargeable), ZERO),
        detail=finding.detail,
        contract_version=terms.version,
        period=period,
    ).exception_id


def _validate_routing(
    draft: BookDraft,
    terms: ContractVersion,
    tax_rate: Decimal | None,
    erp_instance: str | None,
    period: str,
    chargeable: list[BillingLine],
) -> tuple[str, ...]:
    at_stake = sum((line.amount for line in chargeable), ZERO)
    held = []
    if tax_rate is None:
        held.append(
            draft.raise_exception(
                ExceptionType.UNKNOWN_TAX_JURISDICTION,
                period,
                refs=(period,),
                amount=at_stake,
                detail=f"no tax rate for jurisdiction {terms.tax_jurisdiction!r}; invoice held",
                contract_version=terms.version,
                period=period,
            ).exception_id
        )
    if erp_instance is None:
        held.append(
            draft.raise_exception(
                ExceptionType.UNKNOWN_LEGAL_ENTITY,
                period,
                refs=(period,),
                amount=at_stake,
                detail=f"legal entity {terms.legal_entity!r} maps to no ERP instance; invoice held",
                contract_version=terms.version,
                period=period,
            ).exception_id
        )
    return tuple(held)
