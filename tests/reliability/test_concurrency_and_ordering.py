"""Concurrency (two billing runs of one period, a run racing late actuals) and
ordering (any order of deliveries within a segment between billing runs gives
the same invoices)."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes.hub import CoreHub
from tests.reliability.core_driver import consume
from tests.reliability.figures import record
from tests.reliability.generated_book import generate_book
from tests.reliability.local_hub import local_hub
from tests.reliability.measures import (
    comparable_report,
    invoiced_hours,
    invoiced_lines,
    lines_in_two_invoices,
    rated_hours,
)
from tests.scenarios.catalog import load_scenario, scenario_names

ORDERING_EXAMPLES = 60


def assert_each_line_billed_once(books: list[Any]) -> None:
    lines = invoiced_lines(books)
    assert lines and max(lines.values()) == 1
    assert invoiced_hours(books) == rated_hours(books)


def test_two_runs_of_one_period_and_late_actuals_racing_on_the_in_memory_ledger() -> None:
    book = generate_book(seed=71, min_events=1200)
    contracts = [e for e in book.events if e["type"] == "contract.approved"]
    actuals = [e for e in book.events if e["type"] != "contract.approved"]
    early, late = actuals[: len(actuals) // 2], actuals[len(actuals) // 2 :]
    hub = CoreHub(book.config)
    for event in contracts + early:
        hub.deliver(event)
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []
    lock = threading.Lock()

    def guarded(work: Any) -> None:
        try:
            barrier.wait()
            work()
        except BaseException as error:  # surfaced below
            errors.append(error)

    def deliver_late() -> None:
        for event in late:
            with lock:  # CoreHub's de-duplication map is not the subject here
                key = (event["source"], event["id"])
                hub.seen[key] = "accepted"
            consume(hub, event)

    billing_runs = [threading.Thread(target=guarded, args=(lambda: hub.bill(book.period),)) for _ in range(2)]
    threads = [*billing_runs, threading.Thread(target=guarded, args=(deliver_late,))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    hub.bill(book.period)  # whatever the race left unbilled
    books = hub.ledger.books()
    assert_each_line_billed_once(books)
    # A late revision of an entry a racing run already invoiced is held (invoiced lines are
    # immutable): its contract bills the invoiced revision and raises invoiced_entry_changed.
    changed = {e.contract_id for b in books for e in b.exceptions.values() if e.type.value == "invoiced_entry_changed"}
    differing = {c for c, h in book.expected_time_hours.items() if invoiced_hours(books).get(c) != h}
    assert differing <= changed
    invoices = [i for b in books for i in b.invoices.values()]
    hours = invoiced_hours(books)
    hours_drift = sum(
        (abs(h - hours.get(c, Decimal("0"))) for c, h in book.expected_time_hours.items() if c not in changed),
        Decimal("0"),
    )
    assert hours_drift == 0
    record(
        "concurrency_core",
        contracts=len(book.contracts),
        concurrent_runs=len(billing_runs),
        late_actuals=len(late),
        invoices=len(invoices),
        supplementary_invoices=sum(1 for i in invoices if i.seq > 1),
        lines_in_two_invoices=lines_in_two_invoices(books),
        invoiced_entry_changed=len(changed),
        hours_drift=hours_drift,
    )


def test_two_executions_of_one_period_through_the_local_stack() -> None:
    book = generate_book(seed=72, min_events=90)
    with local_hub(book.config, prefix="concurrency") as hub:
        for event in book.events:
            hub.post(event)
        hub.drain()
        sfn = hub.stack.client("stepfunctions")
        arns = [
            sfn.start_execution(
                stateMachineArn=hub.stack.names.state_machine_arn,
                name=f"billing-2026-03-{name}",
                input=f'{{"period": "{book.period}", "contract_ids": null, "run_id": "{name}"}}',
            )["executionArn"]
            for name in ("a", "b")
        ]
        results = [hub.stack.wait_for_execution(arn, timeout_seconds=300) for arn in arns]
        hub.drain()
        books = hub.books()
    assert [r["status"] for r in results] == ["SUCCEEDED", "SUCCEEDED"]
    assert_each_line_billed_once(books)
    assert invoiced_hours(books) == book.expected_time_hours
    record(
        "concurrency_local",
        contracts=len(book.contracts),
        executions=sum(1 for r in results if r["status"] == "SUCCEEDED"),
        invoices=sum(len(b.invoices) for b in books),
        lines_in_two_invoices=lines_in_two_invoices(books),
    )


def invoices_of(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The invoices, without which of two equal deliveries came first (`source_refs`)."""
    invoices = comparable_report(report)["invoices"]
    for invoice in invoices:
        for line in invoice["lines"]:
            line.pop("source_refs", None)
    return invoices


def segments(scenario: dict[str, Any]) -> list[list[dict[str, Any]] | dict[str, Any]]:
    """Deliveries grouped into the segments between billing runs; runs kept as they are."""
    parts: list[Any] = []
    current: list[dict[str, Any]] = []
    for step in scenario["steps"]:
        if "deliver" in step:
            current.append(step)
        else:
            parts.append(current)
            parts.append(step)
            current = []
    parts.append(current)
    return parts


def permuted(scenario: dict[str, Any], draw: Any) -> dict[str, Any]:
    """Within each segment: contract versions first, in their order (each version before the
    run it must influence), then the other deliveries in any order."""
    steps: list[dict[str, Any]] = []
    for part in segments(scenario):
        if isinstance(part, list):
            others = draw(st.permutations([s for s in part if not _is_clm(s)]))
            steps.extend([s for s in part if _is_clm(s)] + list(others))
        else:
            steps.append(part)
    return {**scenario, "steps": steps}


def _is_clm(step: dict[str, Any]) -> bool:
    payload = step["deliver"]
    return (payload[0] if isinstance(payload, list) else payload)["source"] == "clm"


SCENARIOS = {name: load_scenario(name)[0] for name in scenario_names()}
BASELINES = {name: invoices_of(CoreHub(s.get("config")).run_scenario(s)) for name, s in SCENARIOS.items()}
PERMUTATIONS_TRIED: dict[str, int] = {}
PERMUTATIONS_DIFFERING: dict[str, int] = {}


@settings(max_examples=ORDERING_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(SCENARIOS)), data=st.data())
def test_any_order_within_a_segment_gives_the_same_invoices(name: str, data: st.DataObject) -> None:
    scenario = permuted(SCENARIOS[name], data.draw)
    report = CoreHub(scenario.get("config")).run_scenario(scenario)
    PERMUTATIONS_TRIED[name] = PERMUTATIONS_TRIED.get(name, 0) + 1
    if invoices_of(report) != BASELINES[name]:
        PERMUTATIONS_DIFFERING[name] = PERMUTATIONS_DIFFERING.get(name, 0) + 1
    assert invoices_of(report) == BASELINES[name]


def test_ordering_figures_and_a_few_permutations_through_the_local_stack() -> None:
    import random

    rng = random.Random(81)
    checked = differing = 0
    for name in ("01-time-and-materials", "05-out-of-order"):
        if name not in SCENARIOS:
            continue
        scenario = _shuffled(SCENARIOS[name], rng)
        with local_hub(scenario.get("config"), prefix=f"order{checked}") as hub:
            for index, step in enumerate(scenario["steps"], start=1):
                if "deliver" in step:
                    hub.post(step["deliver"])
                    hub.drain()
                else:
                    hub.bill(step["billing_run"]["period"], f"order-{checked}-{index}")
            report = hub.report()
        differing += invoices_of(report) != BASELINES[name]
        checked += 1
    assert checked == 2
    assert sum(PERMUTATIONS_TRIED.values()) > 0, "the property test runs first in this module"
    differing += sum(PERMUTATIONS_DIFFERING.values())
    assert differing == 0
    record(
        "ordering",
        scenarios=len(SCENARIOS),
        core_permutations=sum(PERMUTATIONS_TRIED.values()),
        local_stack_permutations=checked,
        differing_invoices=differing,
    )


def _shuffled(scenario: dict[str, Any], rng: Any) -> dict[str, Any]:
    steps: list[dict[str, Any]] = []
    for part in segments(scenario):
        if isinstance(part, list):
            others = [s for s in part if not _is_clm(s)]
            rng.shuffle(others)
            steps.extend([s for s in part if _is_clm(s)] + others)
        else:
            steps.append(part)
    return {**scenario, "steps": steps}
