"""Build and synthesize the app the way the CDK CLI does, from Python.

`cdk.App()` only sees cdk.json's context (the feature flags) when the CLI passes it,
so everything here reads cdk.json and hands its context to the App explicitly.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from infra.config import BillbridgeConfig
from infra.stack import BillbridgeStack

REPO_ROOT = Path(__file__).resolve().parents[1]
CDK_JSON = REPO_ROOT / "cdk.json"
STACK_ID = "Billbridge"
SKIP_BUNDLING: dict[str, Any] = {"aws:cdk:bundling-stacks": []}
"""Context that makes assets point at their sources instead of running the bundlers."""


def cdk_context() -> dict[str, Any]:
    """The `context` of cdk.json (feature flags and `billbridge:*` settings)."""
    context: dict[str, Any] = json.loads(CDK_JSON.read_text(encoding="utf-8"))["context"]
    return context


def create_stack(app: cdk.App) -> BillbridgeStack:
    return BillbridgeStack(
        app,
        STACK_ID,
        config=BillbridgeConfig.from_context(app.node),
        description="Billbridge integration hub: CLM contracts, PSA actuals, ERP invoices",
    )


def add_nag_checks(app: cdk.App) -> None:
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))


def build_app(
    *,
    outdir: str | None = None,
    bundling: bool = False,
    nag: bool = False,
    context: dict[str, Any] | None = None,
) -> tuple[cdk.App, BillbridgeStack]:
    """An App with cdk.json's context and the stack; bundling off unless asked for."""
    app_context = {**cdk_context(), **(context or {})}
    if not bundling:
        app_context.update(SKIP_BUNDLING)
    app = cdk.App(context=app_context, outdir=outdir)
    stack = create_stack(app)
    if nag:
        add_nag_checks(app)
    return app, stack


def synthesize_template(*, bundling: bool = False, context: dict[str, Any] | None = None) -> dict[str, Any]:
    """The synthesized CloudFormation template of the stack, without cdk-nag."""
    with tempfile.TemporaryDirectory(prefix="billbridge-synth-") as outdir:
        app, stack = build_app(outdir=outdir, bundling=bundling, context=context)
        assembly = app.synth()
        template: dict[str, Any] = assembly.get_stack_artifact(stack.artifact_id).template
        return template
