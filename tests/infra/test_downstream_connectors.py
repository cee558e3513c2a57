"""Connector configuration per target system at deploy time (`billbridge:connectors`),
the propagation KPIs on the dashboard and the stale-propagation alarm."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from billbridge import topology

from infra.constructs.downstream_connectors import ConnectorConfigurationError, http_targets
from infra.synth import build_app
from tests.infra.conftest import Synthesized

PSA_OVER_HTTP = {
    "billbridge:connectors": {
        "psa": {
            "mode": "http",
            "base_url": "https://psa.example.com/billbridge",
            "auth": "oauth2",
            "token_url": "https://login.example.com/oauth2/token",
            "client_id": "billbridge",
            "scopes": ["projects.write"],
        },
        "erp-us": {"mode": "event"},
    },
    "billbridge:propagation_alarm_hours": 6,
}
SENDERS = {
    "billbridge.entrypoints.queues.consume_contracts.lambda_handler",
    "billbridge.entrypoints.queues.consume_feedback.lambda_handler",
    "billbridge.entrypoints.workflow.post_invoice.lambda_handler",
}


def _template(tmp_path: Path, context: dict[str, Any]) -> dict[str, Any]:
    app, stack = build_app(outdir=str(tmp_path), nag=True, context=context)
    return app.synth().get_stack_artifact(stack.artifact_id).template  # type: ignore[no-any-return]


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        resource["Properties"]["Handler"]: resource["Properties"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
    }


def test_by_default_every_target_is_reached_on_the_bus_and_no_connector_secret_exists(
    synthesized: Synthesized,
) -> None:
    secrets = synthesized.properties("AWS::SecretsManager::Secret")
    assert not [s for s in secrets if "connector" in s.get("Description", "")]
    for handler, props in _functions(synthesized.template).items():
        assert props["Environment"]["Variables"][topology.ENV_CONNECTOR_MODE] == "event", handler


def test_one_system_switched_to_http_in_cdk_json_context(tmp_path: Path) -> None:
    template = _template(tmp_path, PSA_OVER_HTTP)  # with cdk-nag: raises on an unacknowledged finding
    functions = _functions(template)
    for handler, props in functions.items():
        env = props["Environment"]["Variables"]
        if handler in SENDERS:
            assert env[topology.ENV_CONNECTOR_MODE] == "http", handler
            targets = json.loads(env["CONNECTOR_TARGETS"])
            assert list(targets) == ["psa"] and targets["psa"]["base_url"] == "https://psa.example.com/billbridge"
            assert "CONNECTOR_SECRETS_ARN" in env
        else:
            assert env[topology.ENV_CONNECTOR_MODE] == "event", handler
            assert "CONNECTOR_SECRETS_ARN" not in env, handler
    (secret_id,) = [
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::SecretsManager::Secret"
        and "connector" in resource["Properties"].get("Description", "")
    ]
    readers = {
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::IAM::Policy" and secret_id in json.dumps(resource["Properties"])
    }
    assert len(readers) == len(SENDERS)
    kpis = functions[topology.PUBLISH_KPIS_HANDLER]["Environment"]["Variables"]
    assert kpis[topology.ENV_PROPAGATION_STALE_AFTER_HOURS] == "6"


@pytest.mark.parametrize(
    ("connectors", "named"),
    [
        ({"psa": {"mode": "ftp"}}, "psa.mode"),
        ({"psa": {"mode": "http", "base_url": "http://psa.example.com"}}, "https"),
        ({"erp-us": {"mode": "http", "base_url": "https://erp.example.com", "colour": "red"}}, "erp-us"),
    ],
)
def test_a_malformed_connector_setting_is_refused_by_name(connectors: dict[str, Any], named: str) -> None:
    with pytest.raises(ConnectorConfigurationError, match=named):
        http_targets(connectors)


def test_a_version_unacknowledged_past_the_configured_age_alarms(synthesized: Synthesized) -> None:
    (alarm,) = [
        props
        for props in synthesized.properties("AWS::CloudWatch::Alarm")
        if props.get("MetricName") == "StaleContractVersions"
    ]
    assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["TreatMissingData"] == "notBreaching" and alarm["AlarmActions"]
    assert "24 h" in alarm["AlarmDescription"]
    dashboard = json.dumps(synthesized.properties("AWS::CloudWatch::Dashboard"))
    assert "ContractVersionsPropagated" in dashboard and "StaleContractVersions" in dashboard
