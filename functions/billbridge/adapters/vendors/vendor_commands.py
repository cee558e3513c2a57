"""Outbound commands through the vendors' clients: a command whose (target, name) a vendor client
handles goes to it; every other command goes to the hub's connector as before."""

from __future__ import annotations

from collections.abc import Mapping

from billbridge.app.ports import Connector, ConnectorCommand, ConnectorReceipt


class VendorCommandRouter:
    def __init__(self, default: Connector, routes: Mapping[tuple[str, str], Connector]) -> None:
        self._default = default
        self._routes = dict(routes)

    def send(self, command: ConnectorCommand) -> ConnectorReceipt:
        return self._routes.get((command.target, command.name), self._default).send(command)
