"""The functions' settings are read from the environment names the stack writes (topology), with
the defaults a function gets where the stack writes nothing; a function's own settings are read
per invocation, so the local stack can give each consumer its own dead-letter queue."""

from __future__ import annotations

import json

import pytest
from billbridge import bootstrap, topology
from billbridge.settings import (
    ConnectorSettings,
    FunctionSettings,
    HubSettings,
    VendorConfigurationError,
    function_settings,
    read_vendor_configuration,
)


def test_an_empty_environment_gives_the_local_defaults() -> None:
    settings = HubSettings.from_environment({})

    assert settings.audit_retention_days == topology.AUDIT_RETENTION_DAYS == 2557
    assert settings.field_encryption_key_arn == "" and settings.field_decryption is False
    assert ConnectorSettings.from_hub_settings(settings).targets == {}
    assert FunctionSettings.from_environment({}) == FunctionSettings(
        dead_letter_queue_url="", max_receive_count=topology.DEFAULT_MAX_RECEIVE_COUNT, vendor_poller_name=""
    )


def test_the_stacks_names_reach_the_settings() -> None:
    settings = HubSettings.from_environment(
        {
            topology.ENV_AUDIT_RETENTION_DAYS: "3650",
            topology.ENV_FIELD_ENCRYPTION_KEY_ARN: "arn:aws:kms:eu-west-1:123456789012:key/k",
            topology.ENV_FIELD_DECRYPTION: "enabled",
            topology.ENV_CONNECTOR_TARGETS: json.dumps({"psa": {"base_url": "https://psa.example/api"}}),
            topology.ENV_CONNECTOR_SECRETS_ARN: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:c",
            topology.ENV_CONNECTOR_RETRY_POLICY: json.dumps({"max_attempts": 2}),
        }
    )
    connectors = ConnectorSettings.from_hub_settings(settings)

    assert settings.audit_retention_days == 3650
    assert settings.field_decryption is True
    assert connectors.targets["psa"].base_url == "https://psa.example/api"
    assert connectors.retry is not None and connectors.retry.max_attempts == 2


def test_a_plain_http_connector_target_is_refused_naming_the_field() -> None:
    settings = HubSettings.from_environment(
        {topology.ENV_CONNECTOR_TARGETS: json.dumps({"psa": {"base_url": "http://psa.example"}})}
    )
    with pytest.raises(ValueError, match="base_url must be an https:// URL"):
        ConnectorSettings.from_hub_settings(settings)


def test_a_vendor_configuration_that_is_not_an_object_of_objects_is_refused() -> None:
    assert read_vendor_configuration("") == {}
    assert read_vendor_configuration('{"erp/xero": {"erp_instance": "erp-us"}}') == {
        "erp/xero": {"erp_instance": "erp-us"}
    }
    with pytest.raises(VendorConfigurationError, match="not JSON"):
        read_vendor_configuration("{")
    with pytest.raises(VendorConfigurationError, match="source/vendor"):
        read_vendor_configuration('{"erp/xero": 1}')


def test_a_consumer_reads_its_own_dead_letter_queue_at_each_invocation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(topology.ENV_DEAD_LETTER_QUEUE_URL, "https://sqs.eu-west-1.amazonaws.com/1/actuals-dlq")
    monkeypatch.setenv(topology.ENV_MAX_RECEIVE_COUNT, "3")
    assert function_settings().max_receive_count == 3
    assert bootstrap.dead_letter_sink() is not None

    monkeypatch.setenv(topology.ENV_DEAD_LETTER_QUEUE_URL, "https://sqs.eu-west-1.amazonaws.com/1/contracts-dlq")
    assert function_settings().dead_letter_queue_url.endswith("/contracts-dlq")

    monkeypatch.delenv(topology.ENV_DEAD_LETTER_QUEUE_URL)
    assert bootstrap.dead_letter_sink() is None


def test_the_vault_is_none_without_a_key_and_built_once_with_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(topology.ENV_FIELD_ENCRYPTION_KEY_ARN, raising=False)
    bootstrap.reset()
    assert bootstrap.personal_data_vault() is None

    monkeypatch.setenv(topology.ENV_FIELD_ENCRYPTION_KEY_ARN, "arn:aws:kms:eu-west-1:123456789012:key/k")
    bootstrap.reset()
    vault = bootstrap.personal_data_vault()
    assert vault is not None and bootstrap.personal_data_vault() is vault
    bootstrap.reset()
