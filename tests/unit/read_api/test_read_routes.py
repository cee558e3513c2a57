"""Every read route: refused without a caller, paginated with cursors that round-trip, filtered.

The hub replayed the customer-master scenario through the use cases (six contracts,
invoices, customer exceptions, unbilled lines); the handler runs over it with no AWS."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.fakes.read_ledger import ReadableHub
from tests.unit.read_api.conftest import ReadCall

ROUTES = [
    "/contracts",
    "/contracts/SOW-7001",
    "/invoices",
    "/invoices/ANY",
    "/exceptions",
    "/exceptions/ANY",
    "/lineage/ANY",
    "/kpis",
    "/unbilled",
]
LISTINGS = ["/contracts", "/invoices", "/exceptions", "/unbilled"]


def all_pages(read: ReadCall, path: str, query: dict[str, Any], limit: int) -> list[list[dict[str, Any]]]:
    pages, cursor = [], None
    while True:
        status, body = read(path, {**query, "limit": limit, "cursor": cursor})
        assert status == 200, body
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


@pytest.mark.parametrize("path", ROUTES)
def test_a_request_without_a_caller_identity_is_refused(read: ReadCall, path: str) -> None:
    status, body = read(path, caller=None)
    assert status == 403
    assert "authenticated caller" in body["message"]


def test_contracts_page_through_every_contract_once_in_order(read: ReadCall, hub: ReadableHub) -> None:
    pages = all_pages(read, "/contracts", {}, limit=4)
    ids = [item["contract_id"] for page in pages for item in page]
    assert ids == sorted(hub.ledger.contract_ids())
    assert len(pages) == 2 and len(pages[0]) == 4


@pytest.mark.parametrize("limit", [1, 2, 3, 50])
def test_invoices_cursor_round_trip_serves_each_invoice_once(read: ReadCall, hub: ReadableHub, limit: int) -> None:
    served = [i["proposal_id"] for page in all_pages(read, "/invoices", {}, limit) for i in page]
    expected = sorted(
        (i for b in hub.ledger.books() for i in b.invoices.values()), key=lambda i: (i.contract_id, i.period, i.seq)
    )
    assert served == [i.proposal_id for i in expected]


@pytest.mark.parametrize("cursor", ["not-a-cursor", "e30", "eyJ2IjoxfQ", "A" * 3000])
def test_a_cursor_the_api_did_not_issue_is_a_400_naming_cursor(read: ReadCall, cursor: str) -> None:
    status, body = read("/contracts", {"cursor": cursor})
    assert status in (400, 422)  # 422 is Powertools' own check of the parameter's length
    assert "cursor" in str(body)


def test_a_cursor_of_another_listing_or_other_filters_is_refused(read: ReadCall) -> None:
    _, first = read("/invoices", {"limit": 1, "status": "proposed"})
    assert first["next_cursor"]
    status, body = read("/contracts", {"cursor": first["next_cursor"]})
    assert (status, body["field"]) == (400, "cursor")
    status, body = read("/invoices", {"cursor": first["next_cursor"], "status": "posted"})
    assert (status, body["field"]) == (400, "cursor")
    assert "other filters" in body["message"]
    status, body = read("/invoices", {"cursor": first["next_cursor"], "status": "proposed", "limit": 1})
    assert status == 200


def test_invoices_filter_by_contract_period_and_status(read: ReadCall, hub: ReadableHub) -> None:
    invoices = [i for b in hub.ledger.books() for i in b.invoices.values()]
    some = invoices[0]
    _, by_contract = read("/invoices", {"contract_id": some.contract_id})
    assert {i["contract_id"] for i in by_contract["items"]} == {some.contract_id}
    assert len(by_contract["items"]) == sum(1 for i in invoices if i.contract_id == some.contract_id)
    _, by_period = read("/invoices", {"period": some.period})
    assert {i["period"] for i in by_period["items"]} == {some.period}
    _, by_status = read("/invoices", {"status": "paid"})
    assert by_status["items"] == [] and not any(i.status.value == "paid" for i in invoices)
    _, proposed = read("/invoices", {"status": "proposed"})
    assert len(proposed["items"]) == sum(1 for i in invoices if i.status.value == "proposed")


@pytest.mark.parametrize(
    ("query", "field"),
    [({"status": "sent"}, "status"), ({"period": "2026-13"}, "period"), ({"limit": 0}, "limit")],
)
def test_a_bad_filter_is_refused_naming_it(read: ReadCall, query: dict[str, Any], field: str) -> None:
    status, body = read("/invoices", query)
    assert status == 422
    assert [e["loc"] for e in body["detail"]] == [["query", field]]


def test_an_invoice_has_its_lines_with_what_priced_them(read: ReadCall, hub: ReadableHub) -> None:
    invoice = next(i for b in hub.ledger.books() for i in b.invoices.values() if i.lines)
    status, body = read(f"/invoices/{invoice.proposal_id}")
    assert status == 200
    assert body["total"] == f"{invoice.total:.2f}"
    line = body["lines"][0]
    assert line["contract_version"] == invoice.lines[0].contract_version
    assert line["rules"] == list(invoice.lines[0].rules) and line["source_refs"]
    status, body = read("/invoices/P-NOPE")
    assert status == 404 and "P-NOPE" in body["message"]


def test_contract_detail_has_versions_id_map_and_propagation(read: ReadCall, hub: ReadableHub) -> None:
    contract_id = hub.ledger.contract_ids()[0]
    status, body = read(f"/contracts/{contract_id}")
    assert status == 200
    assert body["versions"] and body["versions"][0]["version"] == 1
    assert {p["system"] for p in body["propagation"]} == {c.system for c in hub.commands.of_contract(contract_id)}
    assert body["ids"] == hub.ledger.mapping(contract_id)
    assert read("/contracts/SOW-NOPE")[0] == 404


def test_exceptions_filter_by_state_type_and_age(read: ReadCall, hub: ReadableHub) -> None:
    exceptions = [e for b in hub.ledger.books() for e in b.exceptions.values()]
    _, everything = read("/exceptions", {"limit": 200})
    assert len(everything["items"]) == len(exceptions)
    kind = exceptions[0].type.value
    _, of_type = read("/exceptions", {"type": kind})
    assert {e["type"] for e in of_type["items"]} == {kind}
    assert len(of_type["items"]) == sum(1 for e in exceptions if e.type.value == kind)
    _, open_ones = read("/exceptions", {"state": "open"})
    assert {e["state"] for e in open_ones["items"]} <= {"open"}
    assert len(open_ones["items"]) == sum(1 for e in exceptions if e.state.value == "open")
    # every exception was raised on the hub clock's day; 10 days on, all are at least 10 days old
    later = (hub.clock.now() + timedelta(days=10)).date().isoformat()
    _, aged = read("/exceptions", {"min_age_days": 10, "as_of": later})
    assert len(aged["items"]) == len(exceptions) and {e["age_days"] for e in aged["items"]} == {10}
    _, too_young = read("/exceptions", {"min_age_days": 11, "as_of": later})
    assert too_young["items"] == []


def test_an_exception_is_explained(read: ReadCall, hub: ReadableHub) -> None:
    exception = next(e for b in hub.ledger.books() for e in b.exceptions.values())
    status, body = read(f"/exceptions/{exception.exception_id}")
    assert status == 200
    assert body["type"] == exception.type.value and body["how_to_resolve"]
    assert read("/exceptions/EX-NOPE")[0] == 404


def test_lineage_of_an_invoice_goes_down_to_its_lines(read: ReadCall, hub: ReadableHub) -> None:
    invoice = next(i for b in hub.ledger.books() for i in b.invoices.values() if i.lines)
    status, body = read(f"/lineage/{invoice.proposal_id}")
    assert status == 200
    assert body["query"] == invoice.proposal_id
    assert {line["line_id"] for line in body["lines"]} == {line.line_id for line in invoice.lines}
    status, body = read("/lineage/NOTHING-KNOWN")
    assert status == 404


def test_kpis_are_the_reports_sections_from_the_ledger(read: ReadCall, hub: ReadableHub) -> None:
    status, body = read("/kpis", {"as_of": "2026-04-30"})
    assert status == 200
    assert body["as_of"] == "2026-04-30" and body["contracts"] == len(hub.ledger.contract_ids())
    assert body["unbilled"]["buckets"] == ["0-30", "31-60", "61-90", "90+"]
    assert "dead_lettered_messages" not in body["integration_failures"]


def test_unbilled_work_by_age(read: ReadCall, hub: ReadableHub) -> None:
    _, lines = read("/unbilled", {"as_of": "2026-03-31"})
    unbilled = [
        line
        for b in hub.ledger.books()
        for line in b.lines.values()
        if line.invoice_id is None and line.kind in ("time", "expense", "milestone", "adjustment")
    ]
    assert len(lines["items"]) == len(unbilled) > 0
    oldest = max(item["age_days"] for item in lines["items"])
    _, old = read("/unbilled", {"as_of": "2026-03-31", "min_age_days": oldest})
    assert old["items"] and {item["age_days"] for item in old["items"]} == {oldest}
    _, none = read("/unbilled", {"as_of": "2026-03-31", "min_age_days": oldest + 1})
    assert none["items"] == []
    assert all(item["age_bucket"] == "0-30" for item in lines["items"] if item["age_days"] <= 30)
