"""The read-only commands' standard-library reads (billbridge.local.read_models) give the
same documents as the ledger's adapters and use cases over the same local state, on replayed
published scenarios; and the constants they keep to stay light equal the ones they stand for."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest
from billbridge.cli.commands import contracts, operations_exceptions, operations_queues, sync
from billbridge.cli.hub_target import open_hub
from billbridge.local import read_models

from tests.integration.operations.conftest import replayed_state

SCENARIOS = ("02-amendment-split", "03-cap-and-release", "07-customer-master")


@pytest.fixture(scope="module", params=SCENARIOS)
def scenario_state(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return replayed_state(request.param, tmp_path_factory.mktemp(request.param) / "state.sqlite")


def target(state_file: Path, **options: object) -> argparse.Namespace:
    """The options a command gets, aimed at `state_file` (read through the ledger's adapters)."""
    return argparse.Namespace(stack=None, state_file=state_file, profile=None, region=None, **options)


@pytest.fixture
def store(scenario_state: Path) -> Iterator[read_models.ReadOnlyStore]:
    with read_models.ReadOnlyStore(scenario_state) as opened:
        yield opened


def test_contract_rows_equal_the_ledgers(scenario_state: Path, store: read_models.ReadOnlyStore) -> None:
    rows = read_models.contract_rows(store)

    assert rows and rows == contracts._deployed_contract_rows(target(scenario_state))


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"type": "retroactive_change"},
        {"exception_state": "open"},
        {"exception_state": "approved"},
        {"contract": "SOW-200"},
    ],
)
def test_exception_rows_equal_the_ledgers(
    scenario_state: Path, store: read_models.ReadOnlyStore, filters: dict[str, str]
) -> None:
    options = {"type": None, "exception_state": None, "contract": None, **filters}

    rows = read_models.exception_rows(
        store, type_=options["type"], state=options["exception_state"], contract_id=options["contract"]
    )

    assert rows == operations_exceptions._deployed_exception_rows(target(scenario_state, **options))


def test_command_rows_and_documents_equal_the_ledgers(scenario_state: Path, store: read_models.ReadOnlyStore) -> None:
    rows = read_models.command_rows(store)

    assert rows == sync._deployed_command_rows(target(scenario_state, contract=None, state=None))
    for row in rows:
        stored = read_models.command(store, row["command_id"])
        assert stored is not None
        assert read_models.command_document(stored, with_payload=True) == sync._deployed_command(
            target(scenario_state, command_id=row["command_id"])
        )


def test_configuration_and_refusals_equal_the_ledgers(scenario_state: Path, store: read_models.ReadOnlyStore) -> None:
    from billbridge.adapters.dynamo_refusal_log import DynamoRefusalLog
    from billbridge.app.billing_config_document import billing_config_to_document

    with open_hub(target(scenario_state), read_only=True) as hub:
        config = billing_config_to_document(hub.ledger.load_config())
        refusals = DynamoRefusalLog(table_name=hub.ledger.table.table_name, client=hub.ledger.client).refusals()

    assert read_models.stored_config_document(store) == config
    assert read_models.refusals(store) == refusals


def test_dead_letter_depths_equal_the_queues(scenario_state: Path, store: read_models.ReadOnlyStore) -> None:
    assert read_models.dead_letter_rows(store) == operations_queues._deployed_dead_letter_rows(target(scenario_state))


def test_the_light_constants_equal_what_they_stand_for() -> None:
    from billbridge import topology
    from billbridge.domain.downstream_commands import CommandState
    from billbridge.domain.model import ExceptionState, ExceptionType
    from billbridge.local.resources import LocalNames
    from billbridge.local.store import SCHEMA_VERSION

    assert tuple(t.value for t in ExceptionType) == read_models.EXCEPTION_TYPES
    assert tuple(s.value for s in ExceptionState) == read_models.EXCEPTION_STATES
    assert set(read_models.COMMAND_STATES) == {s.value for s in CommandState}
    assert read_models.STORE_SCHEMA_VERSION == SCHEMA_VERSION
    assert tuple(w.name for w in topology.WORKFLOWS) == read_models.WORKFLOWS
    assert all(
        f"{read_models.LOCAL_RESOURCE_PREFIX}-{w.name}-dlq" == LocalNames().dead_letter_queue(w)
        for w in topology.WORKFLOWS
    )
    assert topology.SCHEDULED_FUNCTIONS == read_models.SCHEDULED_FUNCTIONS
    assert tuple(topology.INTAKE_WORK_QUEUES) == read_models.INTAKE_WORK_QUEUES
    assert all(name == queue for name, queue in topology.INTAKE_WORK_QUEUES.items())
    assert all(
        f"{read_models.LOCAL_RESOURCE_PREFIX}-{f}-dlq" == LocalNames().scheduled_dead_letter_queue(f)
        for f in topology.SCHEDULED_FUNCTIONS
    )
