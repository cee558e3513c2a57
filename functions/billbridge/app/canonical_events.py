"""The canonical events of the webhook contract (docs/spec/events.md), as pydantic models.

The envelope is CloudEvents 1.0 (structured JSON); each event type has a `data`
model. Money and hours are `Decimal` parsed from JSON strings, never from JSON
numbers; dates are `YYYY-MM-DD`. Data models ignore fields they do not know
(vendors add their own) but are strict on the fields they declare.

Consumers rebuild the typed data of an event taken from the bus with
`parse_event_data(event["type"], event["data"])`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from billbridge import topology
from billbridge.domain.money import is_iso_currency

MAX_ID_LENGTH = 256

# --- field types -------------------------------------------------------------------------------


def _decimal_from_string(value: object, *, number_hint: str) -> Decimal:
    if isinstance(value, Decimal):  # built in Python, not parsed from JSON
        if not value.is_finite():
            raise PydanticCustomError("decimal_not_finite", "must be a finite decimal")
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise PydanticCustomError("decimal_not_string", "must be a decimal string: {hint}", {"hint": number_hint})
    if not isinstance(value, str):
        raise PydanticCustomError("decimal_not_string", "must be a decimal string")
    text = value.strip()
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", text):
        raise PydanticCustomError(
            "decimal_malformed",
            'must be a decimal string such as "150.00", not "{value}"',
            {"value": value[:40]},
        )
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern only lets valid decimals through
        raise PydanticCustomError("decimal_malformed", "must be a decimal string") from None


def _money(value: object) -> Decimal:
    return _decimal_from_string(
        value, number_hint='money amounts are decimal strings such as "1250.00", never JSON numbers'
    )


def _quantity(value: object) -> Decimal:
    return _decimal_from_string(value, number_hint='quantities are decimal strings such as "7.5", not JSON numbers')


def _iso_date(value: object) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise PydanticCustomError("date_format", "must be a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("date_invalid", "{value} is not a calendar date", {"value": value}) from None


def _rfc3339(value: object) -> object:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not re.fullmatch(
        r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", value
    ):
        raise PydanticCustomError("rfc3339", "must be an RFC 3339 timestamp with a zone, e.g. 2026-03-16T09:30:00Z")
    return value


def _non_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise PydanticCustomError("negative", "must not be negative")
    return value


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise PydanticCustomError("not_positive", "must be greater than zero")
    return value


def _hours_in_a_day(value: Decimal) -> Decimal:
    if value <= 0 or value > 24:
        raise PydanticCustomError("hours_range", "must be more than 0 and at most 24 hours")
    return value


Money = Annotated[Decimal, BeforeValidator(_money)]
"""A money amount: a JSON string holding a decimal (`"1250.00"`)."""
NonNegativeMoney = Annotated[Money, AfterValidator(_non_negative)]
PositiveMoney = Annotated[Money, AfterValidator(_positive)]
Hours = Annotated[Decimal, BeforeValidator(_quantity), AfterValidator(_hours_in_a_day)]
Ratio = Annotated[Decimal, BeforeValidator(_quantity), AfterValidator(_non_negative)]
IsoDate = Annotated[date, BeforeValidator(_iso_date)]
Identifier = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=MAX_ID_LENGTH)]
"""A non-empty id (contract id, entry id, invoice number, ...)."""
Text = Annotated[str, StringConstraints(strict=True, max_length=4096)]


def _currency_code(value: str) -> str:
    if not re.fullmatch(r"[A-Z]{3}", value):
        raise PydanticCustomError("currency_code", "must be a three-letter ISO 4217 code such as USD")
    if not is_iso_currency(value):
        raise PydanticCustomError(
            "currency_code",
            "{code} is not a currency of the ISO 4217 list (with a minor unit amounts can be rounded to)",
            {"code": value},
        )
    return value


def _correlation_id(value: str) -> str:
    if not re.fullmatch(r"[\x21-\x7e]{1,128}", value):
        raise PydanticCustomError("correlation_id", "must be 1 to 128 visible ASCII characters")
    return value


CurrencyCode = Annotated[str, StringConstraints(strict=True), AfterValidator(_currency_code)]
Version = Annotated[StrictInt, Field(gt=0)]
"""A positive integer (contract version, entry revision)."""


class _DataModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


# --- contract.approved / contract.amended ------------------------------------------------------


class RateCardLineData(_DataModel):
    """A rate for a role, or for one named resource (a resource line beats a role line)."""

    role: Identifier | None = None
    resource_id: Identifier | None = None
    rate: NonNegativeMoney

    @model_validator(mode="after")
    def _role_or_resource(self) -> RateCardLineData:
        if self.role is None and self.resource_id is None:
            raise PydanticCustomError("rate_card_line", "a rate card line needs a role or a resource_id")
        return self


class MilestoneTermData(_DataModel):
    milestone_id: Identifier
    name: Text = ""
    amount: NonNegativeMoney


class RecurringFeeData(_DataModel):
    fee_id: Identifier
    description: Text = ""
    amount: NonNegativeMoney
    frequency: Literal["monthly"]
    """Billing (docs/spec/billing.md) defines monthly fees only: anything else is refused."""
    start_date: IsoDate
    end_date: IsoDate | None = None

    @model_validator(mode="after")
    def _ordered_dates(self) -> RecurringFeeData:
        if self.end_date is not None and self.end_date < self.start_date:
            raise PydanticCustomError("date_order", "end_date must not be before start_date")
        return self


class ExpensePolicyData(_DataModel):
    billable_categories: tuple[Identifier, ...] = ()
    markup_pct: Ratio = Decimal("0")
    """A fraction: "0.10" is a 10 % markup."""


class BillingContactData(_DataModel):
    name: Text = ""
    email: Text = ""


class ContractSnapshotData(_DataModel):
    """`contract.approved` / `contract.amended`: the full contract at a version."""

    contract_id: Identifier
    version: Version
    effective_date: IsoDate
    customer_id: Identifier
    legal_entity: Identifier
    currency: CurrencyCode
    tax_jurisdiction: Identifier
    start_date: IsoDate
    end_date: IsoDate
    rate_card: tuple[RateCardLineData, ...]
    cap_amount: NonNegativeMoney | None = None
    retainer_amount: NonNegativeMoney | None = None
    milestones: tuple[MilestoneTermData, ...] = ()
    recurring_fees: tuple[RecurringFeeData, ...] = ()
    expense_policy: ExpensePolicyData | None = None
    cost_centers: tuple[Identifier, ...] = ()
    billing_contact: BillingContactData | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ContractSnapshotData:
        if self.end_date < self.start_date:
            raise PydanticCustomError("date_order", "end_date must not be before start_date")
        if len({m.milestone_id for m in self.milestones}) != len(self.milestones):
            raise PydanticCustomError("duplicate", "milestones: milestone_id values must be unique")
        if len({f.fee_id for f in self.recurring_fees}) != len(self.recurring_fees):
            raise PydanticCustomError("duplicate", "recurring_fees: fee_id values must be unique")
        return self


class ContractTerminatedData(_DataModel):
    """`contract.terminated`: `effective_date` is the last billable day."""

    contract_id: Identifier
    version: Version
    effective_date: IsoDate


# --- actuals (psa) -----------------------------------------------------------------------------


class WorkDayData(_DataModel):
    date: IsoDate
    hours: Hours


class TimeEntryApprovedData(_DataModel):
    """`time_entry.approved`. The single-day form (`work_date` + `hours`) is normalised to `days`.

    Build it with `model_validate` (or `parse_event_data`); after validation
    `work_date` and `hours` are always None and `days` holds the entry's days.
    """

    entry_id: Identifier
    revision: Version
    contract_id: Identifier
    resource_id: Identifier
    role: Identifier
    billable: StrictBool
    cost_center: Identifier | None = None
    days: tuple[WorkDayData, ...] = ()
    work_date: IsoDate | None = Field(default=None, exclude=True, repr=False)
    hours: Hours | None = Field(default=None, exclude=True, repr=False)
    bill_rate: NonNegativeMoney | None = None
    notes: Text | None = None

    @model_validator(mode="after")
    def _normalise_days(self) -> TimeEntryApprovedData:
        single_day = self.work_date is not None or self.hours is not None
        if single_day and self.days:
            raise PydanticCustomError("days_form", "give either days, or work_date and hours, not both")
        if single_day:
            if self.work_date is None or self.hours is None:
                raise PydanticCustomError("days_form", "work_date and hours go together")
            day = WorkDayData(date=self.work_date, hours=self.hours)
            return self.model_copy(update={"days": (day,), "work_date": None, "hours": None})
        if not self.days:
            raise PydanticCustomError("days_form", "days is required (or work_date and hours)")
        if len({d.date for d in self.days}) != len(self.days):
            raise PydanticCustomError("duplicate", "days: each date may appear once")
        return self

    @property
    def total_hours(self) -> Decimal:
        return sum((d.hours for d in self.days), Decimal("0"))


class TimeEntryRejectedData(_DataModel):
    """`time_entry.rejected`: a previously approved entry is withdrawn."""

    entry_id: Identifier
    revision: Version


class ExpenseApprovedData(_DataModel):
    expense_id: Identifier
    contract_id: Identifier
    date: IsoDate
    category: Identifier
    amount: Money
    currency: CurrencyCode
    billable: StrictBool
    cost_center: Identifier | None = None


class MilestoneCompletedData(_DataModel):
    contract_id: Identifier
    milestone_id: Identifier
    completed_on: IsoDate


# --- feedback (erp) ----------------------------------------------------------------------------


class InvoicePostedData(_DataModel):
    proposal_id: Identifier
    invoice_number: Identifier
    posting_date: IsoDate
    subtotal: Money
    tax: Money
    total: Money
    currency: CurrencyCode


class InvoiceRejectedData(_DataModel):
    proposal_id: Identifier
    reason: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=4096)]


class PaymentAppliedData(_DataModel):
    invoice_number: Identifier
    payment_id: Identifier
    amount: PositiveMoney
    currency: CurrencyCode
    paid_on: IsoDate


# --- answers to the hub's commands (psa, erp) ----------------------------------------------------


class SyncAcknowledgedData(_DataModel):
    command_id: Identifier
    """The `X-Command-Id` the command was sent with (`{target}/{name}/{idempotency key}`)."""
    reference: Identifier
    """The system's own id for what the command created or updated."""
    idempotency_key: Identifier | None = None
    command: Identifier | None = None


class SyncRefusedData(_DataModel):
    command_id: Identifier
    message: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=4096)]
    code: Identifier | None = None
    idempotency_key: Identifier | None = None
    command: Identifier | None = None


EVENT_DATA_MODELS: Mapping[str, type[BaseModel]] = MappingProxyType(
    {
        "contract.approved": ContractSnapshotData,
        "contract.amended": ContractSnapshotData,
        "contract.terminated": ContractTerminatedData,
        "time_entry.approved": TimeEntryApprovedData,
        "time_entry.rejected": TimeEntryRejectedData,
        "expense.approved": ExpenseApprovedData,
        "milestone.completed": MilestoneCompletedData,
        "invoice.posted": InvoicePostedData,
        "invoice.rejected": InvoiceRejectedData,
        "payment.applied": PaymentAppliedData,
        "sync.acknowledged": SyncAcknowledgedData,
        "sync.refused": SyncRefusedData,
    }
)

EventData = (
    ContractSnapshotData
    | ContractTerminatedData
    | TimeEntryApprovedData
    | TimeEntryRejectedData
    | ExpenseApprovedData
    | MilestoneCompletedData
    | InvoicePostedData
    | InvoiceRejectedData
    | PaymentAppliedData
    | SyncAcknowledgedData
    | SyncRefusedData
)

# --- envelope ----------------------------------------------------------------------------------

JsonMediaType = Annotated[str, StringConstraints(strict=True, pattern=r"^application/([\w.+-]+\+)?json")]
CorrelationId = Annotated[str, StringConstraints(strict=True), AfterValidator(_correlation_id)]
"""Visible ASCII, at most 128 characters: it goes into every log line and record."""


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 envelope in structured JSON mode.

    Extension attributes other than `correlationid` are kept (`extra="allow"`).
    `data` stays the JSON object as received; `parse_event_data` types it.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    specversion: Literal["1.0"]
    id: Identifier
    source: Identifier
    type: Identifier
    time: Annotated[AwareDatetime, BeforeValidator(_rfc3339)]
    data: dict[str, Any]
    subject: Identifier | None = None
    datacontenttype: JsonMediaType | None = None
    dataschema: Text | None = None
    correlationid: CorrelationId | None = None


# --- parsing and errors ------------------------------------------------------------------------


class InvalidEventError(ValueError):
    """An event does not satisfy the contract; `field` is the path of the offending field."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.message = message
        self.field = field


def field_path(location: tuple[int | str, ...], *, prefix: str = "") -> str:
    """`("data", "days", 1, "hours")` -> `data.days[1].hours`."""
    path = prefix
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path


_FRIENDLY_MESSAGES = {
    "missing": "is required",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "bool_type": "must be true or false",
    "dict_type": "must be a JSON object",
    "model_type": "must be a JSON object",
    "tuple_type": "must be a JSON array",
    "list_type": "must be a JSON array",
    "string_too_short": "must not be empty",
}


def invalid_event_from(error: ValidationError, *, prefix: str = "") -> InvalidEventError:
    """One clear message for a pydantic error: the first problem, named by its field path.

    e.g. `data.days[1].hours: must be a decimal string, not a JSON number (...)`.
    Further problems are counted, not listed: a vendor fixes them one at a time.
    """
    problems = error.errors(include_url=False, include_input=False)
    first = problems[0]
    location = tuple(part for part in first["loc"] if isinstance(part, int | str))
    path = field_path(location, prefix=prefix) or prefix or None
    message = _FRIENDLY_MESSAGES.get(first["type"], first["msg"])
    if first["type"] == "literal_error" and location == ("specversion",):
        message = 'must be "1.0"'
    if first["type"] == "greater_than":
        message = "must be a positive integer"
    if len(problems) > 1:
        message += f" (and {len(problems) - 1} more problem(s))"
    return InvalidEventError(message, field=path)


def parse_event_data(event_type: str, data: object) -> EventData:
    """Validate the `data` of an event of `event_type`; raises InvalidEventError (paths under `data`)."""
    model = EVENT_DATA_MODELS.get(event_type)
    if model is None:
        raise InvalidEventError(
            f"unknown event type {event_type[:64]!r}; known: {', '.join(EVENT_DATA_MODELS)}", field="type"
        )
    try:
        parsed = model.model_validate(data)
    except ValidationError as error:
        raise invalid_event_from(error, prefix="data") from None
    return parsed  # type: ignore[return-value]  # every model of the mapping is one of EventData


def parse_cloud_event(obj: object, *, expected_source: str) -> CloudEvent:
    """Validate a CloudEvent delivered to `POST /webhooks/{expected_source}`, its `data` included.

    Raises InvalidEventError naming the field: envelope attributes by name,
    data fields as `data.<path>`.
    """
    if not isinstance(obj, dict):
        raise InvalidEventError("an event must be a JSON object")
    try:
        event = CloudEvent.model_validate(obj)
    except ValidationError as error:
        raise invalid_event_from(error) from None
    if event.source != expected_source:
        raise InvalidEventError(
            f"is {event.source[:64]!r} but the event was delivered to /webhooks/{expected_source}",
            field="source",
        )
    allowed = topology.EVENT_TYPES_BY_SOURCE.get(expected_source, ())
    if event.type not in allowed:
        known = ", ".join(allowed) if allowed else "none yet"
        raise InvalidEventError(
            f"{event.type[:64]!r} is not an event type of source {expected_source!r} (known: {known})",
            field="type",
        )
    parse_event_data(event.type, event.data)
    return event
