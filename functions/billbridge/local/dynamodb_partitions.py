"""A DynamoDB `Query` on the local stack reads the one partition it names, of a
table or of one of its secondary indexes, as DynamoDB does.

moto answers a `Query` by walking every item of the table (`Table.all_items`,
which also sorts them all), then keeping the items of the partition asked for.
Its time grows with everything stored: a billing run on the local stack got
slower per contract as the ledger table filled, and so did every read of the
lookup index (the known contracts, the exceptions inbox, an audit trail by
correlation id). `partition_reads()` gives moto, for the one `all_items` call a
`Query` makes, the items of that partition only; moto then filters, sorts,
pages and projects them exactly as before, so the answers are the same
(tests/integration/local/test_faster_stand_ins.py compares them with plain
moto's, index queries and index keys changed by updates, transactions and
deletes included).

- A table's partition (or a local secondary index's, which shares the table's
  partition key) is `table.items[partition]`.
- A global secondary index's partition is found through a map kept beside the
  table: index partition key value -> table keys of the items that carried it.
  The map is built from the whole table the first time an index of that table
  is queried, then kept up to date by the writes that can give an item an index
  key (`Table.put_item`, which every put, batch put, transaction put and
  restore goes through, and the backend's `update_item`, which changes an item
  in place). An entry is never trusted: the item is looked up again and kept
  only if it still carries that value (an item deleted, or whose index key
  changed, drops out), so the map can only be too wide, never too narrow.

An index keyed on several attributes (moto's multi-attribute keys) is answered
by moto itself. Nothing here changes what is stored.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models.table import GlobalSecondaryIndex, LocalSecondaryIndex, Table

Replacement = tuple[Any, str, Any]

_QUERY_INDEX_NAME_POSITION = 6
"""`Table.query(hash_key, range_comparison, range_objs, limit, exclusive_start_key,
scan_index_forward, projection_expressions, index_name, ...)`: index_name's place after hash_key."""


class _IndexPartitions:
    """For each table whose index was queried: attribute -> value -> table keys."""

    def __init__(self) -> None:
        self._maps: weakref.WeakKeyDictionary[Table, dict[str, dict[Any, set[tuple[Any, Any]]]]] = (
            weakref.WeakKeyDictionary()
        )

    def items(self, table: Table, attribute: str, value: Any) -> list[Any]:
        keys = self._map_of(table, attribute).get(value, set())
        found = []
        for hash_key, range_key in keys:
            item = _stored(table, hash_key, range_key)
            carried = None if item is None else item.attrs.get(attribute)
            if carried is not None and carried == value:
                found.append(item)
        return found

    def remember(self, table: Table, item: Any) -> None:
        maps = self._maps.get(table)
        if not maps or item is None:
            return
        for attribute, partitions in maps.items():
            value = item.attrs.get(attribute)
            if value is not None:
                partitions.setdefault(value, set()).add((item.hash_key, item.range_key))

    def _map_of(self, table: Table, attribute: str) -> dict[Any, set[tuple[Any, Any]]]:
        maps = self._maps.setdefault(table, {})
        if attribute not in maps:
            partitions: dict[Any, set[tuple[Any, Any]]] = {}
            for item in _every_item(table):
                value = item.attrs.get(attribute)
                if value is not None:
                    partitions.setdefault(value, set()).add((item.hash_key, item.range_key))
            maps[attribute] = partitions
        return maps[attribute]


def _every_item(table: Table) -> list[Any]:
    if table.range_key_attr:
        return [item for stored in table.items.values() for item in stored.values()]
    return list(table.items.values())


def _stored(table: Table, hash_key: Any, range_key: Any) -> Any:
    stored = table.items.get(hash_key)
    if stored is None:
        return None
    if table.range_key_attr:
        return stored.get(range_key)
    return stored


def _in_moto_order(items: list[Any]) -> list[Any]:
    """The order of moto's `all_items` (by table key)."""
    return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)


def _single_hash_attribute(index: Any) -> str | None:
    hashes = [key["AttributeName"] for key in index.schema if key["KeyType"] == "HASH"]
    return hashes[0] if len(hashes) == 1 else None


def partition_reads() -> list[Replacement]:
    """The replacements (owner, attribute, new value) that make a `Query` read its partition."""
    scope = threading.local()  # the partition the current thread's `Query` reads, for its one `all_items`
    partitions = _IndexPartitions()
    original_query = Table.query
    original_all_items = Table.all_items
    original_put = Table.put_item
    original_update = dynamodb_models.DynamoDBBackend.update_item

    def query(table: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        if len(args) > _QUERY_INDEX_NAME_POSITION:
            index_name = args[_QUERY_INDEX_NAME_POSITION]
        else:
            index_name = kwargs.get("index_name")
        scope.partition = _partition_of(table, hash_key, index_name)
        try:
            return original_query(table, hash_key, *args, **kwargs)
        finally:
            scope.partition = None

    def all_items(table: Table) -> list[Any]:
        partition = getattr(scope, "partition", None)
        if partition is None or partition[0] is not table:
            return list(original_all_items(table))
        scope.partition = None  # one `all_items` per `Query`
        _, attribute, value = partition
        if attribute is None:
            stored = table.items.get(value)
            if stored is None:
                return []
            return _in_moto_order(list(stored.values()) if table.range_key_attr else [stored])
        return _in_moto_order(partitions.items(table, attribute, value))

    def put_item(table: Table, *args: Any, **kwargs: Any) -> Any:
        item = original_put(table, *args, **kwargs)
        partitions.remember(table, item)
        return item

    def update_item(backend: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
        item = original_update(backend, table_name, *args, **kwargs)
        partitions.remember(backend.get_table(table_name), item)
        return item

    return [
        (Table, "query", query),
        (Table, "all_items", all_items),
        (Table, "put_item", put_item),
        (dynamodb_models.DynamoDBBackend, "update_item", update_item),
    ]


def _partition_of(table: Table, hash_key: Any, index_name: str | None) -> tuple[Table, str | None, Any] | None:
    """(table, index attribute or None for the table's own partition, value), or None: moto walks the table."""
    if hash_key is None:
        return None
    if not index_name:
        return (table, None, hash_key)
    index = next((i for i in table.all_indexes() if i.name == index_name), None)
    if isinstance(index, LocalSecondaryIndex):
        return (table, None, hash_key)
    if isinstance(index, GlobalSecondaryIndex):
        attribute = _single_hash_attribute(index)
        if attribute is not None:
            return (table, attribute, hash_key)
    return None
