"""`billbridge dlq --stack` finds every consumer, delivery and scheduled DLQ of the template
through the stack's outputs: bulk intake's included."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from billbridge.cli.commands.operations_target import dead_letter_queues_of

from tests.infra.conftest import Synthesized


def test_the_deployed_catalog_names_bulk_intakes_dead_letter_queues_from_the_outputs(
    synthesized: Synthesized,
) -> None:
    outputs = {name: f"https://sqs.example/{name}" for name in synthesized.template["Outputs"]}
    hub: Any = SimpleNamespace(queues=[], is_local=False, extras={"outputs": outputs}, client=lambda service: None)

    dead_letters = dead_letter_queues_of(hub)
    catalog = {name: dead_letters.queues(name).kind for name in dead_letters.names()}

    assert catalog["intake-files"] == "consumer"
    assert catalog["intake-chunks"] == "consumer"
    assert catalog["intake-delivery"] == "delivery"
    assert {"billing-start", "kpi-publisher"} <= set(catalog)
