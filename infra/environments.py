"""Deployment environments: one account can hold a production and a staging copy of the hub.

`cdk synth -c env=staging` (or the context value `billbridge:environment`) names the
environment. Production keeps the stack name `Billbridge` (renaming a deployed stack would
create a second, empty one beside the ledger it holds); any other environment deploys as
`Billbridge-<env>`, with its own physical names (CDK derives them from the stack name) and
its own metric series (`service` = `billbridge-<env>`).

Every resource carries the tags of `billbridge:tags` (cdk.json: `Application`, `Owner`,
`CostCentre`) and `Environment`; `billbridge:environments` holds per-environment overrides
of the `billbridge:*` settings and tags, e.g. `{"staging": {"alarm_email": "..."}}`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from constructs import Node

PRODUCTION = "production"
STACK_BASE_NAME = "Billbridge"
ENV_CONTEXT_KEYS = ("env", "billbridge:environment")
TAGS_CONTEXT_KEY = "billbridge:tags"
ENVIRONMENTS_CONTEXT_KEY = "billbridge:environments"
REQUIRED_TAGS = ("Application", "Environment", "Owner", "CostCentre")
"""Cost allocation and ownership: every resource of the stack carries these."""
ENVIRONMENT_NAME = re.compile(r"^[a-z][a-z0-9-]{0,24}$")


class EnvironmentConfigurationError(ValueError):
    """The environment's name or tags are not usable (raised at synth, before anything deploys)."""


@dataclass(frozen=True, slots=True)
class DeploymentEnvironment:
    name: str
    tags: Mapping[str, str] = field(default_factory=dict)
    overrides: Mapping[str, Any] = field(default_factory=dict)
    """`billbridge:*` settings (without the prefix) that this environment sets differently."""

    @property
    def is_production(self) -> bool:
        return self.name == PRODUCTION

    @property
    def stack_name(self) -> str:
        return STACK_BASE_NAME if self.is_production else f"{STACK_BASE_NAME}-{self.name}"

    @property
    def service_name(self) -> str:
        """The metrics' `service` dimension: environments in one account keep their own series."""
        return "billbridge" if self.is_production else f"billbridge-{self.name}"


def environment_from_context(node: Node) -> DeploymentEnvironment:
    """The environment named by `-c env=NAME` (default production) with its tags and overrides."""
    name = PRODUCTION
    for key in ENV_CONTEXT_KEYS:
        value = node.try_get_context(key)
        if value:
            name = str(value).strip().lower()
            break
    if name in ("prod", ""):
        name = PRODUCTION
    if not ENVIRONMENT_NAME.match(name):
        raise EnvironmentConfigurationError(
            f"env {name!r}: an environment is named with lower-case letters, digits and hyphens "
            "(at most 25 characters), starting with a letter"
        )
    per_environment = node.try_get_context(ENVIRONMENTS_CONTEXT_KEY) or {}
    if not isinstance(per_environment, Mapping):
        raise EnvironmentConfigurationError(f"{ENVIRONMENTS_CONTEXT_KEY} must be an object keyed by environment")
    overrides = dict(per_environment.get(name) or {})
    tags = {**_tags(node.try_get_context(TAGS_CONTEXT_KEY)), **_tags(overrides.pop("tags", None))}
    tags["Environment"] = name
    missing = [key for key in REQUIRED_TAGS if not tags.get(key)]
    if missing:
        raise EnvironmentConfigurationError(
            f"{TAGS_CONTEXT_KEY} must give the tags {', '.join(missing)} (cdk.json context)"
        )
    return DeploymentEnvironment(name=name, tags=tags, overrides=overrides)


def _tags(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise EnvironmentConfigurationError(f"{TAGS_CONTEXT_KEY} must be an object of tag names to values")
    return {str(key): str(tag) for key, tag in value.items()}
