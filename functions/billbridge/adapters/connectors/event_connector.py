"""The `event` connector: a command becomes an event on the hub's bus, for a
downstream system API (or an iPaaS) to pick up. The local stack's default.

Publishing is not an answer: the command stays `sent` until the system answers
with a `sync.acknowledged` or `sync.refused` event from its webhook source,
naming the `command_id` of the detail (docs/spec/events.md)."""

from __future__ import annotations

from billbridge.app.ports import ConnectorCommand, ConnectorReceipt, EventPublisher, OutboundEvent

CONNECTOR_EVENT_SOURCE = "billbridge.connectors"


class EventBusConnector:
    def __init__(self, publisher: EventPublisher) -> None:
        self._publisher = publisher

    def send(self, command: ConnectorCommand) -> ConnectorReceipt:
        self._publisher.publish(
            [
                OutboundEvent(
                    source=CONNECTOR_EVENT_SOURCE,
                    detail_type=f"{command.name}Requested",
                    detail={
                        "schema_version": 1,
                        "correlationid": command.correlation_id,
                        "target": command.target,
                        "command": command.name,
                        "command_id": command.headers.get("X-Command-Id", ""),
                        "idempotency_key": command.idempotency_key,
                        "payload": command.payload,
                    },
                    correlation_id=command.correlation_id,
                )
            ]
        )
        return ConnectorReceipt(accepted=True, detail="published on the bus", awaiting_acknowledgement=True)
