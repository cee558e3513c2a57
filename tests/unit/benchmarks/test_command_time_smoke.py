"""The command-time benchmark times every read-only command against the bare import (values not judged)."""

from __future__ import annotations

from benchmarks import command_time, run_all


def test_command_time_times_each_command_against_the_bare_import() -> None:
    figures = command_time.run(runs=1, include_bill=False, read_only_runs=2)
    commands = figures["commands"]
    assert figures["read_only_runs"] == 2
    assert commands["bare import"]["ratio_to_bare_import"] == 1.0
    read_only = [name for name, row in commands.items() if row["read_only"]]
    assert {"contracts list", "exceptions list", "report", "trace", "dlq list"} <= set(read_only)
    assert all(commands[name]["standard_library_reads"] for name in read_only)
    assert commands["config load"]["starts_stand_ins"]
    assert all(row["median_ms"] > 0 for row in commands.values())
    assert "Operator command wall time" in run_all.section("command_time", run_all.render_command_time(figures))
