"""Segregation of duties on exception decisions (four eyes above an amount).

The rule: whoever raised an exception cannot also decide it when the amount
at stake is at or above the policy's threshold for the amount's currency
(`SegregationPolicy.thresholds`, e.g. `{"JPY": 150000}`; any other currency:
`SegregationPolicy.threshold`, an amount in that currency). It covers approvals that
bill an adjustment (`retroactive_change`, `invoiced_entry_changed`) and every
write-off (money given up is decided by two people as money billed is).

Who "raised" it:
- an exception raised by a person (`raised_by` is not a system identity) was
  raised by that person;
- a system-raised exception (`raised_by` is `billbridge`: a retroactive rate
  change, an invoiced entry changed, a cap exceeded) has no human raiser until
  someone asks for a decision: whoever *requests* the approval or write-off
  (`decision_requested` in the audit trail, see `decision_request`) is its
  raiser. A system-raised exception that nobody requested may be decided by
  one approver: the second pair of eyes is then the rule that raised it, and
  the approver's authority comes from the `ApproverRole` (IAM) or the CLI's
  `--actor` on the local stack.

Above the threshold the actor must also be a named person: the system
identity and placeholder names cannot decide. Every decision, request and
refusal lands in the contract's audit trail. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from billbridge.domain.book_draft import RuleContext
from billbridge.domain.model import AuditRecord, BillingException, BookUpdate, ContractBook

DEFAULT_THRESHOLD = Decimal("1000.00")
SYSTEM_ACTORS = frozenset({"billbridge", "system"})
PLACEHOLDER_ACTORS = frozenset({"", "operator", "unknown", "anonymous", "root"})
REQUEST_ACTION = "decision_requested"
REFUSAL_ACTION = "decision_refused"
OPERATOR_REF_PREFIX = "operator:"
"""Audit `source_ref` of an operator's action: `operator:<identity>` (as DecideException writes it)."""


class SegregationOfDutiesError(PermissionError):
    """The actor may not take this decision (same identity as the raiser, or no named actor)."""


@dataclass(frozen=True, slots=True)
class SegregationPolicy:
    threshold: Decimal = DEFAULT_THRESHOLD
    """Absolute exception amounts at or above this need a second person (currencies not in `thresholds`)."""
    thresholds: Mapping[str, Decimal] = field(default_factory=dict)
    """A threshold per currency code, where an amount of the default means something else (JPY, BHD)."""
    system_actors: frozenset[str] = field(default=SYSTEM_ACTORS)
    placeholder_actors: frozenset[str] = field(default=PLACEHOLDER_ACTORS)

    def __post_init__(self) -> None:
        if self.threshold < 0 or any(value < 0 for value in self.thresholds.values()):
            raise ValueError("the segregation threshold is an amount, at least 0")

    def threshold_for(self, currency: str) -> Decimal:
        return self.thresholds.get(currency, self.threshold)

    def requires_second_person(self, exception: BillingException) -> bool:
        return abs(exception.amount) >= self.threshold_for(exception.currency)

    def is_person(self, actor: str | None) -> bool:
        name = _identity(actor)
        return bool(name) and name not in self.system_actors and name not in self.placeholder_actors


def segregation_policy_from(default: str | None, per_currency: str | None) -> SegregationPolicy:
    """The policy from its two settings: a default amount (`1000.00`) and per-currency amounts
    (`JPY=150000,BHD=400`). A malformed setting raises ValueError naming it."""
    try:
        threshold = Decimal(default) if default else DEFAULT_THRESHOLD
        thresholds: dict[str, Decimal] = {}
        for part in (per_currency or "").split(","):
            if part.strip():
                code, _, amount = part.partition("=")
                thresholds[code.strip().upper()] = Decimal(amount.strip())
    except ArithmeticError as bad:
        raise ValueError(
            f"segregation thresholds: not amounts: default {default!r}, per currency {per_currency!r}"
        ) from bad
    if not threshold.is_finite() or not all(value.is_finite() for value in thresholds.values()):
        raise ValueError("segregation thresholds must be finite amounts")
    return SegregationPolicy(threshold=threshold, thresholds=thresholds)


def _identity(actor: str | None) -> str:
    """Identities compare case-insensitively; an IAM user's ARN counts as its user name, an
    assumed-role ARN as its session name (the person), the account root's as `root`."""
    name = (actor or "").strip().lower()
    if name.startswith("arn:"):
        name = name.rsplit("/", 1)[-1] if "/" in name else name.rsplit(":", 1)[-1]
    return name


def raiser_of(exception: BillingException, policy: SegregationPolicy, requested_by: str | None = None) -> str | None:
    """The person who raised the exception, or requested its decision when the system raised it."""
    if policy.is_person(exception.raised_by):
        return exception.raised_by
    if requested_by is not None and policy.is_person(requested_by):
        return requested_by
    return None


def check_segregation(
    exception: BillingException,
    actor: str,
    policy: SegregationPolicy,
    *,
    requested_by: str | None = None,
) -> None:
    """Raise SegregationOfDutiesError when `actor` may not decide `exception` under `policy`."""
    if not policy.requires_second_person(exception):
        return
    if not policy.is_person(actor):
        raise SegregationOfDutiesError(
            f"{exception.exception_id}: deciding {exception.amount} needs a named actor (--actor), not {actor!r}"
        )
    raiser = raiser_of(exception, policy, requested_by)
    if raiser is not None and _identity(raiser) == _identity(actor):
        raise SegregationOfDutiesError(
            f"{exception.exception_id}: {actor} raised or requested this decision of {exception.amount}; "
            f"at or above {policy.threshold_for(exception.currency)} {exception.currency}".rstrip()
            + " another person must decide it"
        )


def decision_request(
    book: ContractBook, exception_id: str, *, requester: str, reason: str, context: RuleContext
) -> BookUpdate:
    """Record that `requester` asks for a decision on a system-raised exception (audit only)."""
    exception = book.exceptions[exception_id]
    record = AuditRecord(
        action=REQUEST_ACTION,
        ref=exception_id,
        correlation_id=exception.correlation_id or context.correlation_id,
        source_ref=f"{OPERATOR_REF_PREFIX}{requester}",
        contract_version=exception.contract_version,
        rule=exception.type.value,
        detail=f"by {requester}: {reason}",
    )
    return BookUpdate(book=book, audit=(record,), events=(), changed=True)


def requester_from_audit(records: Iterable[Mapping[str, Any]], exception_id: str) -> str | None:
    """The latest `decision_requested` of an exception in an audit trail (ledger.audit_of_contract)."""
    requester: str | None = None
    for record in records:
        if record.get("action") == REQUEST_ACTION and record.get("ref") == exception_id:
            source_ref = str(record.get("source_ref", ""))
            if source_ref.startswith(OPERATOR_REF_PREFIX):
                requester = source_ref.removeprefix(OPERATOR_REF_PREFIX)
    return requester


def refused_decision(
    book: ContractBook,
    exception_id: str,
    *,
    actor: str,
    error: SegregationOfDutiesError,
    context: RuleContext,
) -> BookUpdate:
    """An audit record of a refused decision; the book itself is unchanged."""
    exception = book.exceptions[exception_id]
    record = AuditRecord(
        action=REFUSAL_ACTION,
        ref=exception_id,
        correlation_id=exception.correlation_id or context.correlation_id,
        source_ref=f"{OPERATOR_REF_PREFIX}{actor}",
        contract_version=exception.contract_version,
        rule="segregation_of_duties",
        detail=f"by {actor}: {error}",
    )
    return BookUpdate(book=book, audit=(record,), events=(), changed=True)
