"""The poll cursor in the ledger table (moto) only moves forward, and the scheduled handler fails
with the reason when a poll cannot finish or its events are refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from billbridge import topology
from billbridge.adapters.dynamo_poll_cursors import DynamoPollCursors, cursor_partition_key
from billbridge.app.vendor_adapters import PollCursor, PollReport
from billbridge.entrypoints.schedule.poll_vendor_source import PollFailedError, handle_poll
from moto import mock_aws

LEDGER = "ledger"
AT = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def cursors(fake_aws_credentials: None) -> Iterator[DynamoPollCursors]:
    with mock_aws():
        schema = topology.LEDGER_TABLE
        assert schema.sort_key
        boto3.client("dynamodb").create_table(
            TableName=LEDGER,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": schema.partition_key, "AttributeType": "S"},
                {"AttributeName": schema.sort_key, "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": schema.partition_key, "KeyType": "HASH"},
                {"AttributeName": schema.sort_key, "KeyType": "RANGE"},
            ],
        )
        yield DynamoPollCursors(table_name=LEDGER, client=boto3.client("dynamodb"))


def test_a_missing_cursor_is_none_and_a_saved_one_is_read_back(cursors: DynamoPollCursors) -> None:
    assert cursors.load("erp/netsuite") is None
    cursors.save("erp/netsuite", PollCursor("2026-04-01 09:00:00", "1215", caught_up=False), polled_at=AT)
    assert cursors.load("erp/netsuite") == PollCursor("2026-04-01 09:00:00", "1215", caught_up=False)
    item = boto3.client("dynamodb").get_item(
        TableName=LEDGER, Key={"pk": {"S": cursor_partition_key("erp/netsuite")}, "sk": {"S": "CURSOR"}}
    )["Item"]
    assert item["polled_at"]["S"] == AT.isoformat()


def test_the_cursor_never_moves_back(cursors: DynamoPollCursors) -> None:
    cursors.save("erp/netsuite", PollCursor("2026-04-01 09:00:00", "99"), polled_at=AT)
    cursors.save("erp/netsuite", PollCursor("2026-04-01 09:00:00", "100"), polled_at=AT)  # id 100 > 99 numerically
    cursors.save("erp/netsuite", PollCursor("2026-03-31 23:59:59", "5000"), polled_at=AT)  # a slow, older poll
    assert cursors.load("erp/netsuite") == PollCursor("2026-04-01 09:00:00", "100")
    cursors.save("erp/netsuite", PollCursor("2026-04-01 09:00:00", "100", caught_up=False), polled_at=AT)
    assert cursors.load("erp/netsuite") == PollCursor("2026-04-01 09:00:00", "100", caught_up=False)


class FakePoller:
    def __init__(self, report: PollReport) -> None:
        self.report = report

    def poll(self) -> PollReport:
        return self.report


def report(**changes: Any) -> PollReport:
    values: dict[str, Any] = {
        "poller": "erp/netsuite",
        "pages": 1,
        "requests": 3,
        "events": 2,
        "accepted": 2,
        "duplicates": 0,
        "rejected": 0,
    }
    return PollReport(**(values | changes))


def test_a_finished_poll_returns_its_report() -> None:
    answer = handle_poll({"poller": "erp/netsuite"}, None, poller=FakePoller(report()))
    assert answer["accepted"] == 2 and answer["stopped_early"] is None


def test_a_poll_cut_by_its_budget_is_not_a_failure() -> None:
    cut = report(stopped_early="page budget (20 pages) spent; the next poll continues")
    assert handle_poll({}, None, poller=FakePoller(cut))["stopped_early"].startswith("page budget")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"stopped_early": "vendor unavailable: netsuite: HTTP 429"}, "vendor unavailable"),
        (
            {"rejected": 1, "rejections": ("netsuite-invoice-1-x: currency 'EURO' ... (field data.currency)",)},
            "data.currency",
        ),
    ],
)
def test_a_poll_that_could_not_finish_or_was_refused_fails_with_the_reason(
    changes: dict[str, Any], reason: str
) -> None:
    with pytest.raises(PollFailedError, match=reason):
        handle_poll({"poller": "erp/netsuite"}, None, poller=FakePoller(report(**changes)))
