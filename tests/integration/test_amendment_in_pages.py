"""An amendment applied in pages on the DynamoDB ledger (moto): a contract of 24 entries read
5 at a time, 2 pages an invocation, so that a billing run, a fault and a second amendment can
fall between the amendment's pages (docs/decisions/0024-amendments-in-pages.md). End state
every time: every hour billed once, at the rate of the version that governs its day."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from billbridge.adapters.dynamo_ledger import DynamoLedger
from billbridge.app.amendment_pages import AmendmentInPages
from billbridge.app.event_translation import IngestedEvent
from billbridge.app.sync_contract import SyncContract
from billbridge.domain.model import ExceptionState, ExceptionType
from billbridge.topology import AMENDMENT_CONTINUED
from moto import mock_aws

from tests.fakes.hub import CoreHub
from tests.fakes.ledger_table import SerializedClient, create_ledger_table
from tests.reliability import test_amendment_racing_entries as racing
from tests.reliability.measures import invoiced_lines

TABLE = racing.TABLE
CONTRACT = racing.CONTRACT
EFFECTIVE = {1: date(2026, 1, 1), 2: racing.AMENDED_FROM, 3: date(2026, 3, 23)}
RATES = {**racing.RATES, 3: Decimal("170.00")}
ENTRIES = 24
PAGE_INPUTS = 5


def version(number: int) -> dict[str, Any]:
    """The suite's contract at `number`, effective and priced as `EFFECTIVE` and `RATES` say."""
    event = racing.version(min(number, 2))
    data = {
        **event["data"],
        "version": number,
        "effective_date": EFFECTIVE[number].isoformat(),
        "rate_card": [{"role": "consultant", "rate": str(RATES[number])}],
    }
    return {**event, "id": f"clm-v{number}", "data": data}


def work_day(n: int) -> date:
    return date(2026, 3, 2) + timedelta(days=n)


entry = racing.entry
"""One 8-hour day on `work_day(n)` (n < 28)."""


class FailingPuts:
    """A client whose `fail_on`-th next `PutItem` of an input's item raises (a crash between
    two of an amendment's writes); every other call goes through."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.fail_on: int | None = None
        self._seen = 0
        self.partitions_queried: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def query(self, **kwargs: Any) -> Any:
        self.partitions_queried.append(kwargs["ExpressionAttributeValues"][":pk"]["S"])
        return self._client.query(**kwargs)

    def put_item(self, **kwargs: Any) -> Any:
        if self.fail_on is not None and kwargs["Item"]["sk"]["S"].startswith("IN#"):
            self._seen += 1
            if self._seen == self.fail_on:
                self.fail_on, self._seen = None, 0
                raise ConnectionError("the consumer stopped between two writes")
        return self._client.put_item(**kwargs)


class PagedHub:
    """The core hub over the DynamoDB ledger, its contract versions applied in small pages; the
    continuation requests it publishes are kept, to be delivered when the test says."""

    def __init__(self, client: Any) -> None:
        self.hub = CoreHub(racing.CONFIG)
        self.ledger = DynamoLedger(TABLE, client=client)
        self.ledger.save_config(self.hub.ledger.load_config())
        self.hub.ledger = self.ledger  # type: ignore[assignment]
        self.sync = SyncContract(
            self.ledger,
            self.hub.publisher,
            amendments=AmendmentInPages(
                self.ledger, self.hub.publisher, page_inputs=PAGE_INPUTS, pages_per_invocation=2
            ),
        )

    def amend(self, event: dict[str, Any]) -> None:
        self.sync.handle(IngestedEvent(event["type"], event["data"], f"corr-{event['id']}", "clm", event["id"]))

    def requests(self) -> list[Any]:
        return [e for e in self.hub.publisher.events if e.detail_type == AMENDMENT_CONTINUED]

    def deliver_requests(self) -> int:
        """Deliver every continuation request, and those they lead to; how many invocations."""
        invocations = 0
        while self.requests():
            assert invocations < 50, "the amendment keeps asking for more pages"
            request = self.requests()[0]
            self.hub.publisher.events.remove(request)
            self.sync.handle(IngestedEvent.from_detail(request.detail_type, request.detail))
            invocations += 1
        return invocations

    def rerating(self) -> dict[str, Any] | None:
        return self.ledger.book_store._table.get(f"CONTRACT#{CONTRACT}", "RERATING")


@pytest.fixture
def failing() -> Iterator[FailingPuts]:
    with mock_aws():
        raw = boto3.client("dynamodb", region_name="us-east-1")
        create_ledger_table(raw, TABLE)
        yield FailingPuts(SerializedClient(raw))


@pytest.fixture
def paged(fake_aws_credentials: None, failing: FailingPuts) -> PagedHub:
    paged = PagedHub(failing)
    paged.hub.deliver(version(1))
    for n in range(ENTRIES):
        paged.hub.consume(entry(n))
    return paged


def governing(day: date, versions: tuple[int, ...]) -> int:
    return max(n for n in versions if EFFECTIVE[n] <= day)


def assert_billed_once_at_each_days_version(paged: PagedHub, versions: tuple[int, ...]) -> None:
    book = paged.ledger.load(CONTRACT).book
    counts = invoiced_lines([book])
    assert counts and max(counts.values()) == 1
    invoiced = [line for invoice in book.invoices.values() for line in invoice.lines if line.kind == "time"]
    assert sorted(line.ref for line in invoiced) == [f"TE-{n:05d}" for n in range(ENTRIES)]  # none lost
    for line in invoiced:
        (day,) = line.days
        expected = governing(day.date, versions)
        assert (line.contract_version, line.rate) == (expected, RATES[expected]), line.line_id
    assert all(line.invoice_id for line in book.lines.values() if line.kind == "time")
    retroactive = [e for e in book.exceptions.values() if e.type is ExceptionType.RETROACTIVE_CHANGE]
    assert retroactive == []


def test_an_amendment_reaches_a_contract_in_pages_and_asks_for_the_rest(paged: PagedHub) -> None:
    paged.amend(version(2))
    assert len(paged.requests()) == 1  # 2 pages of 5 applied; the rest asked for
    assert paged.rerating() is not None
    assert paged.deliver_requests() == 2  # pages 3-4, then page 5 (4 inputs)
    assert paged.rerating() is None
    book = paged.ledger.load(CONTRACT).book
    for line in book.lines.values():
        (day,) = line.days
        assert line.contract_version == governing(day.date, (1, 2))
    rerated = {record.ref for record in book.rerates}
    assert rerated == {f"TE-{n:05d}" for n in range(ENTRIES) if work_day(n) >= EFFECTIVE[2]}


def test_a_billing_run_between_two_pages_bills_every_line_once_at_the_version_of_its_day(paged: PagedHub) -> None:
    paged.amend(version(2))
    assert paged.rerating() is not None  # part applied
    paged.hub.bill("2026-03")  # the run reads the contract between two pages
    paged.deliver_requests()  # the amendment resumes and completes
    assert paged.rerating() is None
    assert_billed_once_at_each_days_version(paged, (1, 2))


def test_a_fault_in_the_versions_own_save_then_a_billing_run_then_the_redelivery(
    paged: PagedHub, failing: FailingPuts, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The version's own save stops after the head took the version and one input of the first
    page was re-rated; a billing run reads the contract; the queue delivers the version again."""
    monkeypatch.setitem(EFFECTIVE, 2, date(2026, 3, 4))  # the first page holds re-rated inputs
    failing.fail_on = 2
    with pytest.raises(ConnectionError):
        paged.amend(version(2))
    assert paged.ledger.load(CONTRACT).book.versions.keys() == {1, 2}
    paged.hub.bill("2026-03")
    paged.amend(version(2))
    paged.deliver_requests()
    assert paged.rerating() is None
    assert_billed_once_at_each_days_version(paged, (1, 2))


def test_a_fault_between_a_pages_writes_then_a_billing_run_then_the_amendment_resumes(
    paged: PagedHub, failing: FailingPuts
) -> None:
    paged.amend(version(2))  # pages 1-2: nothing to re-rate before 16 March
    failing.fail_on = 2  # page 3 re-rates one input; page 4 stops after its first
    request = paged.requests()[0]
    with pytest.raises(ConnectionError):
        paged.sync.handle(IngestedEvent.from_detail(request.detail_type, request.detail))
    assert paged.rerating() is not None
    paged.hub.bill("2026-03")
    paged.deliver_requests()  # the request comes back from the queue; then the rest
    assert paged.rerating() is None
    assert_billed_once_at_each_days_version(paged, (1, 2))


def test_a_second_amendment_between_the_pages_of_the_first(paged: PagedHub) -> None:
    paged.amend(version(2))
    paged.amend(version(3))
    paged.deliver_requests()
    assert paged.rerating() is None
    paged.hub.bill("2026-03")
    assert_billed_once_at_each_days_version(paged, (1, 2, 3))


def test_a_retroactive_amendment_in_pages_raises_one_change_over_every_invoiced_line(paged: PagedHub) -> None:
    """Lines invoiced under version 1, then version 2 governing their days: one
    `retroactive_change`, gathered page by page, as the whole-book rule raises it."""
    paged.hub.bill("2026-03")
    paged.amend(version(2))
    paged.deliver_requests()
    book = paged.ledger.load(CONTRACT).book
    (change,) = [e for e in book.exceptions.values() if e.type is ExceptionType.RETROACTIVE_CHANGE]
    affected = [n for n in range(ENTRIES) if work_day(n) >= EFFECTIVE[2]]
    assert change.state is ExceptionState.OPEN
    assert sorted(change.refs) == [f"TE-{n:05d}" for n in affected]
    assert len(change.line_ids) == len(set(change.line_ids)) == len(affected)
    assert change.amount == len(affected) * 8 * (RATES[2] - RATES[1])
    assert dict(change.repriced) == {line_id: Decimal("1200.00") for line_id in change.line_ids}


def test_a_version_of_a_contract_of_one_page_is_read_with_one_query(
    fake_aws_credentials: None, failing: FailingPuts
) -> None:
    paged = PagedHub(failing)
    paged.hub.deliver(version(1))
    paged.amend(version(2))
    assert failing.partitions_queried.count(f"CONTRACT#{CONTRACT}") == 2  # one per version, as a whole book
    assert paged.rerating() is None and paged.requests() == []
