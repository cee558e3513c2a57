"""Vendor adapters: mapping throughput and the API calls a poll costs (in process, no network).

    python -m benchmarks.vendor_adapters [--quick]

- DocuSign Connect: `envelope-completed` messages (the documented fixture) translated per second.
- Xero: invoices (as `GET /Invoices/{id}` answers them) mapped to canonical events per second.
- NetSuite: one poll of N invoices through the in-process stand-in and the canonical path on
  in-memory fakes: pages, vendor API calls per invoice, and the wall time of the poll when the
  client is paced at NetSuite's default of 5 requests a second (computed from the calls: the
  pace, not the hub, bounds a poll).
- Kantata OX: one poll of N approved time entries (and N/10 expenses) through its stand-in:
  list pages, API calls per object, unpaced wall time and the time at the default 2 requests/s.
- Salesforce: one poll of N Accounts through its stand-in (token, SOQL keyset pages of 200).
- NetSuite's machine-to-machine token: the cost of signing one client assertion (PS256).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "vendors"
DEFAULT_RATE = 5.0


def _rate(function: Any, repeat: int) -> float:
    samples = []
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(repeat):
            function()
        samples.append(repeat / (time.perf_counter() - started))
    return statistics.median(samples)


def run(quick: bool = False) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from billbridge.adapters.vendors.docusign_connect import DocuSignFieldMap, translate_connect_message
    from billbridge.adapters.vendors.netsuite import NetSuiteInvoicePolling
    from billbridge.adapters.vendors.vendor_api_client import StaticToken, VendorApiClient
    from billbridge.adapters.vendors.xero import map_invoice
    from billbridge.app.poll_vendor_source import PollLimits, PollVendorSource
    from billbridge.local.vendor_stand_ins import InProcessTransport, NetSuiteStandIn

    from tests.fakes.vendors import CanonicalHub, InMemoryPollCursors

    repeat = 200 if quick else 2000
    envelope = json.loads((FIXTURES / "docusign" / "envelope-completed.json").read_text())
    fields = DocuSignFieldMap()
    invoice = json.loads((FIXTURES / "xero" / "invoice-paid.json").read_text(), parse_float=Decimal)["Invoices"][0]

    invoices = 200 if quick else 2000
    origin = "https://1234567.suitetalk.api.netsuite.com"
    stand_in = NetSuiteStandIn(requests_per_window=10**9)
    for n in range(invoices):
        stand_in.add_invoice(
            {
                "id": str(10_000 + n),
                "tranId": f"INV-{n}",
                "tranDate": "2026-04-01",
                "externalId": f"SOW-B-{n}",
                "subtotal": Decimal("100.00"),
                "taxTotal": Decimal("19.00"),
                "total": Decimal("119.00"),
                "currency": "4",
                "lastModifiedDate": f"2026-04-01 {9 + n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}",
            }
        )
    client = VendorApiClient(
        vendor="netsuite",
        base_url=f"{origin}/services/rest",
        transport=InProcessTransport({origin: stand_in}),
        token=StaticToken(stand_in.token),
        requests_per_second=10**6,
        burst=10**6,
    )
    hub = CanonicalHub()
    poller = PollVendorSource(
        name="erp/netsuite",
        source=NetSuiteInvoicePolling(client),
        cursors=InMemoryPollCursors(),
        raw_payloads=hub.raw_payloads,
        canonical=hub.ingest,
        clock=hub.clock,
        limits=PollLimits(page_size=100, max_pages=1000),
    )
    started = time.perf_counter()
    report = poller.poll()
    poll_seconds = time.perf_counter() - started
    kantata = _kantata_poll(200 if quick else 2000)
    salesforce = _salesforce_poll(200 if quick else 2000)
    return {
        **kantata,
        **salesforce,
        "netsuite_assertion_sign_ms": _assertion_ms(stand_in),
        "docusign_messages_per_s": round(_rate(lambda: translate_connect_message(envelope, fields), repeat)),
        "xero_invoices_per_s": round(_rate(lambda: map_invoice(invoice), repeat)),
        "netsuite_invoices": invoices,
        "netsuite_pages": report.pages,
        "netsuite_api_calls": report.requests,
        "netsuite_calls_per_invoice": round(report.requests / invoices, 3),
        "netsuite_accepted": report.accepted,
        "netsuite_poll_s_unpaced": round(poll_seconds, 2),
        "netsuite_poll_s_at_5_rps": round(report.requests / DEFAULT_RATE, 1),
    }


def _kantata_poll(entries: int) -> dict[str, Any]:
    from billbridge.adapters.vendors.kantata import KantataActualsPolling, KantataMapping, WorkspaceLink
    from billbridge.adapters.vendors.vendor_api_client import StaticToken, VendorApiClient
    from billbridge.app.poll_vendor_source import PollLimits, PollVendorSource
    from billbridge.local.vendor_stand_ins import InProcessTransport, KantataStandIn

    from tests.fakes.vendors import CanonicalHub, InMemoryPollCursors

    origin = "https://api.mavenlink.com"
    stand_in = KantataStandIn(requests_per_window=10**9)
    stand_in.roles = {"301": {"id": "301", "name": "Consultant"}}
    for n in range(entries):
        stamp = f"2026-03-20T{9 + n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z"
        stand_in.time_entries[str(100_000 + n)] = {
            "id": str(100_000 + n), "updated_at": stamp, "date_performed": "2026-03-16", "time_in_minutes": 480,
            "billable": True, "approved": True, "workspace_id": "41001", "user_id": "5003", "role_id": "301",
            "rate_in_cents": 15000, "currency": "USD", "currency_base_unit": 100,
        }  # fmt: skip
        if n % 10 == 0:
            stand_in.expenses[str(200_000 + n)] = {
                "id": str(200_000 + n), "updated_at": stamp, "date": "2026-03-16", "category": "Travel",
                "amount_in_cents": 12550, "currency": "USD", "currency_base_unit": 100, "is_billable": True,
                "workspace_id": "41001",
            }  # fmt: skip
    client = VendorApiClient(
        vendor="kantata",
        base_url=f"{origin}/api/v1",
        transport=InProcessTransport({origin: stand_in}),
        token=StaticToken(stand_in.token),
        requests_per_second=10**6,
        burst=10**6,
    )
    hub = CanonicalHub()
    mapping = KantataMapping(workspaces={"41001": WorkspaceLink("SOW-1001", "CC-100")})
    poller = PollVendorSource(
        name="psa/kantata",
        source=KantataActualsPolling(client, mapping),
        cursors=InMemoryPollCursors(),
        raw_payloads=hub.raw_payloads,
        canonical=hub.ingest,
        clock=hub.clock,
        limits=PollLimits(page_size=200, max_pages=1000),
    )
    started = time.perf_counter()
    report = poller.poll()
    seconds = time.perf_counter() - started
    objects = entries + len(stand_in.expenses)
    return {
        "kantata_objects": objects,
        "kantata_api_calls": report.requests,
        "kantata_calls_per_object": round(report.requests / objects, 3),
        "kantata_accepted": report.accepted,
        "kantata_poll_s_unpaced": round(seconds, 2),
        "kantata_poll_s_at_2_rps": round(report.requests / 2.0, 1),
    }


def _salesforce_poll(accounts: int) -> dict[str, Any]:
    from billbridge.adapters.vendors.vendor_registry import VendorRegistry
    from billbridge.app.poll_vendor_source import PollLimits, PollVendorSource
    from billbridge.app.system_of_record import SystemsOfRecord
    from billbridge.local.vendor_stand_ins import InProcessTransport, SalesforceStandIn

    from tests.fakes.edge import InMemoryWebhookSecrets
    from tests.fakes.vendors import CanonicalHub

    stand_in = SalesforceStandIn()
    for n in range(accounts):
        stand_in.add_account(
            {
                "Id": f"001Dn{n:013d}", "AccountNumber": f"CUST-{n}", "Name": f"Customer {n}",
                "BillingStreet": "1 Main St", "BillingCity": "New York", "BillingPostalCode": "10001",
                "BillingCountryCode": "US", "Tax_Jurisdiction__c": "US-NY", "CurrencyIsoCode": "USD",
                "Payment_Terms_Days__c": 30, "Parent": None,
                "SystemModstamp": f"2026-03-20T{9 + n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}.000+0000",
            }
        )  # fmt: skip
    registry = VendorRegistry(
        {"crm/salesforce": {"instance_url": stand_in.instance, "requests_per_second": 10**6}},
        secrets=InMemoryWebhookSecrets({"api:crm/salesforce": [stand_in.client_id, stand_in.client_secret]}),
        transport=InProcessTransport({stand_in.instance: stand_in}),
    )
    setup = registry.polling_sources()["crm/salesforce"]
    hub = CanonicalHub(systems_of_record=SystemsOfRecord.parse({"customer": "crm"}))
    poller = PollVendorSource(
        name="crm/salesforce",
        source=setup.source,
        cursors=_TextCursors(),
        raw_payloads=hub.raw_payloads,
        canonical=hub.ingest,
        clock=hub.clock,
        limits=PollLimits(page_size=200, max_pages=1000),
    )
    started = time.perf_counter()
    report = poller.poll()
    seconds = time.perf_counter() - started
    return {
        "salesforce_accounts": accounts,
        "salesforce_api_calls": len(stand_in.requests),
        "salesforce_accepted": report.accepted,
        "salesforce_poll_s_unpaced": round(seconds, 2),
    }


class _TextCursors:
    def __init__(self) -> None:
        self.cursor: Any = None

    def load(self, poller: str) -> Any:
        return self.cursor

    def save(self, poller: str, cursor: Any, *, polled_at: Any) -> None:
        self.cursor = cursor


def _assertion_ms(stand_in: Any) -> float:
    from billbridge.adapters.vendors.netsuite_oauth import MachineCredentials, signed_assertion

    credentials = MachineCredentials(stand_in.client_id, stand_in.certificate_id, stand_in.private_key_pem)
    samples = []
    for n in range(20):
        started = time.perf_counter()
        signed_assertion(
            credentials,
            token_url="https://1234567.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token",
            scopes=("rest_webservices",),
            algorithm="PS256",
            issued_at=1_775_000_000,
            jwt_id=str(n),
        )
        samples.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(samples), 2)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    print(json.dumps(run(parser.parse_args().quick), indent=2))
