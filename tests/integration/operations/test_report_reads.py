"""`billbridge report` prints the same bytes whether it reads the local state with the standard
library (the fast path) or through the ledger's adapters and the domain's books (the path of a
deployed stack): one implementation computes the KPIs over both, and the records the fast path
builds from the stored items carry the values the books carry. Checked on the demo's state (two
currencies, a mid-month amendment, payments, open and resolved exceptions, a decision taken
after it), on replayed scenarios (a retroactive amendment; fees, a retainer, milestones and
pound sterling; credit lines, a cap and the v2 rules), for several dates, as JSON and as
printed."""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from billbridge.cli.commands import operations_report
from billbridge.cli.main import main
from billbridge.cli.output import emit
from billbridge.local import read_models, report_reads
from billbridge.reporting.html_report import render_html_report
from billbridge.reporting.kpis import kpi_document

from tests.integration.operations.conftest import modules_loaded_by, replayed_state
from tests.integration.operations.test_operations_queues import poison_the_actuals_workflow

SCENARIOS = ("02-amendment-split", "04-managed-services", "06-v2-rules")
MOMENTS = (
    (date(2026, 1, 31), None),
    (date(2026, 4, 30), None),
    (date(2026, 7, 15), datetime(2026, 7, 15, 8, 30, tzinfo=UTC)),
    (date(2027, 1, 1), datetime(2027, 1, 3, 12, 0, tzinfo=UTC)),
)
"""(as of, now): `now` None is what `--as-of` gives (the end of that day)."""


def demo_state(folder: Path) -> Path:
    state = folder / "state.sqlite"
    assert main(["demo", "--yes", "--report", str(folder / "demo.json"), "--state-file", str(state)]) == 0
    return state


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_state(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module", params=("demo", "demo-decided", *SCENARIOS))
def local_state(request: pytest.FixtureRequest, demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp(request.param)
    if request.param == "demo":
        return demo
    if request.param == "demo-decided":
        state = Path(shutil.copy(demo, folder / "state.sqlite"))
        with read_models.ReadOnlyStore(state) as store:
            mismatch = next(e for e in read_models.exceptions(store) if e["type"] == "currency_mismatch")
        written_off = main(
            [
                "exceptions",
                "write-off",
                mismatch["exception_id"],
                "--reason",
                "not rebillable",
                "--actor",
                "controller@example.com",
                "--state-file",
                str(state),
            ]
        )
        assert written_off == 0
        return state
    return replayed_state(request.param, folder / "state.sqlite")


@pytest.fixture
def store(local_state: Path) -> Iterator[read_models.ReadOnlyStore]:
    with read_models.ReadOnlyStore(local_state) as opened:
        yield opened


def target(state_file: Path) -> argparse.Namespace:
    return argparse.Namespace(stack=None, state_file=state_file, profile=None, region=None)


def printed(capsys: Any, document: dict[str, Any]) -> str:
    capsys.readouterr()
    operations_report.print_report(document)
    return str(capsys.readouterr().out)


def test_report_computes_what_the_ledgers_books_give(
    local_state: Path, store: read_models.ReadOnlyStore, capsys: Any
) -> None:
    for as_of, now in MOMENTS:
        fast = report_reads.local_kpis(store, as_of=as_of, now=now)
        full = operations_report.ledger_kpis(target(local_state), as_of=as_of, now=now)

        assert fast is not None and fast["contracts"] > 0
        fast_document, full_document = kpi_document(fast), kpi_document(full)
        assert json.dumps(fast_document, indent=2) == json.dumps(full_document, indent=2), as_of  # key order too
        assert printed(capsys, fast_document) == printed(capsys, full_document)
        assert render_html_report(fast_document) == render_html_report(full_document)


def test_the_command_prints_the_ledgers_report_in_every_format(local_state: Path, capsys: Any) -> None:
    as_of = date(2026, 5, 1)
    full = kpi_document(operations_report.ledger_kpis(target(local_state), as_of=as_of, now=None))
    command = ["report", "--as-of", as_of.isoformat(), "--state-file", str(local_state)]

    capsys.readouterr()
    assert main(command) == 0
    assert capsys.readouterr().out == printed(capsys, full)
    for output in ("json", "csv"):
        assert main([*command, "--output", output]) == 0
        shown = capsys.readouterr().out
        emit(argparse.Namespace(output=output), full, lambda: None)
        assert shown == capsys.readouterr().out, output


def test_the_money_in_the_report_stays_decimal(store: read_models.ReadOnlyStore) -> None:
    from decimal import Decimal

    kpis = report_reads.local_kpis(store, as_of=date(2026, 5, 1), now=None)

    assert kpis is not None
    for total in kpis["exceptions"]["money_at_risk"] + kpis["held_work"]["totals"]:
        assert isinstance(total["amount"], Decimal)


def test_the_report_imports_neither_pydantic_nor_the_domain_model(demo: Path) -> None:
    """A fresh process, as a user runs it: what the fast path must not load to stay within its budget."""
    commands = [["report"], ["report", "--output", "json"], ["report", "--as-of", "2026-04-30"]]
    heavy = ("pydantic", "boto3", "moto", "rich", "typing", "dataclasses", "pathlib", "calendar")
    ours = ("billbridge.domain.model", "billbridge.domain.downstream_commands", "billbridge.adapters.dynamo_ledger")

    assert modules_loaded_by(commands, demo, (*heavy, *ours, "billbridge.local.store")) == []


def test_the_kpis_constants_equal_the_domains() -> None:
    from billbridge.domain.downstream_commands import PropagationState
    from billbridge.domain.model import ExceptionState, ExceptionType
    from billbridge.reporting import business_kpis, kpis

    assert tuple(state.value for state in ExceptionState) == kpis.EXCEPTION_STATES
    assert tuple(state.value for state in PropagationState) == kpis.PROPAGATION_STATES
    types = {t.value for t in ExceptionType}
    assert types >= kpis.HOLDING_WORK | kpis.NOT_AT_RISK | business_kpis.CORRECTING_TYPES
    assert set(kpis.EXCEPTION_STATES) - {"open"} >= business_kpis.CLOSED_STATES | business_kpis.LEAKING_STATES


def test_dead_letters_waiting_send_the_report_through_the_ledger(demo: Path, tmp_path: Path, capsys: Any) -> None:
    """The local state does not keep when a message was dead-lettered: the report reads the queues
    as the deployed stack's `billbridge dlq` does."""
    state = Path(shutil.copy(demo, tmp_path / "state.sqlite"))
    poison_the_actuals_workflow(state)

    with read_models.ReadOnlyStore(state) as store:
        assert report_reads.local_kpis(store, as_of=date(2026, 5, 1), now=None) is None
    capsys.readouterr()
    assert main(["report", "--as-of", "2026-05-01", "--output", "json", "--state-file", str(state)]) == 0
    failures = json.loads(capsys.readouterr().out)["integration_failures"]
    assert failures["dead_lettered_messages"] >= 2
    actuals = next(depth for depth in failures["dead_letters"] if depth["workflow"] == "actuals")
    assert actuals["error_types"].get("LedgerContentionError") == 1


def test_status_parses_its_configuration_without_topologys_dataclasses(demo: Path) -> None:
    """`status` reads the rollout and systems-of-record rules over `billbridge.event_names`."""
    rollout = json.dumps({"workflows": {"actuals": "shadow"}, "sources": {"crm": "off"}})
    commands = [["status"], ["status", "--output", "json"], ["status", "--rollout", rollout]]
    heavy = ("pydantic", "boto3", "typing", "dataclasses", "inspect")
    ours = ("billbridge.topology", "billbridge.domain.model", "billbridge.local.store")

    assert modules_loaded_by(commands, demo, (*heavy, *ours)) == []


def test_topologys_workflows_receive_the_event_types_the_rules_name() -> None:
    from billbridge import event_names, topology

    assert {w.name: w.event_types for w in topology.WORKFLOWS} == dict(event_names.WORKFLOW_EVENT_TYPES)
    assert [w.name for w in topology.WORKFLOWS] == list(event_names.WORKFLOW_EVENT_TYPES)
    assert topology.EVENT_TYPES_BY_SOURCE is event_names.EVENT_TYPES_BY_SOURCE
