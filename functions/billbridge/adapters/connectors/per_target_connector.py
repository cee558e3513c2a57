"""One connector per target system: each command goes to its target's connector
(the `http` connector for the targets configured with an endpoint), the others
to the default (the `event` connector). See the README's deploy section."""

from __future__ import annotations

from collections.abc import Mapping

from billbridge.app.ports import Connector, ConnectorCommand, ConnectorReceipt


class PerTargetConnector:
    def __init__(self, routes: Mapping[str, Connector], default: Connector) -> None:
        self._routes = dict(routes)
        self._default = default

    def send(self, command: ConnectorCommand) -> ConnectorReceipt:
        return self._routes.get(command.target, self._default).send(command)

    def connector_for(self, target: str) -> Connector:
        return self._routes.get(target, self._default)
