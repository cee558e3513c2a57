"""Rating time entries, expenses and milestones against the contract.

Pure functions: the same entry and versions always give the same lines.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from datetime import date
from decimal import Decimal

from billbridge.domain.model import (
    BillingLine,
    ContractVersion,
    ExceptionType,
    Expense,
    MilestoneCompletion,
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


@dataclass(frozen=True, slots=True)
class RatingResult:
    lines: tuple[BillingLine, ...]
    issues: tuple[RatingIssue, ...]
    rate_mismatch: RatingIssue | None = None

    @property
    def held(self) -> bool:
        return not self.lines and bool(self.issues)


NOTHING = RatingResult(lines=(), issues=())


def time_line_id(entry_id: str, revision: int, first_date: date, split_position: int) -> str:
    return f"time:{entry_id}:r{revision}:{first_date.isoformat()}:{split_position}"


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
    if not entry.billable or entry.rejected:
        return NOTHING
    work_days = entry.days if days is None else days
    ordered = work_days if len(work_days) < 2 else sorted(work_days, key=_day_key)

    applicable_on = timeline.applicable_on
    end_date_of = timeline.end_date_of
    for day in ordered:
        version = applicable_on(day.date)
        if version is not None and version.cost_centers and entry.cost_center not in version.cost_centers:
            return RatingResult(
                lines=(),
                issues=(
                    RatingIssue(
                        type=ExceptionType.INVALID_COST_CENTER,
                        amount=_amount_at_stake(entry, work_days, version),
                        detail=(
                            f"cost center {entry.cost_center!r} is not one of "
                            f"{list(version.cost_centers)} (contract version {version.version})"
                        ),
                        contract_version=version.version,
                    ),
                ),
            )

    groups: dict[tuple[int, int, int], list[WorkDay]] = {}
    group_versions: dict[tuple[int, int, int], ContractVersion] = {}
    group_pricing: dict[tuple[int, int, int], _Pricing] = {}
    outside: list[tuple[WorkDay, ContractVersion | None]] = []
    unrated: list[tuple[WorkDay, ContractVersion]] = []
    for day in ordered:
        on = day.date
        version = applicable_on(on)
        if version is None or not version.start_date <= on <= end_date_of(version):
            outside.append((day, version))
            continue
        pricing = _pricing(timeline, version, entry.resource_id, entry.role)
        if pricing is None:
            unrated.append((day, version))
            continue
        key = (version.version, on.year, on.month)
        group = groups.get(key)
        if group is None:
            groups[key] = [day]
            group_versions[key] = version
            group_pricing[key] = pricing
        else:
            group.append(day)

    issues: list[RatingIssue] = []
    if outside:
        issues.append(_outside_term_issue(entry, outside))
    if unrated:
        issues.append(_no_rate_issue(entry, unrated))
    priced = [(group_versions[key], group_days, group_pricing[key]) for key, group_days in groups.items()]

    lines: list[BillingLine] = []
    group_count = len(priced)
    provenance = entry.provenance
    source_refs = (provenance.source_ref,) if provenance else ()
    correlation_id = provenance.correlation_id if provenance else ""
    who = " ".join(part for part in (entry.role, entry.resource_id) if part) or "time"
    for index, (version, group_days, pricing) in enumerate(priced):
        if len(group_days) == 1:
            quantity = ZERO + group_days[0].hours
            first_date = last_date = group_days[0].date
            first_iso = last_iso = first_date.isoformat()
        else:
            quantity = sum((d.hours for d in group_days), ZERO)
            first_date = group_days[0].date
            last_date = group_days[-1].date
            first_iso = first_date.isoformat()
            last_iso = last_date.isoformat()
        rate = pricing.rate
        amount = round_money(quantity * rate, version.currency)
        position = position_base + index * SPLIT_STRIDE
        if group_count > 1:
            rules: tuple[str, ...] = (
                *pricing.rules,
                f"split {index + 1} of {group_count} by contract version and month",
            )
        else:
            rules = pricing.rules
        if version.cost_centers:
            rules = (*rules, f"cost center {entry.cost_center} allowed")
        lines.append(
            new_line(
                line_id=f"time:{entry.entry_id}:r{entry.revision}:{first_iso}:{position}",
                kind="time",
                ref=entry.entry_id,
                quantity=quantity,
                amount=amount,
                currency=version.currency,
                line_date=last_date,
                rate=rate,
                contract_version=version.version,
                first_date=first_date,
                days=tuple(group_days),
                split_position=position,
                revision=entry.revision,
                rate_rule=pricing.rate_rule,
                rules=rules,
                source_refs=source_refs,
                correlation_id=correlation_id,
                description=(
                    f"Time: {who.strip()}, {quantity} h on {first_iso}..{last_iso} at {rate} {version.currency}/h "
                    f"(contract version {version.version})"
                ).replace(" ,", ","),
            )
        )

    mismatch = None
    if entry.bill_rate is not None and lines:
        difference = ZERO
        for line in lines:
            if line.rate != entry.bill_rate:
                psa_amount = round_money(line.quantity * entry.bill_rate, line.currency)
                difference += abs(line.amount - psa_amount)
        if any(line.rate != entry.bill_rate for line in lines):
            mismatch = RatingIssue(
                type=ExceptionType.RATE_MISMATCH,
                amount=difference,
                detail=(
                    f"PSA rate {entry.bill_rate} differs from contract rate(s) "
                    f"{sorted({str(line.rate) for line in lines})}; billed at the contract's rate"
                ),
                contract_version=lines[0].contract_version,
            )
    return RatingResult(lines=tuple(lines), issues=tuple(issues), rate_mismatch=mismatch)


_LINE_SLOTS = tuple(
    (field.name, getattr(BillingLine, field.name).__set__, field.default) for field in fields(BillingLine)
)


def new_line(**values: object) -> BillingLine:
    """`BillingLine(**values)`, built through the slot descriptors.

    The generated `__init__` of a frozen dataclass sets each of the line's
    twenty-odd fields through `object.__setattr__`, which is most of the cost of
    rating an entry; setting the slots directly gives the same frozen value
    several times faster. A field without a default must be given.
    """
    line = object.__new__(BillingLine)
    for name, set_slot, default in _LINE_SLOTS:
        value = values.get(name, default)
        if value is MISSING:
            raise TypeError(f"new_line() missing required field {name!r}")
        set_slot(line, value)
    return line


def _day_key(day: WorkDay) -> date:
    return day.date


@dataclass(frozen=True, slots=True)
class _Pricing:
    """What a version's rate card says for a (resource, role), with its rule texts."""

    rate: Decimal
    rate_rule: str
    rules: tuple[str, ...]


def _pricing(
    timeline: VersionTimeline, version: ContractVersion, resource_id: str | None, role: str | None
) -> _Pricing | None:
    """The rate-card match, memoised on the timeline (its versions are unique by number)."""
    key = ("pricing", version.version, resource_id, role)
    memo = timeline.memo
    if key in memo:
        return memo[key]  # type: ignore[return-value]
    rate_line = version.rate_for(resource_id, role)
    pricing = None
    if rate_line is not None:
        label = rate_line.label
        pricing = _Pricing(
            rate=rate_line.rate,
            rate_rule=f"rate_card[{label}]",
            rules=(
                f"version {version.version} applies from {version.effective_date.isoformat()}",
                f"rate card {label} at {rate_line.rate}",
            ),
        )
    memo[key] = pricing
    return pricing


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
        rate_rule=f"expense_policy[markup_pct={policy.markup_pct}]",
        rules=(
            f"version {version.version} applies from {version.effective_date.isoformat()}",
            f"category {expense.category} billable",
            f"markup {policy.markup_pct}",
        ),
        source_refs=(provenance.source_ref,) if provenance else (),
        correlation_id=provenance.correlation_id if provenance else "",
        description=(
            f"Expense: {expense.category} on {expense.date.isoformat()}, {expense.amount} {expense.currency} "
            f"+ markup {policy.markup_pct} (contract version {version.version})"
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
        rate_rule=f"milestones[{milestone.milestone_id}]",
        rules=(
            f"version {version.version} applies from {version.effective_date.isoformat()}",
            "milestone billed once",
        ),
        source_refs=(provenance.source_ref,) if provenance else (),
        correlation_id=provenance.correlation_id if provenance else "",
        description=f"Milestone {milestone.milestone_id} {milestone.name} (contract version {version.version})",
    )
    return RatingResult(lines=(line,), issues=())
