"""A billing run plans its contracts in batches, and concludes from the batches' summaries:
a contract that failed, or a batch that never reported, makes the run incomplete."""

from __future__ import annotations

import json

import pytest
from billbridge.app.billing_config_document import billing_config_from
from billbridge.app.run_billing import (
    LISTED_FAILURES,
    ConcludeBatch,
    ConcludeRun,
    IncompleteBatchError,
    PlanBillingRun,
    SelectContracts,
    batches_of,
    workspace_prefix,
)
from billbridge.domain.model import ContractBook

from tests.fakes.memory_ledger import InMemoryLedger
from tests.fakes.run_workspace import InMemoryRunWorkspace


class ContractsOnly(InMemoryLedger):
    def __init__(self, contract_ids: list[str]) -> None:
        super().__init__(billing_config_from({}))
        self._ids = contract_ids

    def contract_ids(self) -> list[str]:
        return list(self._ids)

    def books(self) -> list[ContractBook]:
        return [ContractBook(contract_id=c) for c in self._ids]


def plan(
    contract_ids: list[str], *, batch_size: int, wanted: list[str] | None = None
) -> tuple[dict, InMemoryRunWorkspace]:
    workspace = InMemoryRunWorkspace()
    planned = PlanBillingRun(SelectContracts(ContractsOnly(contract_ids)), workspace, batch_size=batch_size).handle(
        period="2026-03", contract_ids=wanted, run_id="bill-2026-03-all", attempt="a1"
    )
    return planned, workspace


def test_contracts_are_split_into_batches_of_at_most_the_batch_size_in_order() -> None:
    batches = batches_of([f"C{i}" for i in range(7)], 3)
    assert batches == [
        {"batch": 0, "contract_ids": ["C0", "C1", "C2"]},
        {"batch": 1, "contract_ids": ["C3", "C4", "C5"]},
        {"batch": 2, "contract_ids": ["C6"]},
    ]
    assert batches_of([], 3) == []
    with pytest.raises(ValueError):
        batches_of(["C0"], 0)


def test_the_plan_carries_counts_and_where_the_batches_are_never_the_ids() -> None:
    ids = [f"SOW-{i:05d}" for i in range(250)]
    planned, workspace = plan(ids, batch_size=100)

    assert planned == {
        "contract_count": 250,
        "batch_count": 3,
        "bucket": workspace.location,
        "items_key": "runs/bill-2026-03-all/a1/batches.json",
        "workspace": "runs/bill-2026-03-all/a1/",
    }
    written = workspace.read(planned["items_key"])
    assert [len(b["contract_ids"]) for b in written] == [100, 100, 50]
    assert [c for b in written for c in b["contract_ids"]] == ids
    assert len(json.dumps(planned)) < 300


def test_a_run_for_named_contracts_plans_only_those_it_knows() -> None:
    planned, workspace = plan(["A", "B", "C"], batch_size=2, wanted=["C", "A", "UNKNOWN"])
    assert workspace.read(planned["items_key"]) == [{"batch": 0, "contract_ids": ["A", "C"]}]


def test_every_attempt_of_a_run_has_its_own_workspace_prefix_of_safe_characters() -> None:
    assert workspace_prefix("bill 2026/03", "x") == "runs/bill-2026-03/x/"
    assert workspace_prefix("r", "a1") != workspace_prefix("r", "a2")


def conclude_batch(workspace: InMemoryRunWorkspace, batch: int, outcomes: dict[str, str]) -> None:
    ConcludeBatch(workspace).handle(
        workspace="runs/r/a/",
        batch=batch,
        contract_ids=list(outcomes),
        outcomes=[{"contract_id": c, "outcome": o} for c, o in outcomes.items()],
    )


def test_a_run_whose_contracts_were_all_billed_or_had_nothing_to_bill_is_complete() -> None:
    workspace = InMemoryRunWorkspace()
    conclude_batch(workspace, 0, {"A": "invoiced", "B": "nothing_to_invoice"})
    conclude_batch(workspace, 1, {"C": "invoiced"})

    summary = ConcludeRun(workspace).handle(workspace="runs/r/a/", contract_count=3, batch_count=2)

    assert summary.complete
    assert (summary.invoiced, summary.nothing_to_invoice, summary.failed_contracts) == (2, 1, 0)
    assert summary.cause == ""
    assert summary.document()["complete"] is True


def test_a_failed_contract_makes_the_run_incomplete_and_the_cause_names_it() -> None:
    workspace = InMemoryRunWorkspace()
    conclude_batch(workspace, 0, {"A": "invoiced", "B": "failed"})
    conclude_batch(workspace, 1, {"C": "failed"})

    summary = ConcludeRun(workspace).handle(workspace="runs/r/a/", contract_count=3, batch_count=2)

    assert not summary.complete
    assert summary.failed_contract_ids == ("B", "C")
    assert summary.cause == "2 contract(s) failed and are held as exceptions: B, C"


def test_the_cause_names_the_first_failures_and_counts_them_all() -> None:
    workspace = InMemoryRunWorkspace()
    conclude_batch(workspace, 0, {f"F{i:03d}": "failed" for i in range(LISTED_FAILURES + 5)})

    summary = ConcludeRun(workspace).handle(workspace="runs/r/a/", contract_count=LISTED_FAILURES + 5, batch_count=1)

    assert summary.failed_contracts == LISTED_FAILURES + 5
    assert len(summary.failed_contract_ids) == LISTED_FAILURES
    assert summary.cause.endswith("and 5 more")


def test_a_batch_that_never_reported_makes_the_run_incomplete() -> None:
    workspace = InMemoryRunWorkspace()
    conclude_batch(workspace, 0, {"A": "invoiced", "B": "invoiced"})

    summary = ConcludeRun(workspace).handle(workspace="runs/r/a/", contract_count=3, batch_count=2)

    assert not summary.complete
    assert summary.missing_batches == (1,)
    assert summary.contracts_without_outcome == 1
    assert "1 batch(es) reported no summary" in summary.cause


def test_summaries_of_another_attempt_of_the_same_run_are_not_counted() -> None:
    workspace = InMemoryRunWorkspace()
    ConcludeBatch(workspace).handle(
        workspace="runs/r/old/", batch=0, contract_ids=["A"], outcomes=[{"contract_id": "A", "outcome": "invoiced"}]
    )

    summary = ConcludeRun(workspace).handle(workspace="runs/r/new/", contract_count=1, batch_count=1)

    assert not summary.complete and summary.missing_batches == (0,)


def test_a_batch_whose_outcomes_miss_a_contract_or_are_unknown_is_an_error() -> None:
    workspace = InMemoryRunWorkspace()
    with pytest.raises(IncompleteBatchError, match="B"):
        ConcludeBatch(workspace).handle(
            workspace="runs/r/a/",
            batch=0,
            contract_ids=["A", "B"],
            outcomes=[{"contract_id": "A", "outcome": "invoiced"}],
        )
    with pytest.raises(IncompleteBatchError, match="posted"):
        ConcludeBatch(workspace).handle(
            workspace="runs/r/a/", batch=0, contract_ids=["A"], outcomes=[{"contract_id": "A", "outcome": "posted"}]
        )
    assert workspace.documents == {}
