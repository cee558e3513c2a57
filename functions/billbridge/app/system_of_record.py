"""System-of-record rules: for each data domain, the one source that may write it.

The rules are configuration (cdk.json context `billbridge:systems_of_record`,
passed to the functions as the `SYSTEMS_OF_RECORD` environment variable, or
the local stack's configuration). A delivery of an event type from a source
that is not its domain's system of record is refused at the webhook edge with
400 naming the rule, and the refusal is audited (`billbridge.app.ports.RefusalLog`).

Domains: `customer` (customer and legal-entity master data: `erp` or `crm`),
`contract` (`clm`), `project` (time, expenses, milestones: `psa`), `invoice`
(invoices and payments: `erp`).
"""

from __future__ import annotations

import json
from types import MappingProxyType

from billbridge import event_names

TYPE_CHECKING = False  # `typing` costs ~4 ms to import: its names serve annotations only
if TYPE_CHECKING:
    from collections.abc import Mapping


class InvalidSystemsOfRecordError(ValueError):
    """The configured rules name an unknown domain, or a source that cannot write the domain."""


class SystemsOfRecord:
    """`owners`: domain -> the source that may write it. A plain class, not a dataclass:
    `billbridge status` parses one, and `dataclasses` (with `inspect`) costs more to import than
    the command may spend (decision 27)."""

    __slots__ = ("owners",)

    def __init__(self, owners: Mapping[str, str]) -> None:
        self.owners: Mapping[str, str] = MappingProxyType(dict(owners))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SystemsOfRecord):
            return NotImplemented
        return dict(self.owners) == dict(other.owners)

    def __repr__(self) -> str:
        return f"SystemsOfRecord({dict(self.owners)!r})"

    @classmethod
    def default(cls) -> SystemsOfRecord:
        return cls(event_names.DEFAULT_SYSTEMS_OF_RECORD)

    @classmethod
    def parse(cls, configured: str | Mapping[str, str] | None) -> SystemsOfRecord:
        """Defaults overridden by `configured` (a JSON object or a mapping, e.g. `{"customer": "crm"}`)."""
        if configured is None or configured == "":
            return cls.default()
        if isinstance(configured, str):
            try:
                loaded = json.loads(configured)
            except ValueError as error:
                raise InvalidSystemsOfRecordError(f"systems of record: not JSON ({error})") from None
        else:
            loaded = dict(configured)
        if not isinstance(loaded, dict):
            raise InvalidSystemsOfRecordError("systems of record: must be a JSON object domain -> source")
        owners = dict(event_names.DEFAULT_SYSTEMS_OF_RECORD)
        for domain, source in loaded.items():
            if domain not in owners:
                raise InvalidSystemsOfRecordError(
                    f"systems of record: unknown domain {domain!r}; domains: {', '.join(owners)}"
                )
            speaks = [t for t, d in event_names.DOMAIN_OF_EVENT_TYPE.items() if d == domain]
            if not isinstance(source, str) or not set(speaks) <= set(event_names.EVENT_TYPES_BY_SOURCE.get(source, ())):
                able = [s for s, types in event_names.EVENT_TYPES_BY_SOURCE.items() if set(speaks) <= set(types)]
                raise InvalidSystemsOfRecordError(
                    f"systems of record: {domain} cannot be written by {source!r}; possible: {', '.join(able)}"
                )
            owners[domain] = source
        return cls(MappingProxyType(owners))

    def refusal(self, source: str, event_type: str) -> str | None:
        """None if `source` may deliver `event_type`, else the rule that refuses it."""
        domain = event_names.DOMAIN_OF_EVENT_TYPE.get(event_type)
        if domain is None:
            return None
        owner = self.owners.get(domain)
        if owner is None or owner == source:
            return None
        return f"system of record: {domain} data is written by {owner}, not {source}"

    def rule_name(self, event_type: str) -> str:
        domain = event_names.DOMAIN_OF_EVENT_TYPE.get(event_type, "")
        return f"{domain}={self.owners.get(domain, '')}"

    def document(self) -> dict[str, str]:
        return dict(self.owners)
