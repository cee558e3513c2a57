"""Phased-rollout switches: per workflow and per source, `off`, `shadow` or `on`.

- `off`: the hub does not take the workflow's (or the source's) events: the
  webhook refuses them with 400 naming the switch.
- `shadow`: events are processed and recorded (books, rating, invoice
  proposals, exceptions) but no downstream command is sent and no invoice is
  posted to an ERP. This is how a firm runs its parallel period.
- `on`: the workflow runs fully.

An event's mode is the stricter of its workflow's and its source's. Workflows
(topology.WORKFLOWS; their names and event types in billbridge.event_names):
`contracts` (customer and contract sync), `actuals` (actuals-to-billing:
rating, and posting the invoices the billing run proposes), `feedback`
(invoice and payment feedback). Configured as cdk.json
context `billbridge:rollout` (the `ROLLOUT` environment variable of the
functions, and of the local stack); unset: everything is on.
"""

from __future__ import annotations

import json
from enum import StrEnum
from types import MappingProxyType

from billbridge import event_names

TYPE_CHECKING = False  # `typing` costs ~4 ms to import: its names serve annotations only
if TYPE_CHECKING:
    from collections.abc import Mapping


class RolloutMode(StrEnum):
    """A switch's state, as configured and shown (`off`, `shadow`, `on`)."""

    OFF = "off"
    SHADOW = "shadow"
    ON = "on"


MODES: tuple[RolloutMode, ...] = (RolloutMode.OFF, RolloutMode.SHADOW, RolloutMode.ON)
"""From strictest to fullest."""
WORKFLOW_NAMES = tuple(event_names.WORKFLOW_EVENT_TYPES)
WORKFLOW_OF_EVENT_TYPE: Mapping[str, str] = MappingProxyType(
    {event_type: name for name, event_types in event_names.WORKFLOW_EVENT_TYPES.items() for event_type in event_types}
)
BILLING_WORKFLOW = "actuals"
"""Posting invoices belongs to actuals-to-billing."""
SHADOW_REFERENCE = "shadow: not posted (rollout)"


class InvalidRolloutError(ValueError):
    """The rollout configuration names an unknown workflow, source or mode."""


def _modes(document: object, known: tuple[str, ...], what: str) -> dict[str, RolloutMode]:
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise InvalidRolloutError(f"rollout.{what}: must be an object {what[:-1]} -> mode")
    modes: dict[str, RolloutMode] = {}
    for name, mode in document.items():
        if name not in known:
            raise InvalidRolloutError(f"rollout.{what}: unknown {what[:-1]} {name!r}; known: {', '.join(known)}")
        if mode not in MODES:
            raise InvalidRolloutError(f"rollout.{what}.{name}: {mode!r} is not one of {', '.join(MODES)}")
        modes[name] = RolloutMode(mode)
    return modes


class Rollout:
    """The switches as configured (a workflow or source not named is `on`). A plain class, not a
    dataclass: `billbridge status` parses one, and `dataclasses` (with `inspect`) costs more to
    import than the command may spend (decision 27)."""

    __slots__ = ("sources", "workflows")

    def __init__(
        self, workflows: Mapping[str, RolloutMode] | None = None, sources: Mapping[str, RolloutMode] | None = None
    ) -> None:
        self.workflows: Mapping[str, RolloutMode] = MappingProxyType(dict(workflows or {}))
        self.sources: Mapping[str, RolloutMode] = MappingProxyType(dict(sources or {}))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Rollout):
            return NotImplemented
        return (dict(self.workflows), dict(self.sources)) == (dict(other.workflows), dict(other.sources))

    def __repr__(self) -> str:
        return f"Rollout(workflows={dict(self.workflows)!r}, sources={dict(self.sources)!r})"

    @classmethod
    def parse(cls, configured: str | Mapping[str, object] | None) -> Rollout:
        if configured is None or configured == "":
            return cls()
        if isinstance(configured, str):
            try:
                document = json.loads(configured)
            except ValueError as error:
                raise InvalidRolloutError(f"rollout: not JSON ({error})") from None
        else:
            document = dict(configured)
        if not isinstance(document, dict) or set(document) - {"workflows", "sources"}:
            raise InvalidRolloutError('rollout: must be an object with "workflows" and/or "sources"')
        return cls(
            workflows=_modes(document.get("workflows"), WORKFLOW_NAMES, "workflows"),
            sources=_modes(document.get("sources"), event_names.WEBHOOK_SOURCES, "sources"),
        )

    def workflow_mode(self, workflow: str) -> RolloutMode:
        return self.workflows.get(workflow, RolloutMode.ON)

    def source_mode(self, source: str) -> RolloutMode:
        return self.sources.get(source, RolloutMode.ON)

    def mode_for(self, workflow: str, source: str | None = None) -> RolloutMode:
        """The stricter of the workflow's and the source's switch."""
        modes = [self.workflow_mode(workflow)] + ([self.source_mode(source)] if source else [])
        return min(modes, key=MODES.index)

    def mode_of_event(self, event_type: str, source: str) -> RolloutMode:
        workflow = WORKFLOW_OF_EVENT_TYPE.get(event_type)
        return self.mode_for(workflow, source) if workflow else self.source_mode(source)

    def refusal(self, event_type: str, source: str) -> str | None:
        """None unless the event's workflow or source is switched off."""
        workflow = WORKFLOW_OF_EVENT_TYPE.get(event_type)
        if workflow is not None and self.workflow_mode(workflow) == RolloutMode.OFF:
            return f"rollout: workflow {workflow} is off"
        if self.source_mode(source) == RolloutMode.OFF:
            return f"rollout: source {source} is off"
        return None

    def document(self) -> dict[str, dict[str, str]]:
        """Every switch with its state (the defaults included): what `billbridge status` shows."""
        return {
            "workflows": {name: str(self.workflow_mode(name)) for name in WORKFLOW_NAMES},
            "sources": {name: str(self.source_mode(name)) for name in event_names.WEBHOOK_SOURCES},
        }
