from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from billbridge import topology
from billbridge.app.canonical_events import (
    EVENT_DATA_MODELS,
    ContractSnapshotData,
    ContractTerminatedData,
    ExpenseApprovedData,
    InvalidEventError,
    InvoicePostedData,
    InvoiceRejectedData,
    MilestoneCompletedData,
    PaymentAppliedData,
    TimeEntryApprovedData,
    TimeEntryRejectedData,
    WorkDayData,
    field_path,
    parse_cloud_event,
    parse_event_data,
)
from hypothesis import given
from hypothesis import strategies as st

CONTRACT = {
    "contract_id": "SOW-1001",
    "version": 1,
    "effective_date": "2026-01-01",
    "customer_id": "CUST-ACME",
    "legal_entity": "US01",
    "currency": "USD",
    "tax_jurisdiction": "US-NY",
    "start_date": "2026-01-01",
    "end_date": "2026-12-31",
    "rate_card": [
        {"role": "consultant", "rate": "150.00"},
        {"role": "architect", "rate": "210.00"},
        {"resource_id": "EMP-7", "rate": "225.00"},
    ],
    "cap_amount": "100000.00",
    "retainer_amount": "0.00",
    "milestones": [{"milestone_id": "M1", "name": "Onboarding", "amount": "10000.00"}],
    "recurring_fees": [
        {
            "fee_id": "F1",
            "description": "Managed service",
            "amount": "5000.00",
            "frequency": "monthly",
            "start_date": "2026-01-01",
            "end_date": None,
        }
    ],
    "expense_policy": {"billable_categories": ["travel", "lodging"], "markup_pct": "0.10"},
    "cost_centers": ["CC-100", "CC-200"],
    "billing_contact": {"name": "AP Team", "email": "ap@acme.example"},
}

TIME_ENTRY = {
    "entry_id": "TE-1",
    "revision": 1,
    "contract_id": "SOW-1001",
    "resource_id": "EMP-3",
    "role": "consultant",
    "billable": True,
    "cost_center": "CC-100",
    "days": [{"date": "2026-03-16", "hours": "8"}, {"date": "2026-03-17", "hours": "6.5"}],
}

DATA_BY_TYPE: dict[str, dict[str, Any]] = {
    "contract.approved": CONTRACT,
    "contract.amended": CONTRACT | {"version": 2},
    "contract.terminated": {"contract_id": "SOW-1001", "version": 3, "effective_date": "2026-06-30"},
    "time_entry.approved": TIME_ENTRY,
    "time_entry.rejected": {"entry_id": "TE-1", "revision": 2},
    "expense.approved": {
        "expense_id": "EX-1",
        "contract_id": "SOW-1001",
        "date": "2026-03-18",
        "category": "travel",
        "amount": "412.30",
        "currency": "USD",
        "billable": True,
        "cost_center": "CC-100",
    },
    "milestone.completed": {"contract_id": "SOW-1001", "milestone_id": "M1", "completed_on": "2026-03-20"},
    "invoice.posted": {
        "proposal_id": "P-1",
        "invoice_number": "INV-9",
        "posting_date": "2026-04-01",
        "subtotal": "1000.00",
        "tax": "88.75",
        "total": "1088.75",
        "currency": "USD",
    },
    "invoice.rejected": {"proposal_id": "P-1", "reason": "customer on credit hold"},
    "payment.applied": {
        "invoice_number": "INV-9",
        "payment_id": "PAY-1",
        "amount": "1088.75",
        "currency": "USD",
        "paid_on": "2026-04-20",
    },
    "customer.upserted": {
        "customer_id": "CUST-ACME",
        "version": 1,
        "effective_date": "2026-01-01",
        "name": "Acme Analytics Inc.",
        "status": "active",
        "parent_customer_id": "CUST-ACME-GROUP",
        "bill_to": {"line1": "1 Main St", "city": "New York", "postal_code": "10001", "country": "US"},
        "ship_to": {"line1": "9 Dock Rd", "city": "Newark", "postal_code": "07102", "country": "US"},
        "tax_profile": {
            "jurisdiction": "US-NY",
            "exemption": {"certificate_id": "NY-EX-0042", "valid_from": "2026-01-01", "valid_to": "2026-12-31"},
        },
        "currency": "USD",
        "payment_terms": {"net_days": 30},
        "erp_customer_ids": [{"erp_instance": "erp-us", "customer_id": "C-100234"}],
        "crm_account_id": "001Dn00000ACME",
        "psa_client_id": "CLIENT-77",
    },
    "legal_entity.upserted": {
        "legal_entity": "US01",
        "version": 1,
        "effective_date": "2020-01-01",
        "name": "Billbridge Consulting US LLC",
        "erp_instance": "erp-us",
        "country": "US",
        "functional_currency": "USD",
    },
    "sync.acknowledged": {
        "command_id": "psa/UpsertProject/SOW-1001-v2",
        "idempotency_key": "SOW-1001-v2",
        "command": "UpsertProject",
        "reference": "PRJ-4711",
    },
    "sync.refused": {
        "command_id": "erp-us/UpsertBillingSchedule/SOW-1001-v2",
        "code": "customer_unknown",
        "message": "customer CUST-1 does not exist",
    },
}
SOURCE_OF_TYPE = {t: s for s, types in topology.EVENT_TYPES_BY_SOURCE.items() for t in types}


def envelope(event_type: str, data: dict[str, Any] | None = None, **attributes: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": "evt-1",
        "source": SOURCE_OF_TYPE[event_type],
        "type": event_type,
        "time": "2026-03-16T09:30:00Z",
        "data": copy.deepcopy(DATA_BY_TYPE[event_type] if data is None else data),
    } | attributes


def reason(exc: pytest.ExceptionInfo[InvalidEventError]) -> tuple[str | None, str]:
    return exc.value.field, str(exc.value)


def test_every_event_type_of_every_source_has_a_model() -> None:
    all_types = {t for types in topology.EVENT_TYPES_BY_SOURCE.values() for t in types}
    assert set(EVENT_DATA_MODELS) == all_types == set(DATA_BY_TYPE)


@pytest.mark.parametrize("event_type", sorted(DATA_BY_TYPE))
def test_the_spec_examples_parse(event_type: str) -> None:
    event = parse_cloud_event(envelope(event_type), expected_source=SOURCE_OF_TYPE[event_type])
    assert event.type == event_type
    assert isinstance(parse_event_data(event.type, event.data), EVENT_DATA_MODELS[event_type])


def test_a_contract_snapshot_keeps_money_as_decimal() -> None:
    contract = parse_event_data("contract.approved", CONTRACT)
    assert isinstance(contract, ContractSnapshotData)
    assert contract.rate_card[2].resource_id == "EMP-7"
    assert contract.rate_card[2].rate == Decimal("225.00")
    assert contract.cap_amount == Decimal("100000.00")
    assert contract.expense_policy is not None and contract.expense_policy.markup_pct == Decimal("0.10")
    assert contract.recurring_fees[0].end_date is None
    assert contract.effective_date == date(2026, 1, 1)


def test_optional_contract_terms_may_be_left_out() -> None:
    optional = ("cap_amount", "retainer_amount", "milestones", "recurring_fees", "expense_policy")
    minimal = {k: v for k, v in CONTRACT.items() if k not in (*optional, "cost_centers", "billing_contact")}
    contract = parse_event_data("contract.approved", minimal)
    assert isinstance(contract, ContractSnapshotData)
    assert contract.cap_amount is None and contract.milestones == () and contract.cost_centers == ()


def test_the_single_day_form_is_normalised_to_days() -> None:
    single = {k: v for k, v in TIME_ENTRY.items() if k != "days"} | {"work_date": "2026-03-16", "hours": "8"}
    entry = parse_event_data("time_entry.approved", single)
    assert isinstance(entry, TimeEntryApprovedData)
    assert entry.days == (WorkDayData(date=date(2026, 3, 16), hours=Decimal("8")),)
    assert entry.work_date is None and entry.hours is None
    as_days = parse_event_data("time_entry.approved", TIME_ENTRY | {"days": [{"date": "2026-03-16", "hours": "8"}]})
    assert entry == as_days


def test_a_multi_day_entry_totals_its_hours() -> None:
    entry = parse_event_data("time_entry.approved", TIME_ENTRY)
    assert isinstance(entry, TimeEntryApprovedData)
    assert entry.total_hours == Decimal("14.5")


def test_fields_vendors_add_are_ignored() -> None:
    entry = parse_event_data("time_entry.rejected", {"entry_id": "TE-1", "revision": 2, "kantata_flag": [1]})
    assert entry == TimeEntryRejectedData(entry_id="TE-1", revision=2)


def test_models_are_frozen() -> None:
    entry = parse_event_data("time_entry.rejected", {"entry_id": "TE-1", "revision": 2})
    with pytest.raises(ValueError):
        entry.revision = 3  # type: ignore[misc]


def test_the_models_have_the_names_consumers_import() -> None:
    assert EVENT_DATA_MODELS["contract.terminated"] is ContractTerminatedData
    assert EVENT_DATA_MODELS["expense.approved"] is ExpenseApprovedData
    assert EVENT_DATA_MODELS["milestone.completed"] is MilestoneCompletedData
    assert EVENT_DATA_MODELS["invoice.posted"] is InvoicePostedData
    assert EVENT_DATA_MODELS["invoice.rejected"] is InvoiceRejectedData
    assert EVENT_DATA_MODELS["payment.applied"] is PaymentAppliedData


# --- errors name the field -----------------------------------------------------------------------


def test_float_money_is_refused_with_the_money_rule() -> None:
    data = DATA_BY_TYPE["payment.applied"] | {"amount": 1088.75}
    with pytest.raises(InvalidEventError) as exc:
        parse_event_data("payment.applied", data)
    field, message = reason(exc)
    assert field == "data.amount"
    assert "money amounts are decimal strings" in message


def test_integer_money_is_refused_too() -> None:
    with pytest.raises(InvalidEventError, match="money amounts are decimal strings"):
        parse_event_data("contract.approved", CONTRACT | {"cap_amount": 100000})


def test_numeric_hours_name_the_day() -> None:
    data = TIME_ENTRY | {"days": [{"date": "2026-03-16", "hours": "8"}, {"date": "2026-03-17", "hours": 6.5}]}
    with pytest.raises(InvalidEventError) as exc:
        parse_event_data("time_entry.approved", data)
    assert exc.value.field == "data.days[1].hours"
    assert str(exc.value).startswith("data.days[1].hours: must be a decimal string")


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "1,000.00", "12.5x", "", " "])
def test_money_must_be_a_finite_plain_decimal(amount: str) -> None:
    with pytest.raises(InvalidEventError) as exc:
        parse_event_data("payment.applied", DATA_BY_TYPE["payment.applied"] | {"amount": amount})
    assert exc.value.field == "data.amount"


@pytest.mark.parametrize("value", ["2026-3-16", "16/03/2026", "2026-02-30", 20260316, "2026-03-16T00:00:00"])
def test_dates_are_yyyy_mm_dd(value: object) -> None:
    with pytest.raises(InvalidEventError) as exc:
        parse_event_data("milestone.completed", DATA_BY_TYPE["milestone.completed"] | {"completed_on": value})
    assert exc.value.field == "data.completed_on"


@pytest.mark.parametrize("version", [0, -1, "1", 1.0, True])
def test_versions_are_positive_integers(version: object) -> None:
    with pytest.raises(InvalidEventError) as exc:
        parse_event_data("contract.terminated", DATA_BY_TYPE["contract.terminated"] | {"version": version})
    assert exc.value.field == "data.version"


def test_a_missing_field_is_named() -> None:
    data = {k: v for k, v in CONTRACT.items() if k != "customer_id"}
    with pytest.raises(InvalidEventError) as exc:
        parse_event_data("contract.approved", data)
    assert reason(exc) == ("data.customer_id", "data.customer_id: is required")


def test_an_empty_id_is_refused() -> None:
    with pytest.raises(InvalidEventError) as exc:
        parse_event_data("time_entry.rejected", {"entry_id": "", "revision": 1})
    assert exc.value.field == "data.entry_id"


def test_billable_must_be_a_boolean() -> None:
    with pytest.raises(InvalidEventError) as exc:
        parse_event_data("time_entry.approved", TIME_ENTRY | {"billable": "yes"})
    assert exc.value.field == "data.billable"


def test_a_time_entry_needs_days_or_a_work_date() -> None:
    data = {k: v for k, v in TIME_ENTRY.items() if k != "days"}
    with pytest.raises(InvalidEventError, match="days is required"):
        parse_event_data("time_entry.approved", data)


def test_a_time_entry_may_not_mix_both_forms() -> None:
    with pytest.raises(InvalidEventError, match="not both"):
        parse_event_data("time_entry.approved", TIME_ENTRY | {"work_date": "2026-03-16", "hours": "8"})


def test_numeric_hours_of_the_single_day_form_name_hours() -> None:
    data = {k: v for k, v in TIME_ENTRY.items() if k != "days"} | {"work_date": "2026-03-16", "hours": 8}
    with pytest.raises(InvalidEventError) as exc:
        parse_event_data("time_entry.approved", data)
    assert exc.value.field == "data.hours"


def test_a_day_over_24_hours_is_refused() -> None:
    with pytest.raises(InvalidEventError) as exc:
        parse_event_data("time_entry.approved", TIME_ENTRY | {"days": [{"date": "2026-03-16", "hours": "25"}]})
    assert exc.value.field == "data.days[0].hours"


def test_a_currency_is_an_iso_code() -> None:
    with pytest.raises(InvalidEventError, match="ISO 4217") as exc:
        parse_event_data("payment.applied", DATA_BY_TYPE["payment.applied"] | {"currency": "usd"})
    assert exc.value.field == "data.currency"


@pytest.mark.parametrize("code", ["XYZ", "HRK", "XAU"])
def test_a_contract_in_a_code_outside_iso_4217_is_refused_naming_the_field(code: str) -> None:
    with pytest.raises(InvalidEventError, match=code) as exc:
        parse_event_data("contract.approved", CONTRACT | {"currency": code})
    assert exc.value.field == "data.currency"


@pytest.mark.parametrize("code", ["HUF", "IQD", "JPY", "KWD", "CLF"])
def test_a_contract_in_any_iso_4217_currency_is_accepted(code: str) -> None:
    assert parse_event_data("contract.approved", CONTRACT | {"currency": code}).currency == code


def test_a_rate_card_line_needs_a_role_or_a_resource() -> None:
    with pytest.raises(InvalidEventError) as exc:
        parse_event_data("contract.approved", CONTRACT | {"rate_card": [{"rate": "150.00"}]})
    assert exc.value.field == "data.rate_card[0]"


# --- envelope ------------------------------------------------------------------------------------


def test_the_source_must_match_the_url() -> None:
    with pytest.raises(InvalidEventError) as exc:
        parse_cloud_event(envelope("time_entry.rejected"), expected_source="clm")
    assert exc.value.field == "source"


def test_the_type_must_belong_to_the_source() -> None:
    event = envelope("time_entry.rejected", source="clm")
    with pytest.raises(InvalidEventError, match="not an event type of source 'clm'") as exc:
        parse_cloud_event(event, expected_source="clm")
    assert exc.value.field == "type"


@pytest.mark.parametrize("hub_request", [topology.AMENDMENT_CONTINUED, topology.SYNC_RETRY_REQUESTED])
@pytest.mark.parametrize("source", sorted(topology.WEBHOOK_SOURCES))
def test_the_hubs_own_requests_are_refused_from_every_webhook_source(hub_request: str, source: str) -> None:
    with pytest.raises(InvalidEventError) as exc:
        parse_cloud_event(envelope("time_entry.rejected", type=hub_request, source=source), expected_source=source)
    assert exc.value.field == "type"


def test_an_unknown_type_is_refused() -> None:
    with pytest.raises(InvalidEventError) as exc:
        parse_cloud_event(envelope("time_entry.rejected", type="time_entry.deleted"), expected_source="psa")
    assert exc.value.field == "type"
    with pytest.raises(InvalidEventError, match="unknown event type"):
        parse_event_data("time_entry.deleted", {})


@pytest.mark.parametrize("attribute", ["specversion", "id", "source", "type", "time", "data"])
def test_required_envelope_attributes_are_named(attribute: str) -> None:
    event = envelope("time_entry.rejected")
    del event[attribute]
    with pytest.raises(InvalidEventError) as exc:
        parse_cloud_event(event, expected_source="psa")
    assert exc.value.field == attribute


def test_time_needs_a_zone() -> None:
    with pytest.raises(InvalidEventError) as exc:
        parse_cloud_event(envelope("time_entry.rejected", time="2026-03-16T09:30:00"), expected_source="psa")
    assert exc.value.field == "time"


def test_data_errors_are_reported_under_data() -> None:
    with pytest.raises(InvalidEventError) as exc:
        parse_cloud_event(envelope("time_entry.rejected", {"entry_id": "TE-1"}), expected_source="psa")
    assert exc.value.field == "data.revision"


def test_extensions_are_kept_and_correlationid_is_read() -> None:
    event = parse_cloud_event(
        envelope("time_entry.rejected", correlationid="corr-7", traceparent="00-abc"), expected_source="psa"
    )
    assert event.correlationid == "corr-7"
    assert event.model_extra == {"traceparent": "00-abc"}


def test_a_correlationid_with_spaces_is_refused() -> None:
    with pytest.raises(InvalidEventError) as exc:
        parse_cloud_event(envelope("time_entry.rejected", correlationid="a b"), expected_source="psa")
    assert exc.value.field == "correlationid"


def test_an_event_must_be_an_object() -> None:
    with pytest.raises(InvalidEventError, match="JSON object"):
        parse_cloud_event(["not", "an", "event"], expected_source="psa")


def test_field_path_renders_indexes() -> None:
    assert field_path(("days", 1, "hours"), prefix="data") == "data.days[1].hours"
    assert field_path(()) == ""


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)


@given(event_type=st.sampled_from(sorted(DATA_BY_TYPE)), key=st.text(max_size=20), value=json_values)
def test_any_change_to_data_parses_or_fails_with_a_named_field(event_type: str, key: str, value: Any) -> None:
    data = copy.deepcopy(DATA_BY_TYPE[event_type])
    target = key if key else next(iter(data))
    data[target] = value
    try:
        parse_event_data(event_type, data)
    except InvalidEventError as error:
        assert error.field is not None and error.field.startswith("data")
