"""The canonical events of the webhook contract (docs/spec/events.md), as pydantic models.

The envelope is CloudEvents 1.0 (structured JSON); each event type has a `data`
model. Money and hours are `Decimal` parsed from JSON strings, never from JSON
numbers; dates are `YYYY-MM-DD`. Data models ignore fields they do not know
(vendors add their own) but are strict on the fields they declare.

One model per event from the edge to the use cases (docs/decisions/0016-one-event-model.md):
the webhook validates a delivery once (`validate_cloud_event`) and publishes the
validated event's normalised dump (`ValidatedEvent.bus_form`); the queue consumers
type the `data` of an event taken from the bus with the same models
(`parse_bus_event_data`), and `event_translation` maps the typed data to domain values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
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
from billbridge.domain import decimal_text
from billbridge.domain.decimal_text import (
    DecimalBounds,
    DecimalTextError,
    check_decimal,
    read_decimal,
    read_positive_integer,
)
from billbridge.domain.money import is_iso_currency

MAX_ID_LENGTH = 256

# --- field types -------------------------------------------------------------------------------


def _decimal_reader(bounds: DecimalBounds, number_hint: str) -> Callable[[object], Decimal]:
    """A pydantic before-validator reading a decimal string under `bounds` (domain/decimal_text.py)."""

    def read(value: object) -> Decimal:
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise PydanticCustomError("decimal_not_string", "must be a decimal string: {hint}", {"hint": number_hint})
        try:
            if isinstance(value, Decimal):  # built in Python, not parsed from JSON
                return check_decimal(value, bounds)
            if not isinstance(value, str):
                raise PydanticCustomError("decimal_not_string", "must be a decimal string")
            return read_decimal(value, bounds)
        except DecimalTextError as error:
            raise PydanticCustomError("decimal_malformed", "{reason}", {"reason": error.reason}) from None

    return read


_MONEY_HINT = 'money amounts are decimal strings such as "1250.00", never JSON numbers'
_QUANTITY_HINT = 'quantities are decimal strings such as "7.5", not JSON numbers'


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


def _hours_in_a_day(value: Decimal) -> Decimal:
    if value > 24:
        raise PydanticCustomError("hours_range", "must be more than 0 and at most 24 hours")
    return value


def _version(value: int) -> int:
    try:
        return read_positive_integer(value)
    except DecimalTextError as error:
        raise PydanticCustomError("version_range", "{reason}", {"reason": error.reason}) from None


Money = Annotated[Decimal, BeforeValidator(_decimal_reader(decimal_text.SIGNED_MONEY, _MONEY_HINT))]
"""A money amount: a JSON string holding a decimal (`"1250.00"`), bounded (docs/spec/events.md)."""
NonNegativeMoney = Annotated[Decimal, BeforeValidator(_decimal_reader(decimal_text.MONEY, _MONEY_HINT))]
PositiveMoney = Annotated[Decimal, BeforeValidator(_decimal_reader(decimal_text.POSITIVE_MONEY, _MONEY_HINT))]
Rate = Annotated[Decimal, BeforeValidator(_decimal_reader(decimal_text.RATE, _MONEY_HINT))]
"""A price per hour, zero or more."""
Hours = Annotated[
    Decimal, BeforeValidator(_decimal_reader(decimal_text.HOURS, _QUANTITY_HINT)), AfterValidator(_hours_in_a_day)
]
Ratio = Annotated[Decimal, BeforeValidator(_decimal_reader(decimal_text.RATIO, _QUANTITY_HINT))]
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
Version = Annotated[StrictInt, AfterValidator(_version)]
"""A positive integer (contract version, entry revision), at most 2**53 - 1."""


class _DataModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


# --- contract.approved / contract.amended ------------------------------------------------------


class RateCardLineData(_DataModel):
    """A rate for a role, or for one named resource (a resource line beats a role line)."""

    role: Identifier | None = None
    resource_id: Identifier | None = None
    rate: Rate

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
    bill_rate: Rate | None = None
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
    amount: PositiveMoney
    """No credits in the contract: an expense is more than zero."""
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
    subtotal: NonNegativeMoney
    tax: NonNegativeMoney
    total: NonNegativeMoney
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


# --- customer master (erp or crm) ----------------------------------------------------------------


class AddressData(_DataModel):
    line1: Text = ""
    city: Text = ""
    postal_code: Text = ""
    country: Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Z]{2}$")]
    """ISO 3166-1 alpha-2."""


class TaxExemptionData(_DataModel):
    certificate_id: Identifier
    valid_from: IsoDate
    valid_to: IsoDate | None = None
    """Last day of validity, inclusive; absent: open-ended."""

    @model_validator(mode="after")
    def _ordered_dates(self) -> TaxExemptionData:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise PydanticCustomError("date_order", "valid_to must not be before valid_from")
        return self


class TaxProfileData(_DataModel):
    jurisdiction: Identifier
    exemption: TaxExemptionData | None = None


class ErpCustomerIdData(_DataModel):
    erp_instance: Identifier
    customer_id: Identifier


class PaymentTermsData(_DataModel):
    net_days: Annotated[StrictInt, Field(ge=0, le=365)]


class CustomerUpsertedData(_DataModel):
    """`customer.upserted`: the full customer at a version (account, addresses, tax, currency, ids)."""

    customer_id: Identifier
    version: Version
    effective_date: IsoDate
    name: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=512)]
    status: Literal["active", "inactive"]
    parent_customer_id: Identifier | None = None
    bill_to: AddressData
    ship_to: AddressData | None = None
    tax_profile: TaxProfileData
    currency: CurrencyCode
    """The customer's invoicing currency."""
    additional_currencies: tuple[CurrencyCode, ...] = ()
    """Further currencies the customer accepts invoices in."""
    payment_terms: PaymentTermsData
    erp_customer_ids: tuple[ErpCustomerIdData, ...] = ()
    crm_account_id: Identifier | None = None
    psa_client_id: Identifier | None = None

    @model_validator(mode="after")
    def _consistent(self) -> CustomerUpsertedData:
        if self.parent_customer_id == self.customer_id:
            raise PydanticCustomError("parent", "parent_customer_id must name another customer")
        instances = [i.erp_instance for i in self.erp_customer_ids]
        if len(set(instances)) != len(instances):
            raise PydanticCustomError("duplicate", "erp_customer_ids: one id per erp_instance")
        return self


class LegalEntityUpsertedData(_DataModel):
    """`legal_entity.upserted`: one of the firm's own legal entities at a version."""

    legal_entity: Identifier
    version: Version
    effective_date: IsoDate
    name: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=512)]
    erp_instance: Identifier
    country: Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Z]{2}$")]
    functional_currency: CurrencyCode
    status: Literal["active", "inactive"] = "active"


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


class SyncRetryRequestedData(_DataModel):
    """`sync.retry_requested`: an operator's request to send a command again (put on the bus by
    `billbridge sync retry`, never accepted from a webhook)."""

    command_id: Identifier
    actor: Text = ""


class AmendmentContinuedData(_DataModel):
    """`contract.amendment_continued`: the contracts consumer's request for the next pages of an
    amendment applied in pages (put on the bus by the hub, never accepted from a webhook)."""

    contract_id: Identifier


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
        "customer.upserted": CustomerUpsertedData,
        "legal_entity.upserted": LegalEntityUpsertedData,
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
    | CustomerUpsertedData
    | LegalEntityUpsertedData
    | SyncAcknowledgedData
    | SyncRefusedData
)

OPERATOR_EVENT_DATA_MODELS: Mapping[str, type[BaseModel]] = MappingProxyType(
    {
        topology.SYNC_RETRY_REQUESTED: SyncRetryRequestedData,
        topology.AMENDMENT_CONTINUED: AmendmentContinuedData,
    }
)
"""The operators' own requests on the bus (`topology.OPERATOR_EVENT_TYPES`), and the hub's own
request for an amendment's next pages (`topology.AMENDMENT_CONTINUED`)."""

BusEventData = EventData | SyncRetryRequestedData | AmendmentContinuedData
"""The typed `data` of an event a queue consumer takes from the bus."""

# --- schema versions -----------------------------------------------------------------------------


def schema_uri(event_type: str, version: int) -> str:
    """The `dataschema` of an event type's data at a version: `urn:billbridge:events:<type>:v<n>`."""
    return f"urn:billbridge:events:{event_type}:v{version}"


class MoneyData(_DataModel):
    """A money amount with its currency, as CLM v2 payloads carry them."""

    amount: NonNegativeMoney
    currency: CurrencyCode


class RateCardLineDataV2(_DataModel):
    role: Identifier | None = None
    resource_id: Identifier | None = None
    rate: MoneyData

    @model_validator(mode="after")
    def _role_or_resource(self) -> RateCardLineDataV2:
        if self.role is None and self.resource_id is None:
            raise PydanticCustomError("rate_card_line", "a rate card line needs a role or a resource_id")
        return self


class ContractSnapshotDataV2(ContractSnapshotData):
    """`contract.approved` v2: each rate card line's `rate` is a money object
    `{"amount": "150.00", "currency": "USD"}` (a CLM whose rate cards carry a
    currency per line). The hub bills a contract in one currency: every line's
    currency must be the contract's `currency`."""

    rate_card: tuple[RateCardLineDataV2, ...]  # type: ignore[assignment]  # the v2 shape of the same field

    @model_validator(mode="after")
    def _one_currency(self) -> ContractSnapshotDataV2:
        for index, line in enumerate(self.rate_card):
            if line.rate.currency != self.currency:
                raise PydanticCustomError(
                    "line_currency",
                    "rate_card[{index}].rate.currency is {line} but the contract bills in {currency}",
                    {"index": index, "line": line.rate.currency, "currency": self.currency},
                )
        return self


def _contract_v2_to_v1(data: Mapping[str, Any]) -> dict[str, Any]:
    upcast = dict(data)
    upcast["rate_card"] = [
        {**{k: v for k, v in line.items() if k != "rate"}, "rate": line["rate"]["amount"]}
        for line in data.get("rate_card") or ()
    ]
    return upcast


SCHEMA_VERSIONS: Mapping[str, Mapping[int, type[BaseModel]]] = MappingProxyType(
    {
        event_type: MappingProxyType(
            {1: model, 2: ContractSnapshotDataV2} if event_type == "contract.approved" else {1: model}
        )
        for event_type, model in EVENT_DATA_MODELS.items()
    }
)
"""The data versions accepted per event type (docs/spec/events.md, "Schema versions")."""
CURRENT_SCHEMA_VERSION: Mapping[str, int] = MappingProxyType({event_type: 1 for event_type in EVENT_DATA_MODELS})
"""The version an event without `dataschema` is read as, and the one consumers receive."""
UPCASTERS: Mapping[tuple[str, int], Any] = MappingProxyType({("contract.approved", 2): _contract_v2_to_v1})
"""(type, version) -> a function turning that version's data into the current version's."""


def schema_version_of(event_type: str, dataschema: str | None) -> int:
    """The version `dataschema` names for `event_type` (the current one when absent).

    Raises InvalidEventError naming the supported schemas for anything else."""
    versions = SCHEMA_VERSIONS.get(event_type, {})
    if dataschema is None:
        return CURRENT_SCHEMA_VERSION.get(event_type, 1)
    for version in versions:
        if dataschema == schema_uri(event_type, version):
            return version
    supported = ", ".join(schema_uri(event_type, v) for v in sorted(versions)) or "none"
    raise InvalidEventError(
        f"{dataschema[:120]!r} is not a supported schema of {event_type}; supported: {supported}", field="dataschema"
    )


def upcast_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """A validated event with its data in the current version of its type (the
    same event when it already is); `dataschema` then names the current version
    and `upcastfrom` the version received."""
    event_type = str(event.get("type"))
    version = schema_version_of(event_type, event.get("dataschema"))
    current = CURRENT_SCHEMA_VERSION.get(event_type, 1)
    if version == current:
        return dict(event)
    upcaster = UPCASTERS[(event_type, version)]
    return {
        **event,
        "data": upcaster(event["data"]),
        "dataschema": schema_uri(event_type, current),
        "upcastfrom": event["dataschema"],
    }


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


def parse_event_data(event_type: str, data: object, *, schema_version: int | None = None) -> EventData:
    """Validate the `data` of an event of `event_type` (at `schema_version`, default the current one);
    raises InvalidEventError (paths under `data`)."""
    model = (
        EVENT_DATA_MODELS.get(event_type)
        if schema_version is None
        else SCHEMA_VERSIONS.get(event_type, {}).get(schema_version)
    )
    if model is None:
        raise InvalidEventError(
            f"unknown event type {event_type[:64]!r}; known: {', '.join(EVENT_DATA_MODELS)}", field="type"
        )
    try:
        parsed = model.model_validate(data)
    except ValidationError as error:
        raise invalid_event_from(error, prefix="data") from None
    return parsed  # type: ignore[return-value]  # every model of the mapping is one of EventData


def parse_bus_event_data(event_type: str, data: object) -> BusEventData:
    """The `data` of an event taken from the hub's bus, typed by the webhook's own models (and the
    operators' requests by theirs); raises InvalidEventError (paths under `data`).

    What the webhook published is the normalised dump of these models, so it parses back to the
    same values; an event published by an earlier release (an archive replay) is read by the
    same rules as a delivery."""
    model = OPERATOR_EVENT_DATA_MODELS.get(event_type)
    if model is None:
        return parse_event_data(event_type, data)
    try:
        return model.model_validate(data)  # type: ignore[return-value]  # one of the requests' models
    except ValidationError as error:
        raise invalid_event_from(error, prefix="data") from None


@dataclass(frozen=True, slots=True)
class ValidatedEvent:
    """A delivered event once validated: its envelope, and its data typed at the current version
    of its type (upcast when it was sent at another)."""

    envelope: CloudEvent
    data: EventData
    received_schema: str | None = None
    """The `dataschema` it was sent with, when its data was upcast from another version."""

    @property
    def id(self) -> str:
        return self.envelope.id

    @property
    def type(self) -> str:
        return self.envelope.type

    def bus_form(self) -> dict[str, Any]:
        """The event as it travels on the hub's bus (docs/spec/events.md, "Packed bus entries"):
        the envelope (extension attributes kept) and the validated data's JSON dump: amounts and
        hours as decimal strings, dates `YYYY-MM-DD`, a single-day time entry as `days`, fields the
        contract does not declare left out. An upcast event names the current schema in
        `dataschema` and the received one in `upcastfrom`."""
        form = self.envelope.model_dump(mode="json", exclude_unset=True, exclude={"data"})
        form["data"] = self.data.model_dump(mode="json", exclude_unset=True)
        if self.received_schema is not None:
            form["dataschema"] = schema_uri(self.envelope.type, CURRENT_SCHEMA_VERSION.get(self.envelope.type, 1))
            form["upcastfrom"] = self.received_schema
        return form


def validate_cloud_event(obj: object, *, expected_source: str) -> ValidatedEvent:
    """Validate a CloudEvent delivered to `POST /webhooks/{expected_source}`, its `data` included,
    once: the result carries the typed data the hub publishes.

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
    version = schema_version_of(event.type, event.dataschema)
    data = parse_event_data(event.type, event.data, schema_version=version)
    if version == CURRENT_SCHEMA_VERSION.get(event.type, 1):
        return ValidatedEvent(envelope=event, data=data)
    current = parse_event_data(event.type, UPCASTERS[(event.type, version)](event.data))
    return ValidatedEvent(envelope=event, data=current, received_schema=event.dataschema)


def parse_cloud_event(obj: object, *, expected_source: str) -> CloudEvent:
    """The envelope of a valid CloudEvent delivered to `POST /webhooks/{expected_source}`
    (`validate_cloud_event`, for callers that only need the envelope)."""
    return validate_cloud_event(obj, expected_source=expected_source).envelope
