"""The signing secrets of the webhook senders, one list per source."""

from __future__ import annotations

import json

import aws_cdk as cdk
from aws_cdk import aws_secretsmanager as secretsmanager
from billbridge import topology
from constructs import Construct

PLACEHOLDER_KEY = "placeholder"


class WebhookSecrets(Construct):
    """One JSON secret `{"clm": ["whsec_..."], "psa": [...], ...}`.

    A list per source lets a sender's secret rotate without downtime: add the new
    secret, let the vendor switch, remove the old one. The deployed value has an
    empty list per source (every webhook is refused until an operator sets the
    secrets) and a generated `placeholder` key that the receiver ignores, so no
    value ever appears in the template.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        template = {source: [] for source in topology.WEBHOOK_SOURCES}
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            description="Webhook signing secrets per source: {source: [secret, ...]}",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps(template),
                generate_string_key=PLACEHOLDER_KEY,
                exclude_punctuation=True,
            ),
        )
        cdk.Validations.of(self.secret).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-SMG4",
                reason="The vendors issue these signing secrets; rotation is the add-then-remove "
                "procedure on the per-source list (docs/infrastructure.md), not a rotation Lambda.",
            )
        )
