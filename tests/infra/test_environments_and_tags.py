"""Environments: the stack's name and its own names come from `-c env=...`; every resource
carries the application, environment, owner and cost-centre tags of cdk.json."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest

from infra.environments import REQUIRED_TAGS, EnvironmentConfigurationError, environment_from_context
from infra.synth import build_app, cdk_context
from tests.infra.conftest import Synthesized

MUST_BE_TAGGED = {
    "AWS::Lambda::Function",
    "AWS::SQS::Queue",
    "AWS::S3::Bucket",
    "AWS::IAM::Role",
    "AWS::KMS::Key",
    "AWS::SNS::Topic",
    "AWS::StepFunctions::StateMachine",
    "AWS::Logs::LogGroup",
    "AWS::SecretsManager::Secret",
    "AWS::ApiGateway::RestApi",
    "AWS::DynamoDB::Table",
}


def tags_of(resource: dict[str, Any]) -> dict[str, str] | None:
    properties = resource.get("Properties", {})
    if resource["Type"] == "AWS::DynamoDB::GlobalTable":
        replicas = properties.get("Replicas", [{}])
        tags = replicas[0].get("Tags")
    else:
        tags = properties.get("Tags")
    if tags is None:
        return None
    if isinstance(tags, dict):  # some resource types take a map
        return {str(k): str(v) for k, v in tags.items()}
    return {tag["Key"]: tag["Value"] for tag in tags}


def assert_every_resource_tagged(template: dict[str, Any], environment: str) -> set[str]:
    tagged_types = set()
    for logical_id, resource in template["Resources"].items():
        tags = tags_of(resource)
        if tags is None:
            assert resource["Type"] not in MUST_BE_TAGGED, f"{logical_id} ({resource['Type']}) has no tags"
            continue
        tagged_types.add(resource["Type"])
        for key in REQUIRED_TAGS:
            assert tags.get(key), f"{logical_id} lacks the tag {key}"
        assert tags["Environment"] == environment, logical_id
        assert tags["Application"] == "billbridge", logical_id
    return tagged_types


def test_without_an_environment_the_stack_is_production_named_billbridge_and_tagged(
    synthesized: Synthesized,
) -> None:
    assert synthesized.stack.stack_name == "Billbridge"
    tagged = assert_every_resource_tagged(synthesized.template, "production")
    assert tagged >= MUST_BE_TAGGED


def test_env_staging_gives_its_own_stack_name_service_series_and_cost_centre() -> None:
    app, stack = build_app(context={"env": "staging"})
    template = app.synth().get_stack_artifact(stack.artifact_id).template
    assert stack.stack_name == "Billbridge-staging"
    tagged = assert_every_resource_tagged(template, "staging")
    assert tagged >= MUST_BE_TAGGED
    # cdk.json's per-environment override of one tag
    some_function = next(r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function")
    assert tags_of(some_function)["CostCentre"] == "FIN-OPS-001-NONPROD"  # type: ignore[index]
    # its own metric series: alarms and the dashboard watch service=billbridge-staging
    environment = some_function["Properties"]["Environment"]["Variables"]
    assert environment["POWERTOOLS_SERVICE_NAME"] == "billbridge-staging"
    queries = [r for r in template["Resources"].values() if r["Type"] == "AWS::Logs::QueryDefinition"]
    assert queries[0]["Properties"]["Name"].startswith("Billbridge-staging/")


@pytest.mark.parametrize("name", ["Staging!", "a" * 30, "9lives"])
def test_an_environment_name_that_cannot_name_a_stack_is_refused(name: str) -> None:
    with pytest.raises(EnvironmentConfigurationError, match="env"):
        environment_from_context(cdk.App(context={**cdk_context(), "env": name}).node)


def test_missing_owner_or_cost_centre_tags_fail_the_synth() -> None:
    context = {**cdk_context(), "billbridge:tags": {"Application": "billbridge"}}
    with pytest.raises(EnvironmentConfigurationError, match="Owner, CostCentre"):
        environment_from_context(cdk.App(context=context).node)
