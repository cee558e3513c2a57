"""cdk-nag (AwsSolutions + Serverless) and cfn-lint on the synthesized template."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import aws_s3 as s3
from cfnlint.api import ManualArgs, lint_file

from infra.synth import build_app


def test_cdk_nag_reports_no_unacknowledged_finding(tmp_path: Path) -> None:
    app, _ = build_app(outdir=str(tmp_path), nag=True)
    app.synth()  # raises RuntimeError("ValidationFailed ...") on any unacknowledged finding
    report_path = tmp_path / "validation-report.json"
    report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.exists() else {}
    violations = [
        (plugin["pluginName"], violation["ruleName"], construct["constructPath"])
        for plugin in report.get("pluginReports", [])
        for violation in plugin.get("violations", [])
        for construct in violation["violatingConstructs"]
    ]
    assert violations == []


def test_cdk_nag_gate_fails_on_an_unacknowledged_finding(tmp_path: Path) -> None:
    """The gate is live: a bucket without the stack's protections makes synth fail."""
    app, stack = build_app(outdir=str(tmp_path), nag=True)
    s3.Bucket(stack, "UnprotectedBucket")
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()


def test_cfn_lint_is_clean(template_file: Path) -> None:
    """W3005 (a DependsOn that is also implied by a reference) is how CDK writes templates."""
    matches = lint_file(template_file, config=ManualArgs(ignore_checks=["W3005"]))
    assert [str(match) for match in matches] == []
