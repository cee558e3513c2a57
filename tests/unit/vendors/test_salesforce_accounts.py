"""Salesforce Accounts -> customer.upserted: documented query answers, the field mapping as configuration,
keyset polling on SystemModstamp (resume, overlap, locators, limits), the client credentials token."""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from billbridge.adapters.vendors.salesforce import (
    SalesforceAccountFields,
    account_query,
    map_account,
)
from billbridge.adapters.vendors.vendor_registry import VendorConfigurationError, VendorRegistry
from billbridge.app.canonical_events import parse_cloud_event
from billbridge.app.poll_vendor_source import PollLimits, PollVendorSource
from billbridge.app.system_of_record import SystemsOfRecord
from billbridge.app.vendor_adapters import PollCursor, Skipped, VendorPayloadError
from billbridge.local.vendor_stand_ins import InProcessTransport, SalesforceStandIn

from tests.fakes.edge import InMemoryWebhookSecrets
from tests.fakes.vendor_fixtures import fixture_json
from tests.fakes.vendors import CanonicalHub, InMemoryPollCursors

INSTANCE = "https://billbridge-demo.my.salesforce.com"
FIELDS = SalesforceAccountFields(erp_customer_ids={"erp-eu": "NetSuite_Customer_Id__c"})


def records() -> list[dict[str, Any]]:
    return list(fixture_json("salesforce/account-query.json")["records"])


def stored(record: dict[str, Any]) -> dict[str, Any]:
    """An Account as the stand-in keeps it (the query answer without its attributes)."""
    account = {k: v for k, v in copy.deepcopy(record).items() if k != "attributes"}
    if isinstance(account.get("Parent"), dict):
        account["Parent"].pop("attributes", None)
    return account


class Rig:
    def __init__(
        self,
        *,
        page_size: int = 200,
        batch_size: int = 2000,
        daily_requests: int = 1000,
        crm_owns_customers: bool = True,
    ) -> None:
        self.stand_in = SalesforceStandIn(batch_size=batch_size, daily_requests=daily_requests)
        owners = SystemsOfRecord.parse({"customer": "crm"}) if crm_owns_customers else None
        self.hub = CanonicalHub(systems_of_record=owners)
        secrets = InMemoryWebhookSecrets({"api:crm/salesforce": [self.stand_in.client_id, self.stand_in.client_secret]})
        registry = VendorRegistry(
            {
                "crm/salesforce": {
                    "instance_url": INSTANCE,
                    "requests_per_second": 1000,
                    "fields": {"erp_customer_ids": {"erp-eu": "NetSuite_Customer_Id__c"}},
                }
            },
            secrets=secrets,
            transport=InProcessTransport({INSTANCE: self.stand_in}),
            sleep=lambda s: None,
        )
        self.setup = registry.polling_sources()["crm/salesforce"]
        self.cursors = InMemoryCursorsById()
        self.poller = PollVendorSource(
            name="crm/salesforce",
            source=self.setup.source,
            cursors=self.cursors,
            raw_payloads=self.hub.raw_payloads,
            canonical=self.hub.ingest,
            clock=self.hub.clock,
            limits=PollLimits(page_size=page_size, max_pages=20),
        )
        for record in records():
            self.stand_in.add_account(stored(record))


class InMemoryCursorsById(InMemoryPollCursors):
    """Salesforce ids are not numbers: ordered as text, as the DynamoDB store orders them."""

    def save(self, poller: str, cursor: PollCursor, *, polled_at: Any) -> None:
        current = self.cursors.get(poller)
        if current is None or (cursor.modified, cursor.record_id) >= (current.modified, current.record_id):
            self.cursors[poller] = cursor
            self.saves += 1


def test_every_mapped_field_of_the_documented_account() -> None:
    event = map_account(records()[0], FIELDS)
    assert not isinstance(event, Skipped)
    assert event["id"] == "salesforce-account-001Dn00000GLXAAA-20260105T142011Z"
    assert event["source"] == "crm" and event["type"] == "customer.upserted"
    assert event["data"] == {
        "customer_id": "CUST-GLOBEX",
        "version": 1767622811,
        "effective_date": "2026-01-05",
        "name": "Globex Corporation",
        "status": "active",
        "parent_customer_id": "CUST-GLOBEX-GROUP",
        "bill_to": {"line1": "100 Industrial Way", "city": "Springfield", "postal_code": "49007", "country": "US"},
        "tax_profile": {"jurisdiction": "US-MI"},
        "currency": "USD",
        "payment_terms": {"net_days": 30},
        "crm_account_id": "001Dn00000GLXAAA",
    }
    assert parse_cloud_event(event, expected_source="crm").type == "customer.upserted"


def test_an_account_without_a_customer_number_is_a_prospect_and_skipped_with_the_reason() -> None:
    skipped = map_account(records()[1], FIELDS)
    assert isinstance(skipped, Skipped)
    assert skipped.reason == "no customer number in AccountNumber: not a billing customer"


def test_the_tenants_custom_fields_are_configuration() -> None:
    fields = SalesforceAccountFields.from_config(
        {
            "fields": {
                "customer_id": "Customer_Number__c",
                "status": "Billing_Status__c",
                "erp_customer_ids": {"erp-eu": "NetSuite_Customer_Id__c"},
            }
        }
    )
    record = dict(records()[0], Customer_Number__c="C-77", Billing_Status__c="Inactive", NetSuite_Customer_Id__c="4411")
    event = map_account(record, fields)
    assert not isinstance(event, Skipped)
    assert event["data"]["customer_id"] == "C-77"
    assert event["data"]["status"] == "inactive"
    assert event["data"]["erp_customer_ids"] == [{"erp_instance": "erp-eu", "customer_id": "4411"}]
    assert "Customer_Number__c" in account_query(fields, None, overlap_seconds=300, first_page=True, limit=10)
    with pytest.raises(ValueError, match="unknown fields rate"):
        SalesforceAccountFields.from_config({"fields": {"rate": "X__c"}})
    with pytest.raises(ValueError, match=r"fields\.customer_id must be a field API name"):
        SalesforceAccountFields.from_config({"fields": {"customer_id": "Id; DELETE"}})


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"Tax_Jurisdiction__c": None}, "Tax_Jurisdiction__c"),
        ({"BillingCountryCode": None}, "BillingCountryCode"),
        ({"Payment_Terms_Days__c": 30.5}, "Payment_Terms_Days__c"),
        ({"CurrencyIsoCode": ""}, "CurrencyIsoCode"),
        ({"SystemModstamp": "last tuesday"}, "SystemModstamp"),
    ],
)
def test_a_billing_customer_missing_a_term_is_refused_naming_the_salesforce_field(
    change: dict[str, Any], field: str
) -> None:
    with pytest.raises(VendorPayloadError) as refused:
        map_account(dict(records()[0], **change), FIELDS)
    assert refused.value.field_path == field


def test_the_keyset_query_is_the_documented_soql() -> None:
    after = PollCursor("2026-01-05T14:20:11Z", "001Dn00000GLXAAA", caught_up=False)
    query = account_query(FIELDS, after, overlap_seconds=300, first_page=False, limit=200)
    assert query.endswith(
        "FROM Account WHERE SystemModstamp > 2026-01-05T14:20:11Z OR (SystemModstamp = 2026-01-05T14:20:11Z"
        " AND Id > '001Dn00000GLXAAA') ORDER BY SystemModstamp, Id LIMIT 200"
    )
    caught_up = account_query(
        FIELDS, PollCursor("2026-01-05T14:20:11Z", "001Dn00000GLXAAA"), overlap_seconds=300, first_page=True, limit=200
    )
    assert "WHERE SystemModstamp >= 2026-01-05T14:15:11Z ORDER BY" in caught_up
    with pytest.raises(ValueError, match="corrupt cursor"):
        account_query(FIELDS, PollCursor("2026-01-05", "x' OR Id != '"), overlap_seconds=0, first_page=False, limit=1)


def test_a_poll_publishes_customers_through_the_token_and_query_of_the_documented_api() -> None:
    rig = Rig()
    report = rig.poller.poll()
    assert (report.accepted, report.rejected) == (1, 0)
    assert [s.reason for s in report.skipped] == ["no customer number in AccountNumber: not a billing customer"]
    assert rig.hub.published_types() == ["customer.upserted"]
    assert ("POST", "/services/oauth2/token") in rig.stand_in.requests
    assert report.cursor == PollCursor("2026-01-05T14:25:00Z", "001Dn00000PRSPCT", caught_up=True)


def test_the_next_poll_reads_the_overlap_as_duplicates_and_a_change_as_a_new_version() -> None:
    rig = Rig()
    rig.poller.poll()
    again = rig.poller.poll()
    assert (again.accepted, again.duplicates) == (0, 1)
    changed = dict(rig.stand_in.accounts["001Dn00000GLXAAA"], SystemModstamp="2026-02-01T09:00:00.000+0000")
    changed["Payment_Terms_Days__c"] = 45
    rig.stand_in.add_account(changed)
    third = rig.poller.poll()
    assert third.accepted == 1
    latest = rig.hub.publisher.published[-1].detail
    assert latest["event"]["data"]["payment_terms"] == {"net_days": 45}
    assert latest["event"]["data"]["version"] > 1767622811


def test_a_poll_cut_short_resumes_strictly_after_its_cursor() -> None:
    rig = Rig(page_size=1)
    rig.poller._limits = PollLimits(page_size=1, max_pages=1)
    first = rig.poller.poll()
    assert first.cursor is not None and first.cursor.record_id == "001Dn00000GLXAAA" and not first.cursor.caught_up
    second = rig.poller.poll()
    assert second.accepted == 0 and [s.reference for s in second.skipped] == ["account 001Dn00000PRSPCT"]


def test_a_result_split_behind_a_query_locator_is_followed() -> None:
    rig = Rig(batch_size=1)
    report = rig.poller.poll()
    assert report.accepted == 1 and len(report.skipped) == 1
    assert any(path.startswith("/services/data/v62.0/query/01g") for _, path in rig.stand_in.requests)


def test_the_daily_request_limit_stops_the_poll_without_moving_the_cursor() -> None:
    rig = Rig(daily_requests=0)
    report = rig.poller.poll()
    assert report.stopped_early and "vendor unavailable" in report.stopped_early
    assert rig.cursors.load("crm/salesforce") is None


def test_an_expired_access_token_is_fetched_again_once() -> None:
    rig = Rig()
    rig.poller.poll()
    rig.stand_in.token = "rotated-access-token"
    report = rig.poller.poll()
    assert report.stopped_early is None
    assert rig.stand_in.requests.count(("POST", "/services/oauth2/token")) == 2


def test_wrong_client_credentials_are_unavailable_with_the_reason() -> None:
    rig = Rig()
    rig.stand_in.client_secret = "rotated"
    report = rig.poller.poll()
    assert report.stopped_early and "invalid_client" in report.stopped_early


def test_the_instance_url_is_required() -> None:
    registry = VendorRegistry({"crm/salesforce": {}}, secrets=InMemoryWebhookSecrets({}), transport=None)  # type: ignore[arg-type]
    with pytest.raises(VendorConfigurationError, match="instance_url"):
        registry.polling_sources()


def test_the_query_parameter_is_encoded_as_the_documented_q() -> None:
    rig = Rig()
    seen: list[str] = []
    original = rig.stand_in.__call__

    def spy(method: str, path: str, headers: Any, body: bytes) -> Any:
        if path.startswith("/services/data/v62.0/query?"):
            seen.append(parse_qs(urlsplit(path).query)["q"][0])
        return original(method, path, headers, body)

    rig.setup.source._client._transport = InProcessTransport({INSTANCE: spy})  # type: ignore[attr-defined]
    rig.poller.poll()
    assert seen and seen[0].startswith("SELECT AccountNumber, BillingCity, ")


def test_without_the_crm_as_the_customers_system_of_record_the_poll_names_the_rule() -> None:
    rig = Rig(crm_owns_customers=False)
    report = rig.poller.poll()
    assert report.accepted == 0 and report.rejected == 1
    assert "customer=erp" in report.rejections[0]


def test_a_billing_customer_with_a_missing_term_fails_the_poll_naming_it_and_is_passed() -> None:
    rig = Rig()
    rig.stand_in.accounts["001Dn00000GLXAAA"]["Tax_Jurisdiction__c"] = None
    report = rig.poller.poll()
    assert report.rejections == (
        "account 001Dn00000GLXAAA: Tax_Jurisdiction__c is required (field Tax_Jurisdiction__c)",
    )
    assert report.cursor is not None and report.cursor.record_id == "001Dn00000PRSPCT"
