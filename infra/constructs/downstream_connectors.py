"""How the hub reaches each downstream system (PSA, ERP instances), per target,
from cdk.json context `billbridge:connectors`:

    "billbridge:connectors": {
      "psa":    {"mode": "http", "base_url": "https://psa.example.com/billbridge", "auth": "oauth2",
                 "token_url": "https://login.example.com/oauth2/token", "client_id": "billbridge",
                 "scopes": ["projects.write"]},
      "erp-us": {"mode": "event"}
    }

`event` (the default for any target not listed): the command is published on the
hub's bus for the system (or an iPaaS) to pick up, and answered by its
`sync.acknowledged` / `sync.refused` webhook. `http`: the command is POSTed to
`{base_url}/commands/{name}` (billbridge.adapters.connectors.http_connector; the
functions' `billbridge.settings.TargetSettings` validate the fields at synth time).

With any `http` target the stack creates one connector secret (Secrets Manager):
`{"psa": {"signing_secret": "whsec_...", "client_secret": "..."}, "erp-us": {"api_key": "..."}}`,
set by an operator after deploy; the functions re-read it within five minutes, so a
rotated value (add the new credential at the vendor, put the new value, revoke the old
one) needs no redeploy. Only the functions that send commands may read it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_secretsmanager as secretsmanager
from billbridge import topology
from billbridge.settings import TargetSettings
from constructs import Construct

from infra.constructs.function_defaults import BillbridgeFunction

MODES = ("event", "http")


class ConnectorConfigurationError(ValueError):
    """`billbridge:connectors` names an unknown mode or an invalid endpoint."""


def http_targets(connectors: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The targets configured for `http`, without their `mode`, validated."""
    found: dict[str, dict[str, Any]] = {}
    for target, settings in connectors.items():
        if not isinstance(settings, Mapping):
            raise ConnectorConfigurationError(f"billbridge:connectors.{target}: must be an object")
        mode = settings.get("mode", "event")
        if mode not in MODES:
            raise ConnectorConfigurationError(f"billbridge:connectors.{target}.mode: {mode!r} is not one of {MODES}")
        if mode != "http":
            continue
        endpoint = {key: value for key, value in settings.items() if key != "mode"}
        try:
            TargetSettings(**endpoint)
        except ValueError as error:
            raise ConnectorConfigurationError(f"billbridge:connectors.{target}: {error}") from None
        found[target] = endpoint
    return found


class DownstreamConnectors(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, connectors: Mapping[str, Any]) -> None:
        super().__init__(scope, construct_id)
        self.http_targets = http_targets(connectors)
        self.secret: secretsmanager.Secret | None = None
        self.environment: dict[str, str] = {topology.ENV_CONNECTOR_MODE: "event"}
        if not self.http_targets:
            return
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            description="Downstream connector credentials per target: "
            "{target: {signing_secret, client_secret | api_key}}",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({target: {} for target in sorted(self.http_targets)}),
                generate_string_key="placeholder",
                exclude_punctuation=True,
            ),
        )
        cdk.Validations.of(self.secret).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-SMG4",
                reason="The downstream systems issue these credentials; rotation is put-new-value then "
                "revoke-old at the vendor (read again within five minutes), not a rotation Lambda.",
            )
        )
        self.environment = {
            topology.ENV_CONNECTOR_MODE: "http",
            topology.ENV_CONNECTOR_TARGETS: json.dumps(self.http_targets, sort_keys=True),
            topology.ENV_CONNECTOR_SECRETS_ARN: self.secret.secret_arn,
        }

    def connect(self, function: BillbridgeFunction) -> None:
        """A function that sends commands: its connector settings, and read access to the secret."""
        for name, value in self.environment.items():
            function.function.add_environment(name, value)
        if self.secret is not None:
            self.secret.grant_read(function.role)
