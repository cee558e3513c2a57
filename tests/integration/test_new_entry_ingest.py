"""A new time entry's reads and writes (moto, docs/decisions/0020-cost-per-entry-cut.md):
a first approval reads the contract's head only (its own item is expected not to exist, and
its save checks that); a rejection that overtakes its approval is kept until the entry
arrives, found through a mark on the entry's lookup instead of a query per new entry, under
every order of the two writers and a stop between any two of the entry's writes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from billbridge.adapters.dynamo_ledger import DynamoLedger
from moto import mock_aws

from tests.fakes.edge import FixedClock
from tests.fakes.hub import CoreHub
from tests.fakes.ledger_table import create_ledger_table
from tests.integration.test_dynamo_book_store import CONFIG, CONTRACT, CONTRACT_EVENT, TABLE


def approval(entry_id: str) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"psa-approved-{entry_id}",
        "source": "psa",
        "type": "time_entry.approved",
        "data": {
            "entry_id": entry_id,
            "revision": 1,
            "contract_id": CONTRACT,
            "resource_id": "EMP-1",
            "role": "consultant",
            "billable": True,
            "work_date": "2026-03-03",
            "hours": "7.5",
        },
    }


def rejection(entry_id: str) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"psa-rejected-{entry_id}",
        "source": "psa",
        "type": "time_entry.rejected",
        "data": {"entry_id": entry_id, "revision": 1},
    }


class CountingClient:
    """The DynamoDB client, counting the operations made through it."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute) or name.startswith("_") or name in ("exceptions", "meta"):
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            if name == "batch_get_item":
                self.calls["keys read"] += sum(len(r["Keys"]) for r in kwargs["RequestItems"].values())
            return attribute(*args, **kwargs)

        return counted


@pytest.fixture
def moto_client(fake_aws_credentials: None) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb")
        create_ledger_table(client, TABLE)
        yield client


def hub_on(client: Any) -> CoreHub:
    """A hub whose ledger is a fresh `DynamoLedger` (a new function instance) on the table."""
    core = CoreHub(CONFIG)
    ledger = DynamoLedger(TABLE, client=client, clock=FixedClock())
    if not ledger.contract_ids():
        ledger.save_config(core.ledger.load_config())
        core.ledger = ledger  # type: ignore[assignment]
        core.consume(CONTRACT_EVENT)
    core.ledger = ledger  # type: ignore[assignment]
    return core


def entry_state(client: Any, entry_id: str) -> tuple[bool, int]:
    """(rejected, lines) of the entry as the ledger holds it."""
    book = DynamoLedger(TABLE, client=client).load(CONTRACT).book
    lines = [line for line in book.lines.values() if line.ref == entry_id]
    return book.entries[entry_id].rejected, len(lines)


def parked_left(client: Any) -> list[dict[str, object]]:
    return DynamoLedger(TABLE, client=client).parked()


def test_a_new_entry_with_no_rejection_kept_is_stored_without_a_query(moto_client: Any) -> None:
    hub = hub_on(moto_client)
    counting = CountingClient(moto_client)
    hub.ledger = DynamoLedger(TABLE, client=counting, clock=FixedClock())  # type: ignore[assignment]
    hub.consume(approval("TE-1"))
    assert counting.calls["query"] == 0
    assert counting.calls["batch_get_item"] == 1 and counting.calls["keys read"] == 1  # the head only
    assert counting.calls["put_item"] == 2  # the entry's lookup (with its index entry) and its item
    assert entry_state(moto_client, "TE-1") == (False, 1)


def test_a_first_approval_delivered_again_is_read_in_full_and_changes_nothing(moto_client: Any) -> None:
    hub = hub_on(moto_client)
    hub.consume(approval("TE-8"))
    (stored,) = hub.ledger.table.query_pk(f"CONTRACT#{CONTRACT}", sk_prefix="IN#")  # type: ignore[attr-defined]
    counting = CountingClient(moto_client)
    hub.ledger = DynamoLedger(TABLE, client=counting, clock=FixedClock())  # type: ignore[assignment]
    hub.consume(approval("TE-8"))  # the queue delivers the message again
    (again,) = hub.ledger.table.query_pk(f"CONTRACT#{CONTRACT}", sk_prefix="IN#")  # type: ignore[attr-defined]
    assert again == stored
    assert counting.calls["keys read"] == 1 + 2  # the head alone, then the head and the item
    assert entry_state(moto_client, "TE-8") == (False, 1)


def test_a_first_approval_after_its_rejection_was_stored_stays_rejected(moto_client: Any) -> None:
    hub = hub_on(moto_client)
    hub.consume({**rejection("TE-9"), "data": {"entry_id": "TE-9", "revision": 1, "contract_id": CONTRACT}})
    hub.consume(approval("TE-9"))  # expected new, but the rejection stored the entry first
    assert entry_state(moto_client, "TE-9") == (True, 0)


def test_a_rejection_before_its_approval_is_applied_when_the_entry_arrives(moto_client: Any) -> None:
    hub = hub_on(moto_client)
    hub.consume(rejection("TE-2"))
    assert len(parked_left(moto_client)) == 1
    assert hub.ledger.contract_of_entry("TE-2") is None  # the lookup holds only the mark

    later = hub_on(moto_client)  # another function instance handles the approval
    later.consume(approval("TE-2"))
    assert entry_state(moto_client, "TE-2") == (True, 0)
    assert parked_left(moto_client) == []
    assert later.ledger.contract_of_entry("TE-2") == CONTRACT


def test_an_entry_stored_while_its_rejection_was_being_kept_gets_the_rejection_now(
    moto_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rejection read no lookup; the approval then stored the entry (seeing no mark);
    the rejection's mark finds the contract: the rejection applies itself."""
    hub = hub_on(moto_client)
    ledger: DynamoLedger = hub.ledger  # type: ignore[assignment]
    real_contract_of_entry = ledger.contract_of_entry

    def approval_lands_after_the_read(entry_id: str) -> str | None:
        found = real_contract_of_entry(entry_id)
        hub_on(moto_client).consume(approval(entry_id))  # another instance, in the window
        return found

    monkeypatch.setattr(ledger, "contract_of_entry", approval_lands_after_the_read)
    hub.consume(rejection("TE-3"))
    assert entry_state(moto_client, "TE-3") == (True, 0)
    assert parked_left(moto_client) == []


def test_a_stop_between_the_entry_s_lookup_and_its_item_is_finished_by_the_retry(
    moto_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The approval's lookup write found the mark (and named the contract); the function
    stopped before the entry's item: the retry finds the lookup its own, and the mark still."""
    hub = hub_on(moto_client)
    hub.consume(rejection("TE-4"))  # kept, lookup marked
    ledger: DynamoLedger = hub_on(moto_client).ledger  # type: ignore[assignment]
    client = ledger.client
    real_put = client.put_item

    def stop_before_the_item(**kwargs: Any) -> Any:
        if kwargs["Item"]["sk"]["S"].startswith("IN#"):
            raise RuntimeError("the function stopped before the entry's item")
        return real_put(**kwargs)

    monkeypatch.setattr(client, "put_item", stop_before_the_item)
    crashing = CoreHub(CONFIG)
    crashing.ledger = ledger  # type: ignore[assignment]
    with pytest.raises(RuntimeError):
        crashing.consume(approval("TE-4"))
    monkeypatch.setattr(client, "put_item", real_put)
    assert ledger.contract_of_entry("TE-4") == CONTRACT
    hub_on(moto_client).consume(approval("TE-4"))  # the message again, on a fresh instance
    assert entry_state(moto_client, "TE-4") == (True, 0)
    assert parked_left(moto_client) == []


def test_a_stop_after_the_entry_s_item_before_taking_the_rejection_is_finished_by_the_retry(
    moto_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = hub_on(moto_client)
    hub.consume(rejection("TE-5"))
    crashing = hub_on(moto_client)
    ledger: DynamoLedger = crashing.ledger  # type: ignore[assignment]

    def stop_before_taking(entry_id: str) -> list[dict[str, object]]:
        raise RuntimeError("the function stopped before taking the kept rejection")

    monkeypatch.setattr(ledger, "take_entry_rejections", stop_before_taking)
    with pytest.raises(RuntimeError):
        crashing.consume(approval("TE-5"))
    assert entry_state(moto_client, "TE-5") == (False, 1)  # stored, rejection not yet applied

    hub_on(moto_client).consume(approval("TE-5"))  # the message again: nothing new to store
    assert entry_state(moto_client, "TE-5") == (True, 0)
    assert parked_left(moto_client) == []


def test_a_rejection_parked_before_the_marks_existed_is_marked_by_the_migration(moto_client: Any) -> None:
    hub = hub_on(moto_client)
    ledger: DynamoLedger = hub.ledger  # type: ignore[assignment]
    old = {
        "event_type": "time_entry.rejected",
        "data": {"entry_id": "TE-6", "revision": 1},
        "correlation_id": "corr-old",
        "source": "psa",
        "event_id": "psa-rejected-TE-6",
        "subject": None,
    }
    ledger.lookups.park_feedback("rejection#TE-6", old)  # as the previous version kept it: no mark
    hub.consume(approval("TE-7"))
    ledger.lookups.park_feedback("rejection#TE-7", {**old, "data": {"entry_id": "TE-7", "revision": 1}})

    assert ledger.mark_kept_rejections() == {"marked": ["TE-6"], "stored": ["TE-7"]}
    assert ledger.mark_kept_rejections() == {"marked": ["TE-6"], "stored": ["TE-7"]}  # idempotent

    hub_on(moto_client).consume(approval("TE-6"))
    assert entry_state(moto_client, "TE-6") == (True, 0)
    assert [event["data"] for event in parked_left(moto_client)] == [{"entry_id": "TE-7", "revision": 1}]
