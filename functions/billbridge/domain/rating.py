"""Rating time entries, expenses and milestones against the contract.

Pure functions: the same entry and versions always give the same lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from operator import attrgetter
from typing import NamedTuple

from billbridge.domain.model import (
    BillingLine,
    ContractVersion,
    ExceptionType,
    Expense,
    MilestoneCompletion,
    RateCardBasis,
    StatedBasis,
    TimeEntry,
    WorkDay,
)
from billbridge.domain.money import ZERO, round_money
from billbridge.domain.versions import VersionTimeline

SPLIT_STRIDE = 1000
"""Split positions of an entry's groups are multiples of this; a cap split adds 1."""


@dataclass(frozen=True, slots=True)
class RatingIssue:
    """Why (part of) an input could not be billed, as an exception to raise."""

    type: ExceptionType
    amount: Decimal
    detail: str
    contract_version: int | None = None
    currency: str = ""
    """The currency of `amount` when it is not the contract's (an expense's own)."""


class RatingResult(NamedTuple):
    """The lines an input rates to and what held the rest."""

    lines: tuple[BillingLine, ...]
    issues: tuple[RatingIssue, ...]
    rate_mismatch: RatingIssue | None = None

    @property
    def held(self) -> bool:
        return not self.lines and bool(self.issues)


NOTHING = RatingResult(lines=(), issues=())
DAY_DATE = attrgetter("date")

Held = tuple[tuple[RatingIssue, ...], RatingIssue | None]
"""What held (part of) an entry and where the PSA's rate differed: (issues, rate mismatch)."""


@dataclass(slots=True)
class RatedEntries:
    """What a contract's entries rate to in one pass: every line, in the entries'
    order (an entry's lines together), where each entry's lines end, and what held
    or differed, only for the entries where something did (by position)."""

    entries: Sequence[TimeEntry]
    lines: list[BillingLine] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    """After entry `i`'s lines: `lines[ends[i - 1]:ends[i]]` are its lines."""
    held: dict[int, Held] = field(default_factory=dict)

    def result_of(self, index: int) -> RatingResult:
        """Entry `index`'s rating, as `rate_time_entry` gives it."""
        start = self.ends[index - 1] if index else 0
        issues, mismatch = self.held.get(index, NOTHING_HELD)
        return RatingResult(tuple(self.lines[start : self.ends[index]]), issues, mismatch)


NOTHING_HELD: Held = ((), None)


iso_date = lru_cache(maxsize=4096)(date.isoformat)
"""A date as `YYYY-MM-DD`, worked out once for the dates that recur (an entry's days are
a contract's working days): formatting a date costs more than the rest of a line id."""


def time_line_id(entry_id: str, revision: int, first_date: date, split_position: int) -> str:
    return f"time:{entry_id}:r{revision}:{iso_date(first_date)}:{split_position}"


def rate_time_entry(
    entry: TimeEntry,
    timeline: VersionTimeline,
    *,
    days: tuple[WorkDay, ...] | None = None,
    position_base: int = 0,
) -> RatingResult:
    """Rate an approved entry (or some of its days): group the days by (applicable
    version, calendar month), one line per group at that version's rate.

    The order of checks: a cost center outside the contract's list holds the
    whole entry (`invalid_cost_center`); then, per day, a day outside the term
    is held (`outside_term`), then a day without a rate in its version is held
    (`no_rate`). The other days are rated. Non-billable or rejected entries
    produce nothing.
    """
    lines: list[BillingLine] = []
    held = _rate_into(lines, entry, timeline, entry.days if days is None else days, position_base)
    if held is None:
        return RatingResult(tuple(lines), ()) if lines else NOTHING
    return RatingResult(tuple(lines), *held)


def rate_time_entries(entries: Sequence[TimeEntry], timeline: VersionTimeline) -> RatedEntries:
    """Rate a contract's entries (all their days) in one pass against its timeline,
    each exactly as `rate_time_entry` rates it, without a result per entry: the
    lines go into one list, and what held or differed is kept only where it did.
    For the many entries of one contract (an amendment's re-rate, a contract that
    arrives after its entries)."""
    rated = RatedEntries(entries)
    lines, ends, held = rated.lines, rated.ends, rated.held
    for index, entry in enumerate(entries):
        outcome = _rate_into(lines, entry, timeline, entry.days, 0)
        if outcome is not None:
            held[index] = outcome
        ends.append(len(lines))
    return rated


def _rate_into(
    lines: list[BillingLine],
    entry: TimeEntry,
    timeline: VersionTimeline,
    work_days: tuple[WorkDay, ...],
    position_base: int,
) -> Held | None:
    """Add the entry's lines to `lines` (see `rate_time_entry`); what held or
    differed, or None when nothing did.

    An entry of one day, as most are, whose version is in term, accepts its cost
    center and has a rate for it, makes one line at once; anything else takes the
    grouping pass (`_rate_in_groups`), which gives the same line for such a day."""
    if not entry.billable or entry.rejected:
        return None
    if len(work_days) == 1:
        on = work_days[0].date
        version = timeline.applicable_on(on)
        if (
            version is not None
            and (not version.cost_centers or entry.cost_center in version.cost_centers)
            and version.start_date <= on <= timeline.end_date_of(version)
        ):
            basis = rate_card_basis(timeline, version, entry)
            if basis is not None:
                line = _time_line(entry, basis, work_days, position_base)
                lines.append(line)
                mismatch = None if entry.bill_rate is None else _rate_mismatch(entry, entry.bill_rate, (line,))
                return None if mismatch is None else ((), mismatch)
    return _rate_in_groups(lines, entry, timeline, work_days, position_base)


def _rate_in_groups(
    lines: list[BillingLine],
    entry: TimeEntry,
    timeline: VersionTimeline,
    work_days: tuple[WorkDay, ...],
    position_base: int,
) -> Held | None:
    """Rate a billable entry's days in groups (see `_rate_into`).

    One pass over the days in date order. The days of one (version, month) group
    follow each other in that order (a later date never has an earlier version,
    and a version's term is one span of dates), so a group is a run of days."""
    ordered = work_days if len(work_days) < 2 else tuple(sorted(work_days, key=DAY_DATE))
    earlier: list[tuple[ContractVersion, int, int]] | None = None
    """The groups before the last one, as (version, first index, index after the last)."""
    outside: list[tuple[WorkDay, ContractVersion | None]] | None = None
    run_version: ContractVersion | None = None
    run_year = run_month = run_start = run_end = 0
    for index, day in enumerate(ordered):
        on = day.date
        version = timeline.applicable_on(on)
        if version is None:
            outside = outside or []
            outside.append((day, None))
        elif version.cost_centers and entry.cost_center not in version.cost_centers:
            return (_cost_center_issue(entry, work_days, version),), None
        elif not version.start_date <= on <= timeline.end_date_of(version):
            outside = outside or []
            outside.append((day, version))
        elif version is run_version and on.month == run_month and on.year == run_year and run_end == index:
            run_end = index + 1
        else:
            if run_version is not None:
                earlier = earlier or []
                earlier.append((run_version, run_start, run_end))
            run_version, run_year, run_month, run_start, run_end = version, on.year, on.month, index, index + 1

    first = len(lines)
    unrated: list[tuple[WorkDay, ContractVersion]] | None = None
    if run_version is None:
        pass
    elif earlier is None:  # one group, as most entries are: nothing to split
        basis = rate_card_basis(timeline, run_version, entry)
        if basis is None:
            unrated = [(day, run_version) for day in ordered[run_start:run_end]]
        else:
            lines.append(_time_line(entry, basis, ordered[run_start:run_end], position_base))
    else:
        earlier.append((run_version, run_start, run_end))
        priced = []
        for version, start, end in earlier:
            basis = rate_card_basis(timeline, version, entry)
            if basis is None:
                unrated = unrated or []
                unrated.extend((day, version) for day in ordered[start:end])
            else:
                priced.append((basis, ordered[start:end]))
        if len(priced) == 1:
            basis, group_days = priced[0]
            lines.append(_time_line(entry, basis, group_days, position_base))
        else:
            lines.extend(
                _time_line(entry, basis.split(index, len(priced)), group_days, position_base + index * SPLIT_STRIDE)
                for index, (basis, group_days) in enumerate(priced)
            )
    mismatch = None if entry.bill_rate is None else _rate_mismatch(entry, entry.bill_rate, lines[first:])
    if outside is None and unrated is None and mismatch is None:
        return None
    issues = _held_issues(entry, outside or [], unrated or []) if outside or unrated else ()
    return issues, mismatch


def _held_issues(
    entry: TimeEntry,
    outside: list[tuple[WorkDay, ContractVersion | None]],
    unrated: list[tuple[WorkDay, ContractVersion]],
) -> tuple[RatingIssue, ...]:
    """Days outside the term, then days without a rate: one issue for each kind."""
    issues: list[RatingIssue] = []
    if outside:
        issues.append(_outside_term_issue(entry, outside))
    if unrated:
        issues.append(_no_rate_issue(entry, unrated))
    return tuple(issues)


def _time_line(entry: TimeEntry, basis: RateCardBasis, days: tuple[WorkDay, ...], position: int) -> BillingLine:
    """One line for one group of days: their hours at the rate-card line's rate.

    Built positionally, in the order of `BillingLine`'s fields (named on the right):
    with keywords, matching sixteen names cost more than the rest of the line."""
    first_date = days[0].date
    quantity = ZERO
    for day in days:
        quantity += day.hours
    provenance = entry.provenance
    return BillingLine(
        time_line_id(entry.entry_id, entry.revision, first_date, position),  # line_id
        "time",  # kind
        entry.entry_id,  # ref
        quantity,  # quantity
        round_money(quantity * basis.rate, basis.currency),  # amount
        basis.currency,  # currency
        days[-1].date,  # line_date
        basis.rate,  # rate
        basis.contract_version,  # contract_version
        first_date,  # first_date
        days,  # days
        position,  # split_position
        entry.revision,  # revision
        (provenance.source_ref,) if provenance else (),  # source_refs
        provenance.correlation_id if provenance else "",  # correlation_id
        None,  # invoice_id
        False,  # cap_released
        basis,  # basis
    )


def rate_card_basis(timeline: VersionTimeline, version: ContractVersion, entry: TimeEntry) -> RateCardBasis | None:
    """What the version's rate card says for the entry's resource and role (None:
    no rate). The same for every entry of that resource and role (and cost
    center, where the version lists them): worked out once per timeline."""
    cost_center = entry.cost_center if version.cost_centers else None
    key = (version.version, entry.resource_id, entry.role, cost_center)
    known = timeline.rate_card_bases
    try:
        return known[key]
    except KeyError:
        rate_line = version.rate_for(entry.resource_id, entry.role)
        basis = known[key] = (
            None
            if rate_line is None
            else RateCardBasis(
                contract_version=version.version,
                effective_date=version.effective_date,
                currency=version.currency,
                rate_card_key=rate_line.label,
                rate=rate_line.rate,
                who=(" ".join(part for part in (entry.role, entry.resource_id) if part) or "time").strip(),
                cost_center=cost_center,
            )
        )
    return basis


def _rate_mismatch(entry: TimeEntry, bill_rate: Decimal, lines: Sequence[BillingLine]) -> RatingIssue | None:
    """The PSA's rate differs from the contract's: billed at the contract's, the
    difference raised."""
    if all(line.rate == bill_rate for line in lines):
        return None
    difference = ZERO
    for line in lines:
        if line.rate != bill_rate:
            psa_amount = round_money(line.quantity * bill_rate, line.currency)
            difference += abs(line.amount - psa_amount)
    return RatingIssue(
        type=ExceptionType.RATE_MISMATCH,
        amount=difference,
        detail=(
            f"PSA rate {bill_rate} differs from contract rate(s) "
            f"{sorted({str(line.rate) for line in lines})}; billed at the contract's rate"
        ),
        contract_version=lines[0].contract_version,
    )


def _cost_center_issue(entry: TimeEntry, days: tuple[WorkDay, ...], version: ContractVersion) -> RatingIssue:
    return RatingIssue(
        type=ExceptionType.INVALID_COST_CENTER,
        amount=_amount_at_stake(entry, days, version),
        detail=(
            f"cost center {entry.cost_center!r} is not one of "
            f"{list(version.cost_centers)} (contract version {version.version})"
        ),
        contract_version=version.version,
    )


def _amount_at_stake(
    entry: TimeEntry, days: tuple[WorkDay, ...] | list[WorkDay], version: ContractVersion | None
) -> Decimal:
    hours = sum((d.hours for d in days), ZERO)
    if version is not None:
        rate_line = version.rate_for(entry.resource_id, entry.role)
        if rate_line is not None:
            return round_money(hours * rate_line.rate, version.currency)
    if entry.bill_rate is not None and version is not None:
        return round_money(hours * entry.bill_rate, version.currency)
    if entry.bill_rate is not None:
        return hours * entry.bill_rate
    return ZERO


def _held_at_rates(entry: TimeEntry, held: list[tuple[WorkDay, ContractVersion | None]]) -> Decimal:
    """The held hours at the rate that would apply to each day (rounded per
    version, like lines); a day no version would price adds 0."""
    hours_by_version: dict[int, tuple[ContractVersion, Decimal]] = {}
    for day, version in held:
        if version is None or version.rate_for(entry.resource_id, entry.role) is None:
            continue
        _, hours = hours_by_version.get(version.version, (version, ZERO))
        hours_by_version[version.version] = (version, hours + day.hours)
    total = ZERO
    for version, hours in hours_by_version.values():
        rate_line = version.rate_for(entry.resource_id, entry.role)
        assert rate_line is not None
        total += round_money(hours * rate_line.rate, version.currency)
    return total


def _outside_term_issue(entry: TimeEntry, outside: list[tuple[WorkDay, ContractVersion | None]]) -> RatingIssue:
    dates = ", ".join(day.date.isoformat() for day, _ in outside)
    hours = sum((day.hours for day, _ in outside), ZERO)
    versions = [version for _, version in outside if version is not None]
    return RatingIssue(
        type=ExceptionType.OUTSIDE_TERM,
        amount=_held_at_rates(entry, outside),
        detail=f"{hours} h dated outside the contract term held: {dates}",
        contract_version=versions[0].version if versions else None,
    )


def _no_rate_issue(entry: TimeEntry, unrated: list[tuple[WorkDay, ContractVersion]]) -> RatingIssue:
    dates = ", ".join(day.date.isoformat() for day, _ in unrated)
    hours = sum((day.hours for day, _ in unrated), ZERO)
    numbers = sorted({version.version for _, version in unrated})
    version = unrated[0][1]
    return RatingIssue(
        type=ExceptionType.NO_RATE,
        amount=_amount_at_stake(entry, [day for day, _ in unrated], None if entry.bill_rate is None else version),
        detail=(
            f"no rate for resource {entry.resource_id!r} or role {entry.role!r} in contract "
            f"version(s) {', '.join(str(n) for n in numbers)}: {hours} h held ({dates})"
        ),
        contract_version=numbers[-1],
    )


def rate_expense(expense: Expense, timeline: VersionTimeline) -> RatingResult:
    """The order of checks: not billable (`billable: false`, its category not in
    the policy, or no policy) records it and raises nothing, whatever its date;
    then outside the term (`outside_term`); then another currency than the
    contract's (`currency_mismatch`). Billed at amount x (1 + markup)."""
    if not expense.billable:
        return NOTHING
    version = timeline.applicable_on(expense.date)
    policy_version = version or timeline.first_version()
    policy = policy_version.expense_policy if policy_version is not None else None
    if policy is None or expense.category not in policy.billable_categories:
        return NOTHING
    if version is None or not timeline.in_term(version, expense.date):
        return RatingResult(
            lines=(),
            issues=(
                RatingIssue(
                    type=ExceptionType.OUTSIDE_TERM,
                    amount=expense.amount,
                    detail=f"expense dated {expense.date.isoformat()} is outside the contract term",
                    contract_version=version.version if version else None,
                    currency=expense.currency,
                ),
            ),
        )
    policy = version.expense_policy
    assert policy is not None
    if expense.currency != version.currency:
        return RatingResult(
            lines=(),
            issues=(
                RatingIssue(
                    type=ExceptionType.CURRENCY_MISMATCH,
                    amount=expense.amount,
                    detail=f"expense of {expense.amount} {expense.currency}, contract in {version.currency}",
                    contract_version=version.version,
                    currency=expense.currency,
                ),
            ),
        )
    amount = round_money(expense.amount * (1 + policy.markup_pct), version.currency)
    provenance = expense.provenance
    line = BillingLine(
        line_id=f"expense:{expense.expense_id}",
        kind="expense",
        ref=expense.expense_id,
        quantity=Decimal(1),
        amount=amount,
        currency=version.currency,
        line_date=expense.date,
        rate=expense.amount,
        contract_version=version.version,
        first_date=expense.date,
        source_refs=(provenance.source_ref,) if provenance else (),
        correlation_id=provenance.correlation_id if provenance else "",
        basis=StatedBasis(
            rate_rule=f"expense_policy[markup_pct={policy.markup_pct}]",
            rules=(
                f"version {version.version} applies from {version.effective_date.isoformat()}",
                f"category {expense.category} billable",
                f"markup {policy.markup_pct}",
            ),
            description=(
                f"Expense: {expense.category} on {expense.date.isoformat()}, {expense.amount} {expense.currency} "
                f"+ markup {policy.markup_pct} (contract version {version.version})"
            ),
        ),
    )
    return RatingResult(lines=(line,), issues=())


def rate_milestone(completion: MilestoneCompletion, timeline: VersionTimeline) -> RatingResult:
    """Bills the milestone amount of the version applicable on the completion
    date. The order of checks: the milestone is not in that version
    (`unknown_milestone`); then `completed_on` is outside the term (`outside_term`)."""
    on = completion.completed_on
    version = timeline.applicable_on(on)
    milestone = version.milestone(completion.milestone_id) if version is not None else None
    if version is not None and milestone is None:
        return RatingResult(
            lines=(),
            issues=(
                RatingIssue(
                    type=ExceptionType.UNKNOWN_MILESTONE,
                    amount=ZERO,
                    detail=f"milestone {completion.milestone_id!r} is not in contract version {version.version}",
                    contract_version=version.version,
                ),
            ),
        )
    if version is None or milestone is None or not timeline.in_term(version, on):
        return RatingResult(
            lines=(),
            issues=(
                RatingIssue(
                    type=ExceptionType.OUTSIDE_TERM,
                    amount=round_money(milestone.amount, version.currency) if version and milestone else ZERO,
                    detail=f"milestone {completion.milestone_id} completed {on.isoformat()} outside the term",
                    contract_version=version.version if version else None,
                ),
            ),
        )
    provenance = completion.provenance
    line = BillingLine(
        line_id=f"milestone:{completion.milestone_id}",
        kind="milestone",
        ref=completion.milestone_id,
        quantity=Decimal(1),
        amount=round_money(milestone.amount, version.currency),
        currency=version.currency,
        line_date=completion.completed_on,
        rate=milestone.amount,
        contract_version=version.version,
        first_date=completion.completed_on,
        source_refs=(provenance.source_ref,) if provenance else (),
        correlation_id=provenance.correlation_id if provenance else "",
        basis=StatedBasis(
            rate_rule=f"milestones[{milestone.milestone_id}]",
            rules=(
                f"version {version.version} applies from {version.effective_date.isoformat()}",
                "milestone billed once",
            ),
            description=f"Milestone {milestone.milestone_id} {milestone.name} (contract version {version.version})",
        ),
    )
    return RatingResult(lines=(line,), issues=())
