from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from billbridge.adapters.vendors.netsuite import NetSuiteInvoicePolling, invoices_modified_since, map_invoice_record
from billbridge.adapters.vendors.vendor_api_client import CallBudget, StaticToken, VendorApiClient
from billbridge.app.canonical_events import parse_cloud_event
from billbridge.app.poll_vendor_source import PollLimits, PollVendorSource
from billbridge.app.vendor_adapters import PollCursor, Skipped
from billbridge.local.vendor_stand_ins import InProcessTransport, NetSuiteStandIn

from tests.fakes.vendor_fixtures import fixture_json
from tests.fakes.vendors import CanonicalHub, InMemoryPollCursors

ORIGIN = "https://1234567.suitetalk.api.netsuite.com"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def invoice(record_id: int, modified: str, proposal: str | None = "SOW-GLX-DE-7-2026-02") -> dict[str, Any]:
    return {
        "id": str(record_id),
        "tranId": f"INV-DE-{record_id}",
        "tranDate": "2026-04-01",
        "externalId": proposal,
        "subtotal": Decimal("4200.00"),
        "taxTotal": Decimal("798.00"),
        "total": Decimal("4998.00"),
        "currency": "4",
        "lastModifiedDate": modified,
    }


class Rig:
    def __init__(
        self,
        *,
        requests_per_window: int = 1000,
        window_seconds: float = 1.0,
        page_size: int = 2,
        max_pages: int = 20,
        overlap_seconds: int = 300,
    ) -> None:
        self.clock = Clock()
        self.stand_in = NetSuiteStandIn(
            requests_per_window=requests_per_window, window_seconds=window_seconds, clock=self.clock
        )
        self.client = VendorApiClient(
            vendor="netsuite",
            base_url=f"{ORIGIN}/services/rest",
            transport=InProcessTransport({ORIGIN: self.stand_in}),
            token=StaticToken(self.stand_in.token),
            requests_per_second=1000,
            burst=1000,
            budget=CallBudget(max_attempts=6, max_wait_seconds=60),
            sleep=self.clock.sleep,
            clock=self.clock,
            wall_clock=self.clock,
        )
        self.hub = CanonicalHub()
        self.cursors = InMemoryPollCursors()
        self.poller = PollVendorSource(
            name="erp/netsuite",
            source=NetSuiteInvoicePolling(self.client, overlap_seconds=overlap_seconds),
            cursors=self.cursors,
            raw_payloads=self.hub.raw_payloads,
            canonical=self.hub.ingest,
            clock=self.hub.clock,
            limits=PollLimits(page_size=page_size, max_pages=max_pages),
        )


def test_the_documented_invoice_record_maps_to_invoice_posted() -> None:
    record = fixture_json("netsuite/invoice-1215.json")
    event = map_invoice_record("1215", "2026-04-01 09:30:00", record, "EUR")
    assert not isinstance(event, Skipped)
    assert event["id"] == "netsuite-invoice-1215-20260401T093000"
    assert event["data"] == {
        "proposal_id": "SOW-GLX-DE-7-2026-02",
        "invoice_number": "INV-DE-1215",
        "posting_date": "2026-04-01",
        "subtotal": "4200.00",
        "tax": "798.00",
        "total": "4998.00",
        "currency": "EUR",
    }
    assert parse_cloud_event(event, expected_source="erp").type == "invoice.posted"


def test_an_invoice_without_external_id_is_not_the_hubs() -> None:
    record = fixture_json("netsuite/invoice-1215.json") | {"externalId": None}
    skipped = map_invoice_record("1215", "2026-04-01 09:30:00", record, "EUR")
    assert isinstance(skipped, Skipped) and "externalId" in skipped.reason


def test_the_query_is_keyset_ordered_and_refuses_a_corrupt_cursor() -> None:
    first = invoices_modified_since(None, overlap_seconds=300, first_page=True)
    assert first.endswith("ORDER BY lastmodifieddate, id")
    after = invoices_modified_since(PollCursor("2026-04-01 09:30:00", "1216"), overlap_seconds=300, first_page=False)
    assert "id > 1216" in after and "'2026-04-01 09:30:00'" in after
    widened = invoices_modified_since(PollCursor("2026-04-01 09:30:00", "1216"), overlap_seconds=300, first_page=True)
    assert "'2026-04-01 09:25:00'" in widened
    with pytest.raises(ValueError, match="corrupt cursor"):
        invoices_modified_since(PollCursor("2026-04-01'; DROP", "1"), overlap_seconds=0, first_page=False)


def test_a_poll_reads_every_page_and_saves_the_cursor_after_each() -> None:
    rig = Rig(page_size=2)
    for record_id, modified in (
        (1215, "2026-04-01 09:30:00"),
        (1216, "2026-04-01 09:30:00"),
        (1217, "2026-04-02 08:00:00"),
    ):
        rig.stand_in.add_invoice(invoice(record_id, modified))
    report = rig.poller.poll()
    assert (report.pages, report.events, report.accepted) == (2, 3, 3)
    assert report.cursor == PollCursor("2026-04-02 08:00:00", "1217")
    assert rig.cursors.saves == 2
    assert rig.hub.published_types() == ["invoice.posted"] * 3
    assert ("POST", "/services/rest/query/v1/suiteql") in rig.stand_in.requests
    assert ("GET", "/services/rest/record/v1/currency/4") in rig.stand_in.requests


def test_the_next_poll_resumes_after_the_cursor_and_the_overlap_is_deduplicated() -> None:
    rig = Rig(page_size=10)
    rig.stand_in.add_invoice(invoice(1215, "2026-04-01 09:20:00"))
    rig.stand_in.add_invoice(invoice(1216, "2026-04-01 09:31:00"))
    first = rig.poller.poll()
    assert first.accepted == 2
    rig.stand_in.add_invoice(invoice(1217, "2026-04-01 10:00:00"))
    second = rig.poller.poll()
    # 1216 falls inside the 5-minute overlap: read again, the same delivery, a duplicate.
    assert (second.events, second.accepted, second.duplicates) == (2, 1, 1)
    assert len(rig.hub.publisher.published) == 3
    assert rig.cursors.load("erp/netsuite") == PollCursor("2026-04-01 10:00:00", "1217")


def test_a_new_version_of_an_invoice_is_a_new_event() -> None:
    rig = Rig()
    rig.stand_in.add_invoice(invoice(1215, "2026-04-01 09:30:00"))
    rig.poller.poll()
    rig.stand_in.add_invoice(invoice(1215, "2026-04-03 12:00:00"))
    report = rig.poller.poll()
    assert report.accepted == 1
    ids = [e.detail["delivery"]["id"] for e in rig.hub.publisher.published]
    assert ids == ["netsuite-invoice-1215-20260401T093000", "netsuite-invoice-1215-20260403T120000"]


def test_the_rate_limit_is_waited_out_and_nothing_is_lost() -> None:
    rig = Rig(requests_per_window=3, window_seconds=1.0, page_size=2)
    for record_id in range(1215, 1221):
        rig.stand_in.add_invoice(invoice(record_id, f"2026-04-01 09:{record_id - 1200:02d}:00"))
    report = rig.poller.poll()
    assert report.accepted == 6 and report.stopped_early is None
    assert rig.client.throttled > 0 and rig.clock.slept


def test_a_vendor_outage_stops_the_poll_without_moving_the_cursor_past_the_unread() -> None:
    rig = Rig(page_size=2)
    for record_id in (1215, 1216, 1217):
        rig.stand_in.add_invoice(invoice(record_id, f"2026-04-01 09:{record_id - 1200:02d}:00"))
    rig.stand_in.token = "rotated"  # our token no longer works: every call answers 401
    report = rig.poller.poll()
    assert report.stopped_early is not None and "unavailable" in report.stopped_early
    assert rig.cursors.load("erp/netsuite") is None and report.accepted == 0
    rig.stand_in.token = "netsuite-token-local"
    assert rig.poller.poll().accepted == 3


def test_the_page_budget_bounds_one_poll_and_the_next_continues() -> None:
    rig = Rig(page_size=1, max_pages=2)
    for record_id in (1215, 1216, 1217):
        rig.stand_in.add_invoice(invoice(record_id, f"2026-04-01 09:{record_id - 1200:02d}:00"))
    first = rig.poller.poll()
    assert first.accepted == 2 and first.stopped_early and "page budget" in first.stopped_early
    second = rig.poller.poll()
    assert second.accepted == 1


def test_an_invoice_the_hub_cannot_accept_is_reported_with_its_field() -> None:
    rig = Rig()
    bad = invoice(1215, "2026-04-01 09:30:00")
    rig.stand_in.add_invoice(bad)
    rig.stand_in.currencies["4"]["symbol"] = "EURO"  # not an ISO 4217 code
    report = rig.poller.poll()
    assert report.rejected == 1
    assert "currency" in report.rejections[0]


def test_the_time_budget_bounds_one_poll_and_the_next_continues() -> None:
    rig = Rig(page_size=1, max_pages=10)
    rig.poller._limits = PollLimits(page_size=1, max_pages=10, max_seconds=60)
    for record_id in (1215, 1216, 1217):
        rig.stand_in.add_invoice(invoice(record_id, f"2026-04-01 09:{record_id - 1200:02d}:00"))
    real_read = rig.poller._source.read_page

    def slow_read(*args: Any, **kwargs: Any) -> Any:
        rig.hub.clock.advance(45)  # each page takes 45 s at the vendor's pace
        return real_read(*args, **kwargs)

    rig.poller._source.read_page = slow_read  # type: ignore[method-assign]
    first = rig.poller.poll()
    assert first.accepted == 2 and first.stopped_early and "time budget" in first.stopped_early
    assert rig.poller.poll().accepted == 1
