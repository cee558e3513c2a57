"""Moving a ledger from the one-item books of decision 0001 to the item-per-input
layout of decision 0003 (moto): `billbridge migrate-ledger` on a table holding the
old layout, on the local state, and a contract moved by the functions themselves
the first time they change it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from billbridge.adapters.dynamo_audit_log import exception_item
from billbridge.adapters.dynamo_book_items import BOOK_ADAPTER
from billbridge.adapters.dynamo_ledger import DynamoLedger, encode_legacy_book
from billbridge.cli.main import main
from billbridge.domain.model import ContractBook
from billbridge.local.scenario_replay import generate_webhook_secrets
from billbridge.local.stack import LocalStack
from moto import mock_aws

from tests.fakes.hub import CoreHub
from tests.fakes.ledger_table import create_ledger_table
from tests.scenarios.catalog import load_scenario

TABLE = "ledger"
SCENARIO = "02-amendment-split"


def legacy_items(book: ContractBook, revision: int = 3) -> list[dict[str, Any]]:
    """What the ledger of decision 0001 stored for one book."""
    pk = f"CONTRACT#{book.contract_id}"
    items: list[dict[str, Any]] = [
        {
            "pk": {"S": pk},
            "sk": {"S": "BOOK"},
            "contract_id": {"S": book.contract_id},
            "revision": {"N": str(revision)},
            "body": {"B": encode_legacy_book(book)},
            "updated_at": {"S": "2026-03-31T00:00:00+00:00"},
        }
    ]
    if book.is_known:
        items.append(
            {"pk": {"S": pk}, "sk": {"S": "KNOWN"}, "gsi1pk": {"S": "CONTRACTS"}, "gsi1sk": {"S": book.contract_id}}
        )
    items += [exception_item(exception) for exception in book.exceptions.values()]
    items += [
        {"pk": {"S": f"ENTRY#{entry_id}"}, "sk": {"S": "CONTRACT"}, "contract_id": {"S": book.contract_id}}
        for entry_id in book.entries
    ]
    items += [
        {"pk": {"S": f"PROPOSAL#{proposal_id}"}, "sk": {"S": "CONTRACT"}, "contract_id": {"S": book.contract_id}}
        for proposal_id in book.invoices
    ]
    items.append(
        {
            "pk": {"S": f"AUDIT#{book.contract_id}"},
            "sk": {"S": f"{revision:010d}"},
            "records": {
                "S": json.dumps([{"action": "version_stored", "ref": book.contract_id, "correlation_id": "corr-old"}])
            },
            "recorded_at": {"S": "2026-03-31T00:00:00+00:00"},
            "gsi1pk": {"S": "CORRELATION#corr-old"},
            "gsi1sk": {"S": f"2026-03-31T00:00:00+00:00#{book.contract_id}#{revision:010d}"},
        }
    )
    return items


def scenario_hub() -> tuple[CoreHub, dict[str, Any]]:
    scenario, _ = load_scenario(SCENARIO)
    hub = CoreHub(scenario.get("config"))
    hub.run_scenario(scenario)
    return hub, scenario


def as_json(books: list[ContractBook]) -> list[Any]:
    return [BOOK_ADAPTER.dump_python(book, mode="json") for book in sorted(books, key=lambda b: b.contract_id)]


def write_legacy(client: Any, table: str, books: list[ContractBook]) -> None:
    for book in books:
        for item in legacy_items(book):
            client.put_item(TableName=table, Item=item)


@pytest.fixture
def legacy_table(fake_aws_credentials: None) -> Iterator[tuple[DynamoLedger, CoreHub]]:
    with mock_aws():
        client = boto3.client("dynamodb")
        create_ledger_table(client, TABLE)
        hub, _ = scenario_hub()
        write_legacy(client, TABLE, hub.ledger.books())
        ledger = DynamoLedger(TABLE, client=client)
        ledger.save_config(hub.ledger.load_config())
        yield ledger, hub


def test_every_book_moves_unchanged_and_a_second_run_moves_nothing(legacy_table: tuple[DynamoLedger, CoreHub]) -> None:
    ledger, hub = legacy_table
    expected = as_json(hub.ledger.books())
    assert ledger.legacy_contract_ids() == sorted(b.contract_id for b in hub.ledger.books())
    assert as_json(ledger.books()) == expected  # readable before it moves

    moved = [contract_id for contract_id in ledger.legacy_contract_ids() if ledger.migrate_contract(contract_id)]

    assert moved and ledger.legacy_contract_ids() == []
    assert as_json(ledger.books()) == expected
    assert not any(ledger.migrate_contract(contract_id) for contract_id in moved)
    assert as_json(ledger.books()) == expected
    assert sorted(e.exception_id for e in ledger.exceptions()) == sorted(
        e.exception_id for b in hub.ledger.books() for e in b.exceptions.values()
    )
    assert [r["action"] for r in ledger.audit_by_correlation("corr-old")] == ["version_stored"]
    items = ledger.table.scan_prefix("CONTRACT#")
    assert {item["sk"]["S"] for item in items} >= {"HEAD", "KNOWN"}
    assert not [item for item in items if item["sk"]["S"] == "BOOK"]


def test_after_the_move_the_hub_goes_on_as_if_nothing_had_moved(legacy_table: tuple[DynamoLedger, CoreHub]) -> None:
    ledger, hub = legacy_table
    for contract_id in ledger.legacy_contract_ids():
        ledger.migrate_contract(contract_id)
    moved_hub = CoreHub(None)
    moved_hub.ledger = ledger  # type: ignore[assignment]
    moved_hub.runs = hub.runs  # the next run has the same id on both
    contract_id = hub.ledger.contract_ids()[0]
    later = {
        "specversion": "1.0",
        "id": "psa-late-1",
        "source": "psa",
        "type": "time_entry.approved",
        "data": {
            "entry_id": "TE-LATE",
            "revision": 1,
            "contract_id": contract_id,
            "resource_id": "EMP-1",
            "role": "consultant",
            "billable": True,
            "work_date": "2026-04-07",
            "hours": "6",
        },
    }
    for target in (hub, moved_hub):
        target.consume(later)
        target.bill("2026-04")
    assert as_json(ledger.books()) == as_json(hub.ledger.books())


def test_a_contract_not_yet_moved_is_moved_by_the_first_change_to_it(
    legacy_table: tuple[DynamoLedger, CoreHub],
) -> None:
    ledger, hub = legacy_table
    contract_id = hub.ledger.contract_ids()[0]
    moved_hub = CoreHub(None)
    moved_hub.ledger = ledger  # type: ignore[assignment]
    event = {
        "specversion": "1.0",
        "id": "psa-late-2",
        "source": "psa",
        "type": "time_entry.approved",
        "data": {
            "entry_id": "TE-LATE-2",
            "revision": 1,
            "contract_id": contract_id,
            "resource_id": "EMP-1",
            "role": "consultant",
            "billable": True,
            "work_date": "2026-04-08",
            "hours": "4",
        },
    }
    moved_hub.consume(event)
    hub.consume(event)
    assert contract_id not in ledger.legacy_contract_ids()
    assert as_json([ledger.load(contract_id).book]) == as_json([hub.ledger.load(contract_id).book])


def test_the_command_moves_the_local_state(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hub, _ = scenario_hub()
    state = tmp_path / "state.json"
    with LocalStack(secrets=generate_webhook_secrets()) as stack:
        write_legacy(stack.client("dynamodb"), stack.names.ledger_table, hub.ledger.books())
        stack.save(state)

    assert main(["migrate-ledger", "--state-file", str(state), "--dry-run", "--json"]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert dry["found"] and dry["moved"] == [] and dry["left"] == dry["found"]

    assert main(["migrate-ledger", "--state-file", str(state), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["moved"] == dry["found"] and result["left"] == []

    with LocalStack(state_file=state) as stack:
        ledger = DynamoLedger(stack.names.ledger_table, client=stack.client("dynamodb"))
        assert ledger.legacy_contract_ids() == []
        assert as_json(ledger.books()) == as_json(hub.ledger.books())
    assert main(["migrate-ledger", "--state-file", str(state)]) == 0
    assert "moved 0 contract book(s); 0 left" in capsys.readouterr().out
