"""Operating KPIs computed from the ledger: pure functions over books and timings.

One implementation for every reader: the books are the domain's (`ContractBook`) or plain
records with the same names (`kpi_records`; the local state's `billbridge report` builds them
from the stored rows, `billbridge.local.report_reads`). Standard library only, no domain model,
`dataclasses` or `typing` at import: that command must cost little more than an import
(decision 27).

Choices, so the figures can be read without the code:
- Unbilled: lines not on a counting invoice (held lines included), fees and the
  retainer offset excluded (as in the replay report); hours from time lines.
  Age = `as_of` - line date, in days; a line dated after `as_of` counts as 0-30.
  Grouped by the legal entity of the line's contract version and by currency.
- Approval to invoice, per billed time entry and invoice: approval is when the
  entry's approval reached the hub (its first `entry_recorded` audit record),
  invoicing is when the proposal was made (`invoice_proposed` audit record).
  When either time is unknown both fall back to dates: the line date, and the
  ERP posting date (else the last day of the invoice's period).
- Held work: approved work that has no line because an open exception holds
  it (`no_rate`, `invalid_cost_center`, `outside_term`, `unknown_milestone`,
  `currency_mismatch`), apart from unbilled lines: hours from the held days of
  time entries, amount = the exception's amount at stake in its own currency.
  Age = `as_of` - the date of the work (a time entry's last held day).
- Amounts in different currencies are never added: every total is per currency.
- Invoices requiring correction: rejected by the ERP, posted with a tax
  variance, or carrying an adjustment line.
- Money at risk: the absolute amount of open exceptions (a credit owed is at
  risk as much as a charge held), except `rate_mismatch` (informational: the
  line is billed at the contract's rate).
- Cap burn: time invoiced on counting invoices / the cap in force (the latest
  version's), as a percentage.
- Integration failures: dead-lettered messages per workflow, and
  `billing_failed` exceptions; resolution time = decision time - raised time,
  where both are known.
- Propagation: per contract and system (PSA project, ERP billing schedule), the
  state of the latest contract version sent (`pending`, `acknowledged`,
  `refused`, `failed`), and how many have stayed unacknowledged longer than
  `propagation_stale_after` (the alarm's age), counted from when the version
  was first sent, as of `now`.

`kpi_metrics` lists the same figures as CloudWatch metrics; the scheduled
publisher (`entrypoints/schedule/publish_kpis.py`) writes them (EMF).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from billbridge.reporting.statistics import median, percent, percentile

TYPE_CHECKING = False  # `typing` costs ~4 ms to import: its names serve annotations only
if TYPE_CHECKING:
    from typing import Any

    from billbridge.domain.downstream_commands import DownstreamCommand
    from billbridge.reporting.kpi_records import BookRecord, InvoiceRecord, LineRecord

ZERO = Decimal(0)
AGE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-30", 0, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("90+", 91, None),
)
NOT_AT_RISK = frozenset({"rate_mismatch"})
HOLDING_WORK = frozenset({"no_rate", "invalid_cost_center", "outside_term", "unknown_milestone", "currency_mismatch"})
"""Exception types (`ExceptionType` values) that hold approved work back from a line."""
UNBILLED_KINDS = frozenset({"time", "expense", "milestone", "adjustment"})
EXCEPTION_STATES: tuple[str, ...] = ("open", "approved", "written_off", "resolved", "withdrawn")
"""The values of `ExceptionState`, in order (a test keeps them equal)."""
PROPAGATION_STATES: tuple[str, ...] = ("pending", "acknowledged", "refused", "failed")
"""The values of `PropagationState`, in order (a test keeps them equal)."""
CLOSING_ACTIONS = frozenset(f"exception_{state}" for state in EXCEPTION_STATES if state != "open")
PROPAGATION_STALE_AFTER = timedelta(hours=24)
"""A contract version unacknowledged by a system for longer than this is stale (default)."""


class LedgerTimings:
    """When things happened, from the audit trail (`recorded_at` of its records).

    - `entry_recorded_at`: (contract id, entry id) -> first time the entry was recorded;
    - `invoice_proposed_at`, `exception_raised_at`: proposal or exception id -> when;
    - `exception_closed_at`: exception id -> its first closing record (approved, written
      off, resolved, withdrawn).
    """

    __slots__ = ("entry_recorded_at", "exception_closed_at", "exception_raised_at", "invoice_proposed_at")

    def __init__(
        self,
        entry_recorded_at: Mapping[tuple[str, str], datetime] | None = None,
        invoice_proposed_at: Mapping[str, datetime] | None = None,
        exception_raised_at: Mapping[str, datetime] | None = None,
        exception_closed_at: Mapping[str, datetime] | None = None,
    ) -> None:
        self.entry_recorded_at: Mapping[tuple[str, str], datetime] = entry_recorded_at or {}
        self.invoice_proposed_at: Mapping[str, datetime] = invoice_proposed_at or {}
        self.exception_raised_at: Mapping[str, datetime] = exception_raised_at or {}
        self.exception_closed_at: Mapping[str, datetime] = exception_closed_at or {}


class DeadLetterDepth:
    """A dead-letter queue's depth; `sent_at`: when each (sampled) message was dead-lettered,
    each an open integration failure."""

    __slots__ = ("error_types", "messages", "oldest_sent_at", "sent_at", "workflow")

    def __init__(
        self,
        workflow: str,
        messages: int,
        oldest_sent_at: datetime | None = None,
        error_types: Mapping[str, int] | None = None,
        sent_at: tuple[datetime, ...] = (),
    ) -> None:
        self.workflow = workflow
        self.messages = messages
        self.oldest_sent_at = oldest_sent_at
        self.error_types: Mapping[str, int] = error_types or {}
        self.sent_at = sent_at


def value_of(member: str) -> str:
    """What a record's enumerated field says: an enum member's value (the book's `ExceptionType.NO_RATE`
    is `"no_rate"`), a plain record's string as it is."""
    return str(getattr(member, "value", member))


def timings_from_audit(trails: Mapping[str, Sequence[Mapping[str, Any]]]) -> LedgerTimings:
    """`trails`: contract id -> its audit records (each with `recorded_at`), oldest first."""
    entries: dict[tuple[str, str], datetime] = {}
    proposals: dict[str, datetime] = {}
    raised: dict[str, datetime] = {}
    closed: dict[str, datetime] = {}
    for contract_id, records in trails.items():
        for record in records:
            action, ref = record.get("action"), str(record.get("ref", ""))
            found: dict[Any, datetime]
            key: Any = ref
            if action == "entry_recorded":
                found, key = entries, (contract_id, ref)
            elif action == "invoice_proposed":
                found = proposals
            elif action == "exception_raised":
                found = raised
            elif action in CLOSING_ACTIONS:
                found = closed
            else:
                continue
            if key not in found:  # the first record with a readable time
                at = _parse_time(str(record.get("recorded_at", "")))
                if at is not None:
                    found[key] = at
    return LedgerTimings(entries, proposals, raised, closed)


def invoiced_time_amount(book: BookRecord) -> Decimal:
    """Time billed on invoices that count (not rejected): what a not-to-exceed cap limits."""
    return sum(
        (
            line.amount
            for invoice in book.invoices.values()
            if invoice.counts
            for line in invoice.lines
            if line.kind == "time"
        ),
        ZERO,
    )


def age_bucket(line_date: date, as_of: date) -> str:
    age = max((as_of - line_date).days, 0)
    for name, low, high in AGE_BUCKETS:
        if age >= low and (high is None or age <= high):
            return name
    return AGE_BUCKETS[-1][0]


def compute_kpis(
    books: Iterable[BookRecord],
    *,
    as_of: date,
    timings: LedgerTimings | None = None,
    dead_letters: Sequence[DeadLetterDepth] = (),
    commands: Iterable[DownstreamCommand] = (),
    now: datetime | None = None,
    propagation_stale_after: timedelta = PROPAGATION_STALE_AFTER,
    propagations: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The KPIs of `books` (the domain's books, or plain records with their names: `kpi_records`).

    Propagation is read from `propagations` when given (`downstream_view.propagation_document`s
    with `stale` answered for `propagation_stale_after`, in `propagation_of`'s order), else
    worked out from `commands`."""
    known = sorted((b for b in books if b.is_known), key=lambda b: b.contract_id)
    timings = timings or LedgerTimings()
    moment = now or datetime.combine(as_of, time.max, tzinfo=UTC)
    return {
        "as_of": as_of.isoformat(),
        "contracts": len(known),
        "unbilled": _unbilled(known, as_of),
        "held_work": _held_work(known, as_of),
        "approval_to_invoice": _approval_to_invoice(known, timings),
        "corrections": _corrections(known),
        "exceptions": _exceptions(known),
        "cap_burn": _cap_burn(known),
        "integration_failures": _integration_failures(known, timings, dead_letters, as_of),
        "propagation": _propagation(
            _propagations(commands, moment, propagation_stale_after) if propagations is None else propagations,
            propagation_stale_after,
        ),
        "business": _business(known, timings, dead_letters, as_of=as_of, now=moment),
    }


def _business(
    books: Sequence[BookRecord],
    timings: LedgerTimings,
    dead_letters: Sequence[DeadLetterDepth],
    *,
    as_of: date,
    now: datetime,
) -> dict[str, Any]:
    """The seed's business KPIs (reporting/business_kpis.py)."""
    from billbridge.reporting.business_kpis import (
        ExceptionTimes,
        OpenDeadLetter,
        days_sales_outstanding,
        dispute_rate,
        failure_resolution,
        revenue_leakage,
    )

    open_letters = [
        OpenDeadLetter(depth.workflow, at)
        for depth in dead_letters
        for at in (depth.sent_at or ((depth.oldest_sent_at,) if depth.oldest_sent_at else ()))
    ]
    times = ExceptionTimes(timings.exception_raised_at, timings.exception_closed_at)
    return {
        "dso": days_sales_outstanding(books, as_of=as_of),
        "dispute_rate": dispute_rate(books),
        "failure_resolution": failure_resolution(books, times, open_letters, now=now),
        "revenue_leakage": revenue_leakage(books),
    }


def _propagations(commands: Iterable[DownstreamCommand], now: datetime, stale_after: timedelta) -> list[dict[str, Any]]:
    from billbridge.domain.downstream_commands import propagation_of
    from billbridge.reporting.downstream_view import propagation_document

    return [propagation_document(found, now, stale_after) for found in propagation_of(commands)]


def _propagation(propagations: Iterable[Mapping[str, Any]], stale_after: timedelta) -> dict[str, Any]:
    counts = dict.fromkeys(PROPAGATION_STATES, 0)
    by_system: dict[tuple[str, str], int] = {}
    stale = []
    for propagation in propagations:
        counts[propagation["state"]] += 1
        by_system[(propagation["system"], propagation["state"])] = (
            by_system.get((propagation["system"], propagation["state"]), 0) + 1
        )
        if propagation["stale"]:
            stale.append(
                {
                    "contract_id": propagation["contract_id"],
                    "system": propagation["system"],
                    "latest_version": propagation["latest_version"],
                    "state": propagation["state"],
                    "since": propagation["since"],
                    "acknowledged_version": propagation["acknowledged_version"],
                }
            )
    return {
        "stale_after_hours": Decimal(str(stale_after.total_seconds() / 3600)).normalize(),
        "counts": counts | {"stale": len(stale)},
        "by_system": [
            {"system": system, "state": state, "versions": versions}
            for (system, state), versions in sorted(by_system.items())
        ],
        "stale": stale,
    }


# --- sections ----------------------------------------------------------------------------------


def _is_unbilled(book: BookRecord, line: LineRecord) -> bool:
    if line.invoice_id is None:
        return True
    invoice = book.invoices.get(line.invoice_id)
    return invoice is not None and not invoice.counts


def _legal_entity(book: BookRecord, line: LineRecord) -> str:
    if line.contract_version is not None and line.contract_version in book.versions:
        return book.versions[line.contract_version].legal_entity
    latest = book.latest_version
    return latest.legal_entity if latest else "?"


def _unbilled(books: Sequence[BookRecord], as_of: date) -> dict[str, Any]:
    cells: dict[tuple[str, str, str], dict[str, Any]] = {}
    for book in books:
        for line in book.lines.values():
            if line.kind not in UNBILLED_KINDS or not _is_unbilled(book, line):
                continue
            key = (_legal_entity(book, line), line.currency, age_bucket(line.line_date, as_of))
            cell = cells.setdefault(key, {"hours": ZERO, "amount": ZERO, "lines": 0})
            cell["amount"] += line.amount
            cell["lines"] += 1
            if line.kind == "time":
                cell["hours"] += line.quantity
    return _aged(cells, totalled=("hours", "amount"))


def _held_work(books: Sequence[BookRecord], as_of: date) -> dict[str, Any]:
    cells: dict[tuple[str, str, str], dict[str, Any]] = {}
    items: list[dict[str, Any]] = []
    for book in books:
        for exception in sorted(book.exceptions.values(), key=lambda e: e.exception_id):
            if exception.type not in HOLDING_WORK or exception.state != "open":
                continue
            for ref in exception.refs:
                held = _held_item(book, exception.type, ref)
                if held is None:
                    continue
                kind, work_date, hours = held
                currency = exception.currency or _currency_of(book)
                entity = _entity_on(book, work_date)
                bucket = age_bucket(work_date, as_of)
                cell = cells.setdefault((entity, currency, bucket), {"hours": ZERO, "amount": ZERO, "items": 0})
                cell["hours"] += hours
                cell["amount"] += exception.amount
                cell["items"] += 1
                items.append(
                    {
                        "contract_id": book.contract_id,
                        "kind": kind,
                        "ref": ref,
                        "held_by": value_of(exception.type),
                        "work_date": work_date.isoformat(),
                        "hours": hours,
                        "amount": exception.amount,
                        "currency": currency,
                    }
                )
    return {**_aged(cells, totalled=("hours", "amount", "items")), "items": items}


def _aged(cells: dict[tuple[str, str, str], dict[str, Any]], *, totalled: Sequence[str]) -> dict[str, Any]:
    """Cells keyed by (legal entity, currency, age bucket) as rows in that order (buckets youngest
    first), with the `totalled` figures summed per currency (currencies are never added together)."""
    rows = [
        {"legal_entity": entity, "currency": currency, "age_bucket": bucket, **cell}
        for (entity, currency, bucket), cell in cells.items()
    ]
    order = {name: index for index, (name, _, _) in enumerate(AGE_BUCKETS)}
    rows.sort(key=lambda r: (r["legal_entity"], r["currency"], order[r["age_bucket"]]))
    totals: dict[str, dict[str, Any]] = {}
    for row in rows:
        total = totals.setdefault(row["currency"], dict.fromkeys(totalled, 0))
        for name in totalled:
            total[name] += row[name]
    return {
        "buckets": [name for name, _, _ in AGE_BUCKETS],
        "rows": rows,
        "totals": [{"currency": c, **t} for c, t in sorted(totals.items())],
    }


def _held_item(book: BookRecord, exception_type: str, ref: str) -> tuple[str, date, Decimal] | None:
    """(kind, date of the work, held hours) of what an open exception holds."""
    entry = book.entries.get(ref)
    if entry is not None and exception_type != "unknown_milestone":
        taken: dict[date, Decimal] = {}
        for line in book.lines.values():
            if line.kind == "time" and line.ref == ref:
                for day in line.days:
                    taken[day.date] = taken.get(day.date, ZERO) + day.hours
        held = [(day.date, day.hours - taken.get(day.date, ZERO)) for day in entry.days]
        held = [(on, hours) for on, hours in held if hours > 0]
        if not held:
            return None
        return "time", max(on for on, _ in held), sum((hours for _, hours in held), ZERO)
    expense = book.expenses.get(ref)
    if expense is not None:
        return "expense", expense.date, ZERO
    completion = book.completions.get(ref)
    if completion is not None:
        return "milestone", completion.completed_on, ZERO
    return None


def _entity_on(book: BookRecord, on: date) -> str:
    applicable = [v for v in book.versions.values() if v.effective_date <= on]
    chosen = max(applicable, key=lambda v: v.version) if applicable else book.latest_version
    return chosen.legal_entity if chosen else "?"


def _period_end(period: str) -> date:
    year, month = (int(part) for part in period.split("-"))
    return date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)


def _approval_to_invoice(books: Sequence[BookRecord], timings: LedgerTimings) -> dict[str, Any]:
    samples: list[dict[str, Any]] = []
    for book in books:
        for invoice in book.invoices.values():
            if not invoice.counts:
                continue
            first_line_of_entry: dict[str, LineRecord] = {}
            for line in invoice.lines:
                if line.kind == "time":
                    current = first_line_of_entry.get(line.ref)
                    if current is None or line.line_date < current.line_date:
                        first_line_of_entry[line.ref] = line
            for entry_id, line in sorted(first_line_of_entry.items()):
                samples.append(_approval_sample(book.contract_id, entry_id, line, invoice, timings))
    days = sorted(Decimal(sample["days"]) for sample in samples)
    return {
        "samples": len(samples),
        "median_days": median(days),
        "p90_days": percentile(days, 90),
        "from_audit_times": sum(1 for s in samples if s["basis"] == "audit"),
        "from_dates": sum(1 for s in samples if s["basis"] == "dates"),
        "histogram": _histogram(days),
        "entries": samples,
    }


def _approval_sample(
    contract_id: str, entry_id: str, line: LineRecord, invoice: InvoiceRecord, timings: LedgerTimings
) -> dict[str, Any]:
    approved = timings.entry_recorded_at.get((contract_id, entry_id))
    proposed = timings.invoice_proposed_at.get(invoice.proposal_id)
    if approved is not None and proposed is not None:
        elapsed = Decimal(str(round((proposed - approved).total_seconds() / 86400, 2)))
        basis = "audit"
    else:
        invoiced_on = invoice.posting_date or _period_end(invoice.period)
        elapsed = Decimal((invoiced_on - line.line_date).days)
        basis = "dates"
    return {
        "contract_id": contract_id,
        "entry_id": entry_id,
        "proposal_id": invoice.proposal_id,
        "days": max(elapsed, ZERO),
        "basis": basis,
    }


def _histogram(days: Sequence[Decimal]) -> list[dict[str, Any]]:
    edges = ((0, 7, "0-7"), (8, 14, "8-14"), (15, 30, "15-30"), (31, 60, "31-60"), (61, None, "61+"))
    counts = []
    for low, high, label in edges:
        count = sum(1 for d in days if d >= low and (high is None or d < high + 1))
        counts.append({"label": label, "count": count})
    return counts


def _corrections(books: Sequence[BookRecord]) -> dict[str, Any]:
    invoices = [invoice for book in books for invoice in book.invoices.values()]
    variance_numbers = {
        ref
        for book in books
        for exception in book.exceptions.values()
        if exception.type == "tax_variance"
        for ref in exception.refs
    }
    rows: list[dict[str, Any]] = []
    for invoice in sorted(invoices, key=lambda i: (i.contract_id, i.period, i.seq)):
        reasons: list[str] = []
        if not invoice.counts:
            reasons.append("rejected")
        if invoice.erp_invoice_number in variance_numbers or invoice.proposal_id in variance_numbers:
            reasons.append("tax_variance")
        if any(line.kind == "adjustment" for line in invoice.lines):
            reasons.append("adjustment")
        if reasons:
            rows.append(
                {
                    "proposal_id": invoice.proposal_id,
                    "contract_id": invoice.contract_id,
                    "currency": invoice.currency,
                    "total": invoice.total,
                    "reasons": reasons,
                }
            )
    by_reason = {
        reason: sum(1 for row in rows if reason in row["reasons"])
        for reason in ("rejected", "tax_variance", "adjustment")
    }
    return {
        "invoices": len(invoices),
        "requiring_correction": len(rows),
        "share_percent": percent(Decimal(len(rows)), Decimal(len(invoices))),
        "by_reason": by_reason,
        "rows": rows,
    }


def _currency_of(book: BookRecord) -> str:
    latest = book.latest_version
    return latest.currency if latest else "?"


def _exceptions(books: Sequence[BookRecord]) -> dict[str, Any]:
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    for book in books:
        for exception in book.exceptions.values():
            currency = exception.currency or _currency_of(book)
            cell = cells.setdefault(
                (value_of(exception.type), currency),
                {
                    "total": 0,
                    "open": 0,
                    "approved": 0,
                    "written_off": 0,
                    "resolved": 0,
                    "withdrawn": 0,
                    "money_at_risk": ZERO,
                },
            )
            cell["total"] += 1
            cell[value_of(exception.state)] += 1
            if exception.state == "open" and exception.type not in NOT_AT_RISK:
                cell["money_at_risk"] += abs(exception.amount)
    rows = [{"type": t, "currency": c, **cell} for (t, c), cell in sorted(cells.items())]
    at_risk: dict[str, Decimal] = {}
    for row in rows:
        at_risk[row["currency"]] = at_risk.get(row["currency"], ZERO) + row["money_at_risk"]
    return {
        "rows": rows,
        "open": sum(row["open"] for row in rows),
        "money_at_risk": [{"currency": c, "amount": a} for c, a in sorted(at_risk.items())],
    }


def _cap_burn(books: Sequence[BookRecord]) -> list[dict[str, Any]]:
    rows = []
    for book in books:
        latest = book.latest_version
        if latest is None or latest.cap_amount is None:
            continue
        invoiced = invoiced_time_amount(book)
        held = sum(
            (e.amount for e in book.exceptions.values() if e.type == "cap_exceeded" and e.state == "open"),
            ZERO,
        )
        rows.append(
            {
                "contract_id": book.contract_id,
                "currency": latest.currency,
                "cap": latest.cap_amount,
                "invoiced_time": invoiced,
                "remaining": max(latest.cap_amount - invoiced, ZERO),
                "held": held,
                "burn_percent": percent(invoiced, latest.cap_amount),
            }
        )
    return rows


def _integration_failures(
    books: Sequence[BookRecord],
    timings: LedgerTimings,
    dead_letters: Sequence[DeadLetterDepth],
    as_of: date,
) -> dict[str, Any]:
    failures = []
    hours: list[Decimal] = []
    for book in books:
        for exception in book.exceptions.values():
            if exception.type != "billing_failed":
                continue
            raised = timings.exception_raised_at.get(exception.exception_id)
            decided = _parse_time(exception.decision.decided_at) if exception.decision else None
            resolution = None
            if raised is not None and decided is not None:
                resolution = Decimal(str(round((decided - raised).total_seconds() / 3600, 2)))
                hours.append(resolution)
            failures.append(
                {
                    "exception_id": exception.exception_id,
                    "contract_id": exception.contract_id,
                    "period": exception.period,
                    "state": value_of(exception.state),
                    "resolution_hours": resolution,
                }
            )
    return {
        "dead_letters": [
            {
                "workflow": depth.workflow,
                "messages": depth.messages,
                "oldest_sent_at": depth.oldest_sent_at.isoformat() if depth.oldest_sent_at else None,
                "oldest_age_days": (
                    max((as_of - depth.oldest_sent_at.date()).days, 0) if depth.oldest_sent_at else None
                ),
                "error_types": dict(depth.error_types),
            }
            for depth in dead_letters
        ],
        "dead_lettered_messages": sum(depth.messages for depth in dead_letters),
        "billing_failed": failures,
        "billing_failed_open": sum(1 for f in failures if f["state"] == "open"),
        "median_resolution_hours": median(sorted(hours)),
    }


def _parse_time(text: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


# --- output ------------------------------------------------------------------------------------


def kpi_document(kpis: Any) -> Any:
    """JSON-ready: Decimals as decimal strings (money never becomes a float)."""
    if isinstance(kpis, Decimal):
        return format(kpis, "f")  # never scientific notation (`billbridge.domain.money.format_amount`)
    if isinstance(kpis, Mapping):
        return {str(k): kpi_document(v) for k, v in kpis.items()}
    if isinstance(kpis, list | tuple):
        return [kpi_document(v) for v in kpis]
    return kpis


class KpiMetric:
    """One figure of the KPIs as a CloudWatch metric: what the scheduled publisher writes.

    `unit` is a CloudWatch unit name (`Count`, `Percent`, `None`); `value` stays a
    Decimal (or int) here: it becomes a double only at the edge that writes it.
    """

    __slots__ = ("dimensions", "name", "unit", "value")

    def __init__(
        self, name: str, unit: str, value: Decimal | int, dimensions: tuple[tuple[str, str], ...] = ()
    ) -> None:
        self.name = name
        self.unit = unit
        self.value = value
        self.dimensions = dimensions

    def __repr__(self) -> str:
        return f"KpiMetric({self.name!r}, {self.unit!r}, {self.value!r}, {self.dimensions!r})"


COUNT = "Count"
PERCENT = "Percent"
NO_UNIT = "None"


def kpi_metrics(kpis: Mapping[str, Any]) -> list[KpiMetric]:
    """The KPIs as metrics (one per figure and dimension set); figures that are unknown are left out."""
    metrics: list[KpiMetric] = []

    def metric(name: str, unit: str, value: Decimal | int | None, **dimensions: str) -> None:
        if value is not None:
            metrics.append(KpiMetric(name, unit, value, tuple(dimensions.items())))

    for row in kpis["unbilled"]["rows"]:
        labels = _aged_labels(row)
        metric("UnbilledAmount", NO_UNIT, row["amount"], **labels)
        metric("UnbilledHours", COUNT, row["hours"], **labels)
    for row in kpis["held_work"]["rows"]:
        labels = _aged_labels(row)
        metric("HeldWorkAmount", NO_UNIT, row["amount"], **labels)
        metric("HeldWorkHours", COUNT, row["hours"], **labels)
    approval = kpis["approval_to_invoice"]
    metric("ApprovalToInvoiceMedianDays", COUNT, approval["median_days"])
    metric("ApprovalToInvoiceP90Days", COUNT, approval["p90_days"])
    metric("InvoicesRequiringCorrection", COUNT, kpis["corrections"]["requiring_correction"])
    for row in kpis["exceptions"]["rows"]:
        metric("ExceptionsOpen", COUNT, row["open"], ExceptionType=row["type"])
        metric(
            "MoneyAtRisk",
            NO_UNIT,
            row["money_at_risk"],
            ExceptionType=row["type"],
            Currency=row["currency"],
        )
    for row in kpis["cap_burn"]:
        metric("CapBurnPercent", PERCENT, row["burn_percent"], ContractId=row["contract_id"])
    failures = kpis["integration_failures"]
    for depth in failures["dead_letters"]:
        metric("DeadLetteredMessages", COUNT, depth["messages"], Workflow=depth["workflow"])
    metric("BillingFailuresOpen", COUNT, failures["billing_failed_open"])
    metric("BillingFailureMedianResolutionHours", COUNT, failures["median_resolution_hours"])
    propagation = kpis.get("propagation")
    if propagation is not None:
        for row in propagation["by_system"]:
            metric(
                "ContractVersionsPropagated",
                COUNT,
                row["versions"],
                System=row["system"],
                State=row["state"],
            )
        metric("StaleContractVersions", COUNT, propagation["counts"]["stale"])
    business = kpis.get("business")
    if business is not None:
        metric("DaysSalesOutstanding", COUNT, business["dso"]["days"])
        metric("DisputeRatePercent", PERCENT, business["dispute_rate"]["percent"])
        resolution = business["failure_resolution"]
        metric("FailureResolutionMedianHours", COUNT, resolution["median_hours"])
        metric("OldestOpenFailureHours", COUNT, resolution["oldest_open_hours"])
        for row in business["revenue_leakage"]["by_currency"]:
            metric("RevenueLeakageAmount", NO_UNIT, row["amount"], Currency=row["currency"])
    return metrics


def _aged_labels(row: Mapping[str, Any]) -> dict[str, str]:
    return {"LegalEntity": row["legal_entity"], "Currency": row["currency"], "AgeBucket": row["age_bucket"]}
