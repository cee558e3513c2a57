"""Regenerate the figures table of docs/reliability.md from reports/reliability/figures.jsonl.

    python -m benchmarks.reliability_table [--figures PATH] [--doc PATH]

The latest line of each suite wins. Only the part of the document between the
two table markers is rewritten.

`template_figures` computes the figures of the template suites (IAM statements,
encrypted resources, function environments) from a synthesized template: the
security posture suite records them, and a test of `make test` compares them
with the committed table (`committed_figures`), so a table left stale after the
template changed fails the build.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "reports" / "reliability" / "figures.jsonl"
DOC = ROOT / "docs" / "reliability.md"
BEGIN = "<!-- reliability-table:begin -->"
END = "<!-- reliability-table:end -->"
ORDER = (
    "duplicate_storm_core",
    "duplicate_storm_local",
    "duplicate_storm_local_large",
    "archive_replay",
    "ordering",
    "faults_ledger_core",
    "faults_erp_timeout_core",
    "faults_local",
    "concurrency_core",
    "concurrency_local",
    "hostile_input",
    "hostile_values",
    "security_iam",
    "security_encryption",
    "security_lambda_env",
    "security_pii_in_logs",
)


TEMPLATE_SUITES = ("security_iam", "security_encryption", "security_lambda_env")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _of_type(template: dict[str, Any], *kinds: str) -> list[dict[str, Any]]:
    return [r.get("Properties", {}) for r in template["Resources"].values() if r["Type"] in kinds]


def template_figures(template: dict[str, Any]) -> dict[str, dict[str, int]]:
    """The counts the template suites record, computed from a synthesized CloudFormation template."""
    statements = wildcard = 0
    for properties in _of_type(template, "AWS::IAM::Policy"):
        for statement in properties["PolicyDocument"]["Statement"]:
            statements += 1
            wildcard += "*" in _as_list(statement.get("Resource", []))
    for properties in _of_type(template, "AWS::IAM::Role"):
        statements += sum(len(p["PolicyDocument"]["Statement"]) for p in properties.get("Policies", []))
    functions = _of_type(template, "AWS::Lambda::Function")
    return {
        "security_iam": {"policy_statements": statements, "wildcard_statements_allowed": wildcard},
        "security_encryption": {
            "tables": len(_of_type(template, "AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable")),
            "queues": len(_of_type(template, "AWS::SQS::Queue")),
            "buckets": len(_of_type(template, "AWS::S3::Bucket")),
        },
        "security_lambda_env": {
            "functions": len(functions),
            "variables": sum(len(f.get("Environment", {}).get("Variables", {})) for f in functions),
        },
    }


def committed_figures(doc: str) -> dict[str, dict[str, str]]:
    """The figures of the table between the markers of `doc`, per suite, as written."""
    if BEGIN not in doc or END not in doc:
        raise ValueError(f"the document has no {BEGIN} ... {END} section")
    table = doc.split(BEGIN, 1)[1].split(END, 1)[0]
    found: dict[str, dict[str, str]] = {}
    for line in table.strip().splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        suite = cells[0].strip("`")
        pairs = re.findall(r"(\w+)=(\[[^\]]*\]|[^,]*)", cells[1])
        found[suite] = {key: value.strip() for key, value in pairs}
    return found


def latest_by_suite(lines: list[str]) -> dict[str, dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for line in lines:
        if line.strip():
            row = json.loads(line)
            latest[str(row["suite"])] = row
    return latest


def render(latest: dict[str, dict[str, Any]]) -> str:
    rows = ["| suite | figures | recorded |", "|---|---|---|"]
    suites = [s for s in ORDER if s in latest] + sorted(s for s in latest if s not in ORDER)
    for suite in suites:
        row = latest[suite]
        figures = ", ".join(f"{k}={v}" for k, v in row.items() if k not in ("suite", "recorded_at"))
        rows.append(f"| `{suite}` | {figures.replace('|', '/')} | {row.get('recorded_at', '')} |")
    return "\n".join(rows)


def rewrite(doc: str, table: str) -> str:
    if BEGIN not in doc or END not in doc:
        raise SystemExit(f"the document has no {BEGIN} ... {END} section")
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--figures", type=Path, default=FIGURES)
    parser.add_argument("--doc", type=Path, default=DOC)
    args = parser.parse_args(argv)
    if not args.figures.is_file():
        raise SystemExit(f"{args.figures} not found: run `pytest tests/reliability` first")
    latest = latest_by_suite(args.figures.read_text(encoding="utf-8").splitlines())
    args.doc.write_text(rewrite(args.doc.read_text(encoding="utf-8"), render(latest)), encoding="utf-8")
    print(
        f"{len(latest)} suite(s) written to {args.doc.relative_to(ROOT) if args.doc.is_relative_to(ROOT) else args.doc}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
