"""Downstream commands in the ledger table:

- `COMMANDS#{contract}` / `CMD#{command id}`: the command, its state, answer and history
  (a JSON document) and `revision`, written conditionally on the revision read;
- `COMMAND#{command id}` / `CONTRACT`: which contract a command belongs to (an
  asynchronous answer names the command only).
"""

from __future__ import annotations

from typing import Any

from billbridge.adapters.command_log_codec import decode_command, encode_command
from billbridge.adapters.dynamo_table import DynamoTable
from billbridge.app.ports import ConcurrentCommandUpdateError
from billbridge.domain.downstream_commands import DownstreamCommand

COMMANDS_PREFIX = "COMMANDS#"
POINTER_PREFIX = "COMMAND#"


class DynamoCommandLog:
    def __init__(self, table: DynamoTable) -> None:
        self._table = table

    def get(self, command_id: str) -> DownstreamCommand | None:
        pointer = self._table.get(f"{POINTER_PREFIX}{command_id}", "CONTRACT")
        if pointer is None:
            return None
        item = self._table.get(f"{COMMANDS_PREFIX}{pointer['contract_id']['S']}", f"CMD#{command_id}")
        return None if item is None else _decode(item)

    def save(self, command: DownstreamCommand) -> DownstreamCommand:
        client = self._table.client
        revision = command.revision + 1
        item = {
            "pk": {"S": f"{COMMANDS_PREFIX}{command.contract_id}"},
            "sk": {"S": f"CMD#{command.command_id}"},
            "command": {"S": encode_command(command)},
            "state": {"S": command.state.value},
            "revision": {"N": str(revision)},
        }
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(pk)"}
            if command.revision == 0
            else {
                "ConditionExpression": "revision = :read",
                "ExpressionAttributeValues": {":read": {"N": str(command.revision)}},
            }
        )
        try:
            client.put_item(TableName=self._table.table_name, Item=item, **condition)
        except client.exceptions.ConditionalCheckFailedException:
            raise ConcurrentCommandUpdateError(command.command_id) from None
        if command.revision == 0:
            client.put_item(
                TableName=self._table.table_name,
                Item={
                    "pk": {"S": f"{POINTER_PREFIX}{command.command_id}"},
                    "sk": {"S": "CONTRACT"},
                    "contract_id": {"S": command.contract_id},
                },
            )
        return decode_command(item["command"]["S"], revision)

    def of_contract(self, contract_id: str) -> list[DownstreamCommand]:
        return [_decode(item) for item in self._table.query_pk(f"{COMMANDS_PREFIX}{contract_id}", sk_prefix="CMD#")]

    def all_commands(self) -> list[DownstreamCommand]:
        return [_decode(item) for item in self._table.scan_prefix(COMMANDS_PREFIX)]


def _decode(item: dict[str, Any]) -> DownstreamCommand:
    return decode_command(item["command"]["S"], int(item["revision"]["N"]))
