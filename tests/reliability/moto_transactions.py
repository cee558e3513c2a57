"""moto's TransactWriteItems made affordable for ledgers of thousands of items.

moto (5.x) backs up a transaction by deep-copying the whole table once per
item of the transaction, so every conditional save of a book costs time in
proportion to everything the table already holds, and a storm of ten thousand
events would take hours. This stand-in keeps the semantics (all or nothing:
a cancelled transaction leaves every item it targeted as it was) by backing up
only the items the transaction targets. `test_moto_transactions.py` checks the
rollback.
"""

from __future__ import annotations

import copy
import types
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models.table import Table


def _copy_without_tables() -> types.SimpleNamespace:
    def deepcopy(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    return types.SimpleNamespace(deepcopy=deepcopy, copy=copy.copy)


def _target(backend: Any, entry: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    op_type, op = next(iter(entry.items()))
    table_name = op.get("TableName")
    if table_name not in backend.tables:
        return None
    if op_type == "Put":
        table = backend.tables[table_name]
        attrs = op["Item"]
        if table.hash_key_attr not in attrs:
            return None
        key = {table.hash_key_attr: attrs[table.hash_key_attr]}
        if table.range_key_attr is not None:
            if table.range_key_attr not in attrs:
                return None
            key[table.range_key_attr] = attrs[table.range_key_attr]
        return table_name, key
    if "Key" in op:
        return table_name, op["Key"]
    return None


@contextmanager
def item_level_transaction_rollback() -> Iterator[None]:
    original = dynamodb_models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        backups: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
        for entry in transact_items:
            target = _target(self, entry)
            if target is None:
                continue
            table_name, key = target
            try:
                current = self.get_item(table_name, key)
            except Exception:
                current = None
            before = None if current is None else copy.deepcopy(current.to_json()["Attributes"])
            backups.append((table_name, key, before))
        try:
            original(self, transact_items)
        except Exception:
            for table_name, key, before in reversed(backups):
                if before is None:
                    with suppress(Exception):
                        self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, before)
            raise

    saved_copy = dynamodb_models.copy
    dynamodb_models.copy = _copy_without_tables()  # type: ignore[assignment]
    dynamodb_models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    try:
        yield
    finally:
        dynamodb_models.DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]
        dynamodb_models.copy = saved_copy
