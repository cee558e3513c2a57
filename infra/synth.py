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
from infra.environments import STACK_BASE_NAME, environment_from_context
from infra.stack import BillbridgeStack

REPO_ROOT = Path(__file__).resolve().parents[1]
CDK_JSON = REPO_ROOT / "cdk.json"
STACK_ID = STACK_BASE_NAME
"""The production stack's name; other environments are `Billbridge-<env>` (infra/environments.py)."""
SKIP_BUNDLING: dict[str, Any] = {"aws:cdk:bundling-stacks": []}
"""Context that makes assets point at their sources instead of running the bundlers."""


def cdk_context() -> dict[str, Any]:
    """The `context` of cdk.json (feature flags and `billbridge:*` settings)."""
    context: dict[str, Any] = json.loads(CDK_JSON.read_text(encoding="utf-8"))["context"]
    return context


def create_stack(app: cdk.App) -> BillbridgeStack:
    """The stack of the environment the context names (`-c env=staging`; default production),
    every resource tagged with the environment's tags (infra/environments.py)."""
    environment = environment_from_context(app.node)
    overrides = dict(environment.overrides)
    if app.node.try_get_context("billbridge:service_name") is None:
        overrides.setdefault("service_name", environment.service_name)
    stack = BillbridgeStack(
        app,
        environment.stack_name,
        config=BillbridgeConfig.from_context(app.node, overrides),
        description=f"Billbridge integration hub ({environment.name}): CLM contracts, PSA actuals, ERP invoices",
    )
    for key, value in sorted(environment.tags.items()):
        cdk.Tags.of(stack).add(key, value)
    return stack


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
