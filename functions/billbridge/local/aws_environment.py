"""The process environment a local run needs: fake credentials, one region, Powertools defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import TracebackType

from billbridge import topology

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
"""moto's default account: ARNs built here match those moto returns."""

PARTITION = "aws"

BASE_ENVIRONMENT: Mapping[str, str] = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "Billbridge",
    "POWERTOOLS_SERVICE_NAME": "billbridge",
    "POWERTOOLS_DEV": "false",
}

REMOVED_VARIABLES: tuple[str, ...] = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL")
"""A profile or an endpoint override would send calls past the in-process mock."""


class PatchedEnvironment:
    """Sets variables on enter (or later through `update`) and restores the previous values on exit."""

    def __init__(self, values: Mapping[str, str], *, isolate: bool = True) -> None:
        """`isolate` also removes the profile and endpoint variables while active."""
        self._initial = dict(values)
        self._isolate = isolate
        self._saved: dict[str, str | None] = {}

    def __enter__(self) -> PatchedEnvironment:
        for name in list(os.environ) if self._isolate else ():
            if name in REMOVED_VARIABLES or name.startswith("AWS_ENDPOINT_URL_"):
                self._remember(name)
                del os.environ[name]
        self.update(self._initial)
        return self

    def update(self, values: Mapping[str, str]) -> None:
        for name, value in values.items():
            self._remember(name)
            os.environ[name] = value

    def _remember(self, name: str) -> None:
        if name not in self._saved:
            self._saved[name] = os.environ.get(name)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for name, previous in self._saved.items():
            if previous is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = previous
        self._saved.clear()


LOCAL_CONFIGURATION_VARIABLES = (topology.ENV_ROLLOUT, topology.ENV_SYSTEMS_OF_RECORD, topology.ENV_FEED_ENTRIES_RATED)
"""Set them before `billbridge demo` or
`billbridge local serve` to run the local stack with the same switches as a deployment."""


def local_configuration() -> dict[str, str]:
    return {name: os.environ[name] for name in LOCAL_CONFIGURATION_VARIABLES if os.environ.get(name)}
