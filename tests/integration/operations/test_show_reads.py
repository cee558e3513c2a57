"""The commands that show one rich object print the same bytes whether they read the local
state with the standard library (the fast path every local read takes) or through the
ledger's adapters and the application's views (the path of a deployed stack): on the
demo's state and on replayed acceptance scenarios, text and `--output json`."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from billbridge.cli.commands import contracts, customers, operations_exceptions, operations_lineage
from billbridge.cli.main import main
from billbridge.local import audit_reads, contract_reads, customer_reads, exception_reads, read_models

from tests.integration.operations.conftest import modules_loaded_by, replayed_state

SCENARIOS = ("02-amendment-split", "03-cap-and-release", "07-customer-master")
NOW = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module", params=("demo", *SCENARIOS))
def local_state(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp(request.param)
    if request.param != "demo":
        return replayed_state(request.param, folder / "state.sqlite")
    state = folder / "state.sqlite"
    assert main(["demo", "--yes", "--report", str(folder / "demo.json"), "--state-file", str(state)]) == 0
    return state


@pytest.fixture
def store(local_state: Path) -> Iterator[read_models.ReadOnlyStore]:
    with read_models.ReadOnlyStore(local_state) as opened:
        yield opened


def target(state_file: Path, **options: object) -> argparse.Namespace:
    return argparse.Namespace(stack=None, state_file=state_file, profile=None, region=None, **options)


def printed(capsys: Any, show: Any, *arguments: Any) -> str:
    capsys.readouterr()
    show(*arguments)
    return str(capsys.readouterr().out)


def test_contracts_show_prints_what_the_ledgers_view_prints(
    local_state: Path, store: read_models.ReadOnlyStore, capsys: Any
) -> None:
    contract_ids = read_models.contract_ids(store)
    assert contract_ids

    for contract_id in contract_ids:
        fast = contract_reads.contract_document(store, contract_id, NOW)
        full = contracts.ledger_contract_document(target(local_state, contract_id=contract_id), NOW)

        assert isinstance(fast, dict) and full is not None
        assert json.dumps(fast, indent=2) == json.dumps(full, indent=2), contract_id  # key order included
        assert printed(capsys, contracts.print_contract, fast) == printed(capsys, contracts.print_contract, full)
        shown = main(["contracts", "show", contract_id, "--state-file", str(local_state)])
        assert shown == 0 and capsys.readouterr().out == printed(capsys, contracts.print_contract, full)


def test_an_unknown_contract_is_unknown_on_both_paths(local_state: Path, store: read_models.ReadOnlyStore) -> None:
    assert contract_reads.contract_document(store, "SOW-NOPE", NOW) is None
    assert contracts.ledger_contract_document(target(local_state, contract_id="SOW-NOPE"), NOW) is None


def test_the_light_constants_equal_the_domains() -> None:
    from billbridge.domain.downstream_commands import _PROPAGATION_OF, CONTRACT_COMMANDS

    assert dict(CONTRACT_COMMANDS) == contract_reads.CONTRACT_COMMANDS
    assert {c.value: p.value for c, p in _PROPAGATION_OF.items()} == contract_reads.PROPAGATION_OF_COMMAND_STATE


def test_customers_list_prints_what_the_ledgers_view_prints(
    local_state: Path, store: read_models.ReadOnlyStore, capsys: Any
) -> None:
    fast = customer_reads.customer_rows(store)
    full = customers.ledger_customer_rows(target(local_state))

    assert isinstance(fast, list) and fast
    assert json.dumps(fast, indent=2) == json.dumps(full, indent=2)
    assert main(["customers", "list", "--state-file", str(local_state)]) == 0
    assert capsys.readouterr().out == printed(capsys, customers.print_customer_rows, full)


def test_customers_show_prints_what_the_ledgers_view_prints(
    local_state: Path, store: read_models.ReadOnlyStore, capsys: Any
) -> None:
    rows = customer_reads.customer_rows(store)
    assert isinstance(rows, list)

    for customer_id in [row["customer_id"] for row in rows]:
        fast = customer_reads.customer_detail(store, customer_id)
        full = customers.ledger_customer_document(target(local_state, customer_id=customer_id))

        assert isinstance(fast, dict) and full is not None
        assert json.dumps(fast, indent=2) == json.dumps(full, indent=2), customer_id
        assert main(["customers", "show", customer_id, "--state-file", str(local_state)]) == 0
        assert capsys.readouterr().out == printed(capsys, customers.print_customer, full)
    assert customer_reads.customer_detail(store, "CUST-NOPE") is None
    assert customers.ledger_customer_document(target(local_state, customer_id="CUST-NOPE")) is None


def test_the_show_commands_import_neither_pydantic_nor_the_domain_model(
    local_state: Path, store: read_models.ReadOnlyStore
) -> None:
    """A fresh process, as a user runs them: what the fast path must not load to stay within its budget."""
    contract_id = read_models.contract_ids(store)[0]
    rows = customer_reads.customer_rows(store)
    assert isinstance(rows, list)
    commands = [
        ["contracts", "show", contract_id],
        ["contracts", "show", contract_id, "--output", "json"],
        ["customers", "list"],
        ["exceptions", "show", read_models.exceptions(store)[0]["exception_id"]],
        ["trace", sorted(traceable_ids(store))[0]],
        ["customers", "show", rows[0]["customer_id"]],
    ]
    heavy = ("pydantic", "boto3", "moto", "rich", "typing", "dataclasses", "billbridge.domain.model")
    ours = ("billbridge.adapters.dynamo_ledger", "billbridge.local.store")

    assert modules_loaded_by(commands, local_state, (*heavy, *ours)) == []


def test_exceptions_show_prints_what_the_lineage_view_prints(
    local_state: Path, store: read_models.ReadOnlyStore, capsys: Any
) -> None:
    exception_ids = [e["exception_id"] for e in read_models.exceptions(store)]
    assert exception_ids

    for exception_id in exception_ids:
        options = target(local_state, exception_id=exception_id, output="table")
        fast = operations_exceptions.exception_document(options)
        full = operations_exceptions.ledger_exception_document(options)

        assert isinstance(fast, dict) and full is not None
        assert json.dumps(fast, indent=2) == json.dumps(full, indent=2), exception_id
        assert main(["exceptions", "show", exception_id, "--state-file", str(local_state)]) == 0
        assert capsys.readouterr().out == printed(capsys, operations_exceptions._print_explanation, full)
    assert exception_reads.explain_exception(store, "no_rate:SOW-NOPE:TS-0") is None


def test_the_layout_constants_equal_the_adapters() -> None:
    from billbridge.adapters.dynamo_book_store import ENTRY_LOOKUP_PREFIX
    from billbridge.app.ports import INLINE_RAW_KEY_PREFIX
    from billbridge.domain.model import ExceptionType
    from billbridge.reporting.resolution_hints import RESOLUTION_HINTS_BY_TYPE

    assert ENTRY_LOOKUP_PREFIX == audit_reads.ENTRY_LOOKUP_PREFIX
    assert INLINE_RAW_KEY_PREFIX == exception_reads.INLINE_RAW_KEY_PREFIX
    assert list(RESOLUTION_HINTS_BY_TYPE) == [t.value for t in ExceptionType]


def traceable_ids(store: read_models.ReadOnlyStore) -> set[str]:
    """Every kind of id `trace` takes: ERP invoice numbers, proposals, entries, expenses, milestones,
    lines, exceptions and correlation ids."""
    found: set[str] = set()
    for contract_id in read_models.contract_ids(store):
        contract = contract_reads.stored_contract(store, contract_id)
        assert not isinstance(contract, str)
        for invoice in contract.invoices.values():
            found.update((invoice["proposal_id"], invoice.get("erp_invoice_number") or ""))
        for inputs in contract.inputs.values():
            found.update(inputs)
        found.update(list(contract.lines)[:3])
        found.update(contract.exceptions)
        found.update(line.get("correlation_id") or "" for line in contract.lines.values())
    return found - {""}


def test_trace_prints_what_the_lineage_view_prints(
    local_state: Path, store: read_models.ReadOnlyStore, capsys: Any
) -> None:
    identifiers = sorted(traceable_ids(store))
    assert identifiers

    for identifier in [*identifiers, "NOPE-1"]:
        options = target(local_state, identifier=identifier)
        fast = operations_lineage.trace_document(options)
        full = operations_lineage.ledger_trace_document(options)

        assert json.dumps(fast, indent=2) == json.dumps(full, indent=2), identifier
        if isinstance(full, dict):
            assert main(["trace", identifier, "--state-file", str(local_state)]) == 0
            assert capsys.readouterr().out == printed(capsys, operations_lineage.print_trace, full)
    assert main(["trace", "NOPE-1", "--state-file", str(local_state)]) == 1
