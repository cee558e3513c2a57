"""The committed figures table of docs/reliability.md is not stale: the figures a
template determines (IAM statements, queues, tables, buckets, functions,
environment variables) must equal what the current template gives. Regenerate
the table with `make reliability` when this fails."""

from __future__ import annotations

from benchmarks.reliability_table import DOC, ORDER, TEMPLATE_SUITES, committed_figures, template_figures
from tests.infra.conftest import Synthesized

DEFAULT_SUITES = tuple(s for s in ORDER if not s.endswith("_large"))


def test_the_committed_template_figures_match_the_template(synthesized: Synthesized) -> None:
    committed = committed_figures(DOC.read_text(encoding="utf-8"))
    computed = template_figures(synthesized.template)
    stale = {
        f"{suite}.{name}": (committed.get(suite, {}).get(name), str(value))
        for suite in TEMPLATE_SUITES
        for name, value in computed[suite].items()
        if committed.get(suite, {}).get(name) != str(value)
    }
    assert stale == {}, f"docs/reliability.md is stale (committed, now): {stale}; run `make reliability`"


def test_every_default_suite_has_a_row_in_the_committed_table() -> None:
    committed = committed_figures(DOC.read_text(encoding="utf-8"))
    assert [s for s in DEFAULT_SUITES if s not in committed] == []


def test_the_staleness_check_reads_a_table() -> None:
    """The check is live: a table with other counts is reported stale."""
    doc = (
        "<!-- reliability-table:begin -->\n| suite | figures | recorded |\n|---|---|---|\n"
        "| `security_encryption` | buckets=2, queues=10, tables=2, unencrypted=0 | t |\n"
        "| `faults_local` | dead_letter_causes=['redrive policy', 'x'], lost=0 | t |\n"
        "<!-- reliability-table:end -->"
    )
    committed = committed_figures(doc)
    assert committed["security_encryption"] == {"buckets": "2", "queues": "10", "tables": "2", "unencrypted": "0"}
    assert committed["faults_local"] == {"dead_letter_causes": "['redrive policy', 'x']", "lost": "0"}
