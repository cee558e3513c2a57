"""Each benchmark runs at a tiny size and produces its named figures (values are not judged here)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from benchmarks import aws_calls, billing_scale, cold_start, ingest_throughput, package_size, run_all


def test_cold_start_measures_every_entrypoint_and_both_baselines() -> None:
    figures = cold_start.run(runs=1, first_call_runs=1, first_event_runs=1)
    assert set(figures["imports"]) == set(cold_start.import_targets())
    assert set(figures["first_events"]) == {point.label for point in cold_start.entrypoints()}
    for label, row in figures["first_events"].items():
        assert row["hub"]["import_plus_first_event_ms"] > row["hub"]["import_ms"] > 0, label
        assert row["naive"]["import_plus_first_event_ms"] > 0, label
        assert row["top_imports_ms"], label
    assert [goal["goal"] for goal in figures["goals"]][:1] == ["webhook cold request"]
    for row in figures["imports"].values():
        assert row["process_ms"] > 0
        assert "import_ratio_to_naive" in row
    assert set(figures["first_invocation"]) == {"webhook", "naive handler"}
    assert figures["webhook_first_invocation_ratio_to_naive"] > 0
    assert figures["python"]


def test_ingest_throughput_lands_every_entry_single_and_batched() -> None:
    figures = ingest_throughput.run(contracts=1, single=2, batches=1, batch_size=3)
    assert figures["single"]["entries"] == 2
    assert figures["batched"]["entries"] == 3
    assert figures["batched"]["deliveries"] == 1
    assert figures["single_entries_per_s"] > 0
    assert figures["batched_entries_per_s"] > 0


def test_ingest_of_the_history_lands_its_first_entries_through_the_local_stack() -> None:
    figures = ingest_throughput.run_history(6, history_entries=300, history_contracts=3)
    assert figures["time_entries"] == 6
    assert figures["records_by_kind"]["contract"] >= 1
    assert figures["deliveries"] >= 2
    assert figures["entries_per_s"] > 0
    assert figures["cpu_s"] > 0
    assert "entries/CPU s" in run_all.render_ingest(
        ingest_throughput.run(contracts=1, single=1, batches=1, batch_size=2) | {"history": figures}
    )


def test_aws_calls_counts_calls_and_prices_them() -> None:
    figures = aws_calls.run(contracts=1, entries_per_contract=4)
    assert figures["invoice_lines"] > 0
    assert figures["billing_transitions"] > 0
    # A single small event keeps its raw body in its delivery claim; a batch is one S3 object.
    assert "s3:PutObject" not in figures["single"]["calls_per_entry"]
    assert figures["batched"]["calls_per_entry"]["s3:PutObject"] > 0
    assert figures["billing_children"] >= 1
    assert figures["batched"]["usd_per_million_entries_by_item"]["sfn_express_request"] > 0
    for phase in ("single", "batched"):
        assert set(figures[phase]["usd_per_million_entries_by_item"]) == set(aws_calls.PRICES)
        assert figures[f"{phase}_usd_per_million_entries"] > 0
    assert figures["calls_per_invoice_line"]["lambda:Invoke"] > 0


def test_dynamodb_units_follow_the_item_size_rules() -> None:
    small = {"pk": {"S": "A"}, "sk": {"S": "B"}}
    big = {"pk": {"S": "A"}, "body": {"B": b"x" * 3000}}
    indexed = {**big, "gsi1pk": {"S": "CONTRACTS"}}
    assert aws_calls.write_units(small) == 1
    assert aws_calls.write_units(big) == 3
    assert aws_calls.write_units(big, transactional=True) == 6
    assert aws_calls.write_units(indexed, transactional=True) == 9
    assert aws_calls.read_units(5000, consistent=True) == 2
    assert aws_calls.read_units(100, consistent=False) == 0.5


def test_billing_scale_runs_and_counts_the_parent_and_child_histories() -> None:
    figures = billing_scale.run(sizes=(2,), entries=3)
    size = figures["sizes"]["2"]
    assert size["invoices_proposed"] == 2
    assert size["children"] == 1 and size["contracts_in_largest_child"] == 2
    assert size["child_events_max"] > size["parent_events"] > 0
    assert size["transitions"] > 0
    assert figures["transitions_per_contract_definition"] == size["definition"]["per_contract_invoiced"]
    projected = figures["projection"]
    assert projected["children"] == 100_000 // figures["batch_size"]
    assert projected["max_events_per_execution"] == max(projected["parent_events"], projected["child_events"])


def test_billing_scale_bills_only_the_named_contracts_of_a_larger_ledger() -> None:
    from billbridge.local.stand_in_boundary import faster_stand_ins

    from benchmarks.ingest_throughput import quiet_functions

    with faster_stand_ins(), quiet_functions():
        size = billing_scale.run_size(2, 2, ledger_contracts=5)
    assert size["contracts_in_ledger"] == 5
    assert size["invoices_proposed"] == 2
    assert size["contracts_in_largest_child"] == 2


def test_package_size_reports_both_artifacts(monkeypatch: pytest.MonkeyPatch) -> None:
    from infra import bundling

    def tiny_layer(self: Any, output_dir: str, *_: Any, **__: Any) -> bool:
        package = Path(output_dir) / "python" / "somepackage"
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("VALUE = 1\n")
        return True

    monkeypatch.setattr(bundling.DependencyLayerBundler, "try_bundle", tiny_layer)
    figures = package_size.run()
    assert figures["code_asset"]["files"] > 0
    assert figures["layer_unpacked_mb"] >= 0
    assert figures["dependency_layer"]["largest_mb"] == {"somepackage": 0.0}


def test_run_all_writes_figures_and_keeps_other_readme_sections(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# Benchmarks\n\n## Domain core\n\nkept as it is\n")
    monkeypatch.setattr(run_all, "README", readme)
    monkeypatch.setattr(run_all, "FIGURES", tmp_path / "figures.json")
    monkeypatch.setattr(run_all, "RESULTS_DIR", tmp_path)
    sizes = {"2": _fake_scale()}
    fake = {"sizes": sizes, "largest_contracts": 2, "batch_size": 100, "projection": billing_scale.projection(sizes)}
    monkeypatch.setitem(run_all.RUNNERS, "billing_scale", lambda quick: dict(fake))
    run_all.main(["--only", "billing_scale", "--quick"])
    written = json.loads((tmp_path / "figures.json").read_text())
    assert written["billing_scale"]["largest_contracts"] == 2
    text = readme.read_text()
    assert "kept as it is" in text
    assert text.count("<!-- perf:billing_scale -->") == 1
    run_all.main(["--only", "billing_scale", "--quick"])
    assert readme.read_text().count("<!-- perf:billing_scale -->") == 1


def _fake_scale() -> dict[str, Any]:
    return {
        "entries_per_contract": 3,
        "run_s": 1.0,
        "ms_per_contract": 500.0,
        "contracts_per_s": 2.0,
        "invoices_proposed": 2,
        "children": 1,
        "parent_events": 12,
        "child_events_max": 45,
        "contracts_in_largest_child": 2,
        "child_events_per_contract": 22.5,
        "transitions": 11,
        "transitions_per_contract": 5.5,
        "definition": {
            "per_contract_invoiced": 5,
            "per_contract_by_outcome": {"Invoiced": 5},
            "per_child_fixed": 2,
            "run_fixed": 5,
            "retries_and_catches_add": "more",
        },
    }


def test_ledger_scale_counts_units_per_entry_and_per_line() -> None:
    from benchmarks import ledger_scale

    figures = ledger_scale.run(("1x4", "1x8", "2x3"), direct_only=True)
    for row in figures["direct"].values():
        assert row["wru_per_entry"] > 0 and row["dynamodb_calls_per_entry"] > 0
        assert row["invoice_lines"] == row["entries"]
        assert row["consumer_own_ms_per_entry_last_tenth"] > 0
    verdicts = figures["direct_verdicts"]
    assert verdicts["consumer_cpu_compared"] == ["1x4", "1x8"] and verdicts["wru_spread"] >= 1.0


def test_amendment_cost_counts_one_amendment_at_each_size() -> None:
    from benchmarks import amendment_cost

    figures = amendment_cost.run((4, 8))
    for size, row in figures["sizes"].items():
        assert row["entries"] == int(size)
        assert row["wru"] > 0 and row["dynamodb_calls"] > 0
    assert figures["entries_ratio"] == 2.0


def test_amendment_cost_seeding_in_batches_stores_the_items_that_one_call_at_a_time_stores() -> None:
    import boto3
    from billbridge.adapters.dynamo_ledger import DynamoLedger
    from billbridge.app.billing_config_document import billing_config_from
    from billbridge.app.event_translation import IngestedEvent
    from billbridge.app.sync_contract import SyncContract
    from moto import mock_aws

    from benchmarks import amendment_cost
    from benchmarks.ingest_throughput import CONFIG, contract_event
    from benchmarks.ledger_scale import _table

    class Clock:
        def now(self) -> datetime:
            return datetime(2026, 3, 31, 12, tzinfo=UTC)

    def stored(client: Any, table: str) -> list[dict[str, Any]]:
        items = client.scan(TableName=table)["Items"]
        return sorted(
            (i for i in items if i["sk"]["S"].startswith("IN#") or i["pk"]["S"].startswith("ENTRY#")),
            key=lambda i: (i["pk"]["S"], i["sk"]["S"]),
        )

    with mock_aws():
        raw = boto3.client("dynamodb", region_name="us-east-1")
        for table, client in (("one", raw), ("batched", amendment_cost.SeedingClient(raw, "batched"))):
            _table(raw, table)
            ledger = DynamoLedger(table, client=client, clock=Clock())
            ledger.save_config(billing_config_from(CONFIG))
            event = contract_event(0)
            SyncContract(ledger, None).handle(  # type: ignore[arg-type]
                IngestedEvent.from_detail(str(event["type"]), {"event": event, "correlationid": "c-0"})
            )
            amendment_cost.seed_entries(ledger, 30)
            if isinstance(client, amendment_cost.SeedingClient):
                client.flush()
        one, batched = stored(raw, "one"), stored(raw, "batched")
    assert len(one) == 60  # an item and an entry lookup per entry
    assert batched == one


def test_intake_benchmark_counts_every_row_of_its_file_once() -> None:
    from benchmarks import intake

    figures = intake.run(rows=300, heap_rows=50)
    kinds = figures["kinds"]
    first, again = figures["intake"], figures["redrop"]
    assert first["rows"] == 300 and first["errors"] == []
    assert first["accepted"] + first["duplicates"] + first["refused"] == 300
    assert first["refused"] == kinds["broken"]
    assert again["accepted"] == 0 and again["duplicates"] == first["accepted"] + first["duplicates"]
    assert figures["heap_peak_mb"] > 0
    assert "rows/s" in run_all.rendered_sections({"intake": figures})["intake"]
