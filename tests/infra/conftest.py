"""The stack is synthesized once per session, with cdk.json's context and without bundling."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import assertions

from infra.stack import BillbridgeStack
from infra.synth import build_app


@dataclass(frozen=True)
class Synthesized:
    stack: BillbridgeStack
    template: dict[str, Any]
    assertions: assertions.Template

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.template["Resources"].items()
            if resource["Type"] == resource_type
        }

    def properties(self, resource_type: str) -> list[dict[str, Any]]:
        return [resource.get("Properties", {}) for resource in self.resources(resource_type).values()]

    def logical_id(self, construct: Any) -> str:
        return self.stack.resolve(construct.node.default_child.logical_id)  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    outdir = tmp_path_factory.mktemp("cdk-out")
    app, stack = build_app(outdir=str(outdir))
    assembly = app.synth()
    template = assembly.get_stack_artifact(stack.artifact_id).template
    yield Synthesized(stack=stack, template=template, assertions=assertions.Template.from_json(template))


@pytest.fixture(scope="session")
def template_file(synthesized: Synthesized, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "Billbridge.template.json"
    path.write_text(json.dumps(synthesized.template), encoding="utf-8")
    return path
