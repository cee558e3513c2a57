"""Vendor adapters: mapping throughput and the API calls a poll costs (in process, no network).

    python -m benchmarks.vendor_adapters [--quick]

- DocuSign Connect: `envelope-completed` messages (the documented fixture) translated per second.
- Xero: invoices (as `GET /Invoices/{id}` answers them) mapped to canonical events per second.
- NetSuite: one poll of N invoices through the in-process stand-in and the canonical path on
  in-memory fakes: pages, vendor API calls per invoice, and the wall time of the poll when the
  client is paced at NetSuite's default of 5 requests a second (computed from the calls: the
  pace, not the hub, bounds a poll).
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
    from billbridge.localstack.vendor_stand_ins import InProcessTransport, NetSuiteStandIn

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
    return {
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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    print(json.dumps(run(parser.parse_args().quick), indent=2))
