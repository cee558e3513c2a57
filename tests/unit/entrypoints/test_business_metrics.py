"""The queue consumers turn what a use case did into the dashboard's business series."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from billbridge.domain.model import AuditRecord, DomainEvent
from billbridge.entrypoints.queues.sqs_consumer import count_business_effects
from billbridge.observability import metrics


@dataclass
class Outcome:
    audit: tuple[AuditRecord, ...] = ()
    events: tuple[DomainEvent, ...] = ()


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, list[float]]]:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Billbridge")
    metrics().clear_metrics()
    yield metrics().metric_set  # type: ignore[misc]
    metrics().clear_metrics()


def test_entries_rated_count_inputs_not_lines_and_exceptions_count_raised_events(recorded: dict) -> None:
    rated = [
        AuditRecord(action="line_rated", ref=f"L-{i}", correlation_id="c", source_ref=source)
        for i, source in enumerate(["TS-1", "TS-1", "TS-2"])
    ]
    events = [
        DomainEvent(context="operations", detail_type=kind, detail={}, correlation_id="c")
        for kind in ("ExceptionRaised", "ExceptionResolved", "ExceptionRaised")
    ]

    count_business_effects(Outcome(audit=(*rated, AuditRecord("entry_pending", "TS-3", "c")), events=tuple(events)))

    assert recorded["EntriesRated"]["Value"] == [2.0]
    assert recorded["ExceptionsRaised"]["Value"] == [2.0]


def test_an_outcome_without_ratings_or_exceptions_writes_nothing(recorded: dict) -> None:
    count_business_effects(object())

    assert "EntriesRated" not in recorded and "ExceptionsRaised" not in recorded
