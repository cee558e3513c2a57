from __future__ import annotations

import json
from typing import Any

import pytest
from billbridge.adapters.vendors.kantata import (
    KantataActualsPolling,
    KantataMapping,
    WorkspaceLink,
    hours_from_minutes,
    map_expense,
    map_milestone,
    map_time_entry,
)
from billbridge.adapters.vendors.vendor_api_client import CallBudget, StaticToken, VendorApiClient
from billbridge.adapters.vendors.vendor_registry import VendorConfigurationError
from billbridge.app.canonical_events import parse_cloud_event
from billbridge.app.poll_vendor_source import PollLimits, PollVendorSource
from billbridge.app.vendor_adapters import Skipped, VendorPayloadError, VendorUnavailableError
from billbridge.local.vendor_stand_ins import InProcessTransport, KantataStandIn

from tests.fakes.vendor_fixtures import fixture_json
from tests.fakes.vendors import CanonicalHub, InMemoryPollCursors

ORIGIN = "https://api.mavenlink.com"
MAPPING = KantataMapping(
    workspaces={"41001": WorkspaceLink("SOW-1001", "CC-100")},
    users={"5003": "EMP-3", "5007": "EMP-7"},
    milestones={"88100": "M1"},
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def page_objects(name: str, collection: str) -> dict[str, dict[str, Any]]:
    return dict(fixture_json(f"kantata/{name}")[collection])


class Rig:
    def __init__(self, *, requests_per_window: int = 1000, page_size: int = 200, per_page: int = 200) -> None:
        self.clock = Clock()
        self.stand_in = KantataStandIn(requests_per_window=requests_per_window, window_seconds=1.0, clock=self.clock)
        self.stand_in.roles = dict(fixture_json("kantata/time-entries-page.json")["roles"])
        self.client = VendorApiClient(
            vendor="kantata",
            base_url=f"{ORIGIN}/api/v1",
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
        self.source = KantataActualsPolling(self.client, MAPPING, per_page=per_page)
        self.poller = PollVendorSource(
            name="psa/kantata",
            source=self.source,
            cursors=self.cursors,
            raw_payloads=self.hub.raw_payloads,
            canonical=self.hub.ingest,
            clock=self.hub.clock,
            limits=PollLimits(page_size=page_size, max_pages=20),
        )

    def load_fixtures(self) -> None:
        self.stand_in.time_entries = page_objects("time-entries-page.json", "time_entries")
        self.stand_in.expenses = page_objects("expenses-page.json", "expenses")
        self.stand_in.stories = page_objects("stories-page.json", "stories")
        self.stand_in.story_state_changes = page_objects("story-state-changes.json", "story_state_changes")


def test_every_mapped_field_of_the_documented_time_entry() -> None:
    answer = fixture_json("kantata/time-entries-page.json")
    event = map_time_entry(answer["time_entries"]["70001"], answer["roles"], MAPPING)
    assert not isinstance(event, Skipped)
    assert event["id"] == "kantata-time-70001-20260320T161500Z"
    assert event["type"] == "time_entry.approved" and event["source"] == "psa"
    assert event["data"] == {
        "entry_id": "kantata-time-70001",
        "revision": 1774023300,
        "contract_id": "SOW-1001",
        "resource_id": "EMP-3",
        "role": "consultant",
        "billable": True,
        "cost_center": "CC-100",
        "work_date": "2026-03-16",
        "hours": "8",
        "bill_rate": "150.00",
        "notes": "Discovery workshop",
    }
    assert parse_cloud_event(event, expected_source="psa").type == "time_entry.approved"


def test_minutes_that_are_not_whole_ten_thousandths_of_an_hour_are_rounded_and_say_so() -> None:
    answer = fixture_json("kantata/time-entries-page.json")
    event = map_time_entry(answer["time_entries"]["70002"], answer["roles"], MAPPING)
    assert not isinstance(event, Skipped)
    assert event["data"]["hours"] == "0.8333"
    assert event["data"]["notes"] == "50 minutes rounded to 0.8333 hours"
    assert hours_from_minutes(45) == ("0.75", None)
    assert hours_from_minutes(600) == ("10", None)


def test_every_mapped_field_of_the_documented_expense() -> None:
    expense = fixture_json("kantata/expenses-page.json")["expenses"]["90001"]
    event = map_expense(expense, MAPPING)
    assert not isinstance(event, Skipped)
    assert event["id"] == "kantata-expense-90001-20260321T170000Z"
    assert event["data"] == {
        "expense_id": "kantata-expense-90001",
        "contract_id": "SOW-1001",
        "date": "2026-03-18",
        "category": "travel",
        "amount": "425.50",
        "currency": "USD",
        "billable": True,
        "cost_center": "CC-100",
    }
    assert parse_cloud_event(event, expected_source="psa").type == "expense.approved"


def test_a_completed_milestone_maps_with_the_date_of_the_state_change_that_completed_it() -> None:
    story = fixture_json("kantata/stories-page.json")["stories"]["88100"]
    change = fixture_json("kantata/story-state-changes.json")["story_state_changes"]["660002"]
    event = map_milestone(story, change, MAPPING)
    assert not isinstance(event, Skipped)
    assert event["id"] == "kantata-milestone-88100-660002"
    assert event["data"] == {"contract_id": "SOW-1001", "milestone_id": "M1", "completed_on": "2026-03-31"}
    assert parse_cloud_event(event, expected_source="psa").type == "milestone.completed"


def test_objects_not_linked_to_a_contract_are_skipped_with_the_reason() -> None:
    expense = dict(fixture_json("kantata/expenses-page.json")["expenses"]["90001"], workspace_id="49999")
    skipped = map_expense(expense, MAPPING)
    assert isinstance(skipped, Skipped) and "workspace 49999 is not linked" in skipped.reason
    story = fixture_json("kantata/stories-page.json")["stories"]["88100"]
    change = fixture_json("kantata/story-state-changes.json")["story_state_changes"]["660002"]
    unlinked = map_milestone(story, change, KantataMapping(workspaces=MAPPING.workspaces))
    assert isinstance(unlinked, Skipped) and "not linked to a contract milestone" in unlinked.reason


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount_in_cents": "425.50"}, "amount_in_cents"),
        ({"amount_in_cents": 42550.0}, "amount_in_cents"),
        ({"currency_base_unit": 3}, "currency_base_unit"),
        ({"date": "18/03/2026"}, "date"),
        ({"is_billable": "yes"}, "is_billable"),
        ({"updated_at": "yesterday"}, "updated_at"),
    ],
)
def test_a_malformed_expense_names_the_vendor_field(change: dict[str, Any], field: str) -> None:
    expense = dict(fixture_json("kantata/expenses-page.json")["expenses"]["90001"], **change)
    with pytest.raises(VendorPayloadError) as refused:
        map_expense(expense, MAPPING)
    assert refused.value.field_path == field


def test_a_poll_reads_the_three_lists_and_publishes_canonical_events_through_the_thin_state_change_fetch() -> None:
    rig = Rig()
    rig.load_fixtures()
    report = rig.poller.poll()
    assert report.rejections == ()
    assert (report.accepted, report.duplicates, report.rejected) == (4, 0, 0)
    assert sorted(rig.hub.published_types()) == [
        "expense.approved",
        "milestone.completed",
        "time_entry.approved",
        "time_entry.approved",
    ]
    assert [s.reference for s in report.skipped] == []  # the task story is not a milestone: not even listed
    paths = [p for _, p in rig.stand_in.requests]
    assert paths.count("/api/v1/story_state_changes") == 1
    assert report.cursor is not None and report.cursor.caught_up


def test_a_second_poll_reads_the_overlap_again_as_duplicates_and_a_later_edit_as_a_new_revision() -> None:
    rig = Rig()
    rig.load_fixtures()
    rig.poller.poll()
    again = rig.poller.poll()
    # the window starts 300 s before the cursor (the milestone, 23:00Z): it is read again, a duplicate
    assert (again.accepted, again.duplicates) == (0, 1)
    edited = dict(rig.stand_in.time_entries["70001"], updated_at="2026-04-02T08:00:00-07:00", time_in_minutes=420)
    rig.stand_in.time_entries["70001"] = edited
    third = rig.poller.poll()
    assert (third.accepted, third.rejected) == (1, 0)
    revised = [e for e in rig.hub.publisher.published if e.detail_type == "time_entry.approved"][-1]
    assert '"hours": "7"' in json.dumps(revised.detail)
    assert '"revision": 1775142000' in json.dumps(revised.detail)


def test_the_overlap_window_re_reads_late_commits_as_duplicates() -> None:
    rig = Rig()
    rig.load_fixtures()
    rig.poller.poll()
    late = dict(rig.stand_in.expenses["90001"], id="90002", updated_at="2026-03-31T15:58:00-07:00")
    rig.stand_in.expenses["90002"] = late
    report = rig.poller.poll()
    assert report.accepted == 1  # committed late, 2 minutes before the cursor: inside the 300 s overlap


def test_a_poll_cut_short_resumes_strictly_after_its_cursor() -> None:
    rig = Rig(page_size=2, per_page=1)
    rig.load_fixtures()
    rig.poller._limits = PollLimits(page_size=2, max_pages=1)
    first = rig.poller.poll()
    assert first.stopped_early and first.accepted == 2
    assert first.cursor is not None and not first.cursor.caught_up
    rig.source._window = None  # a new invocation
    second = rig.poller.poll()
    assert (second.accepted, second.duplicates) == (2, 0)
    rig.poller._limits = PollLimits(page_size=2, max_pages=5)
    rest = rig.poller.poll()
    assert rest.accepted == 0 and rest.cursor is not None and rest.cursor.caught_up


def test_pages_of_a_list_are_followed_with_kantatas_page_and_per_page() -> None:
    rig = Rig(per_page=1)
    rig.load_fixtures()
    report = rig.poller.poll()
    assert report.accepted == 4
    listed = [p for _, p in rig.stand_in.requests if p == "/api/v1/time_entries"]
    assert len(listed) == 2


def test_throttling_is_waited_out_within_the_budget() -> None:
    rig = Rig(requests_per_window=2)
    rig.load_fixtures()
    report = rig.poller.poll()
    assert report.accepted == 4
    assert rig.stand_in.limit.refused > 0 and rig.clock.slept


def test_a_refused_token_stops_the_poll_without_moving_the_cursor() -> None:
    rig = Rig()
    rig.load_fixtures()
    rig.stand_in.token = "rotated"
    report = rig.poller.poll()
    assert report.stopped_early and "vendor unavailable" in report.stopped_early
    assert rig.cursors.load("psa/kantata") is None


def test_an_answer_without_its_results_list_is_named() -> None:
    rig = Rig()

    def broken(method: str, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": "application/json"}, b'{"count": 0}'

    rig.client._transport = InProcessTransport({ORIGIN: broken})
    with pytest.raises(VendorPayloadError) as refused:
        rig.source.read_page(None, 10)
    assert refused.value.field_path == "results"


def test_unavailable_is_not_a_payload_error() -> None:
    rig = Rig()
    rig.stand_in.token = "other"
    with pytest.raises(VendorUnavailableError):
        rig.source.read_page(None, 10)


def test_the_mapping_is_configuration_and_a_bad_one_is_refused_by_name() -> None:
    mapping = KantataMapping.from_config(
        {"workspaces": {"41001": {"contract_id": "SOW-1001", "cost_center": "CC-100"}}, "roles": {"Architect": "lead"}}
    )
    assert mapping.role("Architect") == "lead" and mapping.role("Senior Consultant") == "senior_consultant"
    with pytest.raises(ValueError, match=r"workspaces\.41001"):
        KantataMapping.from_config({"workspaces": {"41001": {"contract_id": "SOW-1001"}}})
    assert issubclass(VendorConfigurationError, ValueError)


def test_a_malformed_object_is_named_in_the_failed_poll_and_passed_not_re_read_forever() -> None:
    rig = Rig()
    rig.load_fixtures()
    rig.stand_in.expenses["90001"]["amount_in_cents"] = "425.50"
    report = rig.poller.poll()
    assert report.rejections == (
        "expense 90001: amount_in_cents must be an integer number of minor units (field amount_in_cents)",
    )
    assert (report.accepted, report.rejected) == (3, 1)
    again = rig.poller.poll()
    assert again.rejected == 0  # past the cursor now: the next poll does not fail on it again
