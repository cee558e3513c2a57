"""The `event` connector: a command becomes an event on the hub's bus, for a
downstream system API (or an iPaaS) to pick up. The local stack's default.

Publishing is not an answer: the command stays `sent` until the system answers
with a `sync.acknowledged` or `sync.refused` event from its webhook source,
naming the `command_id` of the detail (docs/spec/events.md).

An EventBridge entry holds at most 256 KB. A command whose event would be
larger (an invoice of thousands of lines) goes by claim check: its payload is
written as a JSON object to the claim-check store (the billing run workspace
bucket, under `commands/`), and the event carries `payload_location`
(`{"bucket", "key"}`) and `payload_bytes` instead of `payload`
(docs/decisions/0005-cost-per-entry.md, docs/spec/events.md). Without a store,
such a command is refused with `CommandTooLargeError` before anything is sent.
"""

from __future__ import annotations

import json
from typing import Any, Protocol
from urllib.parse import quote

from billbridge.app.ports import ConnectorCommand, ConnectorReceipt, EventPublisher, OutboundEvent

CONNECTOR_EVENT_SOURCE = "billbridge.connectors"
MAX_COMMAND_DETAIL_BYTES = 240 * 1024
"""The largest detail sent inline: an EventBridge entry is at most 256 KB with its envelope."""
CLAIM_CHECK_PREFIX = "commands"


class ClaimCheckStore(Protocol):
    @property
    def location(self) -> str:
        """The bucket the payloads are written to."""
        ...

    def write(self, key: str, document: Any) -> None: ...


class CommandTooLargeError(Exception):
    """A command's event exceeds what the bus carries and there is no claim-check store."""


def claim_check_key(command: ConnectorCommand) -> str:
    """One key per command identity: a retried command overwrites its own payload, nothing else."""
    parts = (command.target, command.name, command.idempotency_key)
    return "/".join((CLAIM_CHECK_PREFIX, *(quote(part, safe="") for part in parts))) + ".json"


def _size(document: Any) -> int:
    return len(json.dumps(document, separators=(",", ":"), default=str).encode("utf-8"))


class EventBusConnector:
    def __init__(
        self,
        publisher: EventPublisher,
        *,
        claim_checks: ClaimCheckStore | None = None,
        max_detail_bytes: int = MAX_COMMAND_DETAIL_BYTES,
    ) -> None:
        self._publisher = publisher
        self._claim_checks = claim_checks
        self._max_detail_bytes = max_detail_bytes

    def send(self, command: ConnectorCommand) -> ConnectorReceipt:
        detail: dict[str, Any] = {
            "schema_version": 1,
            "correlationid": command.correlation_id,
            "target": command.target,
            "command": command.name,
            "command_id": command.headers.get("X-Command-Id", ""),
            "idempotency_key": command.idempotency_key,
            "payload": command.payload,
        }
        size = _size(detail)
        if size > self._max_detail_bytes:
            if self._claim_checks is None:
                raise CommandTooLargeError(
                    f"{command.name} {command.idempotency_key}: its event is {size} bytes, more than "
                    f"{self._max_detail_bytes}, and no claim-check store is configured"
                )
            key = claim_check_key(command)
            self._claim_checks.write(key, command.payload)
            del detail["payload"]
            detail["payload_location"] = {"bucket": self._claim_checks.location, "key": key}
            detail["payload_bytes"] = _size(command.payload)
        self._publisher.publish(
            [
                OutboundEvent(
                    source=CONNECTOR_EVENT_SOURCE,
                    detail_type=f"{command.name}Requested",
                    detail=detail,
                    correlation_id=command.correlation_id,
                )
            ]
        )
        return ConnectorReceipt(accepted=True, detail="published on the bus", awaiting_acknowledgement=True)
