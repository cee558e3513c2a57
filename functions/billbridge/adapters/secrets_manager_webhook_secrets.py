"""WebhookSecrets read from one Secrets Manager secret: `{"clm": ["whsec_..."], "psa": [...], ...}`.

Several secrets per source during a rotation; a bare string is read as a list
of one. Powertools Parameters caches the secret for `max_age_seconds`, so a
rotation is picked up within that time without a redeploy.
"""

from __future__ import annotations

from typing import Any

from billbridge.adapters.secret_document import JsonSecretDocument

DEFAULT_MAX_AGE_SECONDS = 300


class WebhookSecretsConfigurationError(Exception):
    """The secret's value is not the expected JSON object of lists of strings."""


class SecretsManagerWebhookSecrets:
    def __init__(
        self,
        *,
        secret_id: str,
        max_age_seconds: int = DEFAULT_MAX_AGE_SECONDS,
        client: Any | None = None,
    ) -> None:
        if not secret_id:
            raise WebhookSecretsConfigurationError("no webhook secrets ARN configured")
        self._secret = JsonSecretDocument(secret_id=secret_id, max_age_seconds=max_age_seconds, client=client)

    def active_secrets(self, source: str) -> list[str]:
        document = self._secret.read()
        if not isinstance(document, dict):
            raise WebhookSecretsConfigurationError("the webhook secrets value must be a JSON object")
        value = document.get(source, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise WebhookSecretsConfigurationError(f"the secrets of {source!r} must be a list of strings")
        return [item for item in value if item]
