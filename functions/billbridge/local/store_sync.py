"""Keeps a running local stack and its SQLite store in step, one unit of work at a time.

    with sync.unit_of_work():     # BEGIN IMMEDIATE; apply what other processes committed
        ...                       # handlers, queue pumping, a billing run
                                  # write what this unit changed; COMMIT

What a unit changed is known without reading everything: the DynamoDB items its
write requests targeted (recorded by `StandInBoundary`), the raw payload keys
and queue message ids that differ from those this process last saw. The cost of
a unit follows what it did, not the size of the state.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.s3.models import s3_backends
from moto.sqs.models import sqs_backends

from billbridge import topology
from billbridge.local.aws_environment import ACCOUNT_ID, REGION
from billbridge.local.resources import LocalNames
from billbridge.local.stand_in_boundary import STAND_IN_LOCK, StandInBoundary, canonical_key
from billbridge.local.store import Changes, LocalStore, MessageRow, ObjectRow, scalar

BATCH_WRITE_LIMIT = 25


def table_keys(names: LocalNames) -> dict[str, tuple[str, topology.KeySchema]]:
    """Physical table name -> (store name, key schema)."""
    return {
        names.ledger_table: ("ledger", topology.LEDGER_TABLE),
    }


def row_keys(item: dict[str, Any], schema: topology.KeySchema) -> tuple[str | None, str | None]:
    return scalar(item.get(schema.partition_key)), (scalar(item.get(schema.sort_key)) if schema.sort_key else None)


def index_keys(item: dict[str, Any], store_table: str) -> tuple[str | None, str | None]:
    if store_table != "ledger":
        return None, None
    lookup = topology.LEDGER_LOOKUP_KEYS
    return scalar(item.get(lookup.partition_key)), (scalar(item.get(lookup.sort_key)) if lookup.sort_key else None)


class StoreSync:
    def __init__(
        self, store: LocalStore, names: LocalNames, clients: dict[str, Any], boundary: StandInBoundary
    ) -> None:
        self.store = store
        self.names = names
        self.clients = clients
        self.boundary = boundary
        self.tables = table_keys(names)
        self.store_tables = {store_name: physical for physical, (store_name, _) in self.tables.items()}
        self.queues = names.queue_names()
        self.seen = 0
        self.known_objects: dict[str, str] = {}
        self.known_messages: dict[str, set[str]] = {key: set() for key in self.queues}
        self.lock = threading.RLock()
        self._depth = 0
        self.units = 0

    # -- the unit of work ------------------------------------------------------------------------

    @contextmanager
    def unit_of_work(self) -> Iterator[None]:
        with self.lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._depth = 1
            try:
                self.store.begin()
                try:
                    self.refresh()
                except BaseException:
                    self.store.rollback()
                    raise
                try:
                    yield
                finally:
                    try:
                        self.flush()
                        self.store.commit()
                        self.units += 1
                    except BaseException:
                        self.store.rollback()
                        raise
            finally:
                self._depth = 0

    # -- store -> stand-ins ----------------------------------------------------------------------

    def refresh(self) -> None:
        changes = self.store.changes_since(self.seen)
        if changes.generation != self.seen:
            self.apply(changes)
        self.seen = changes.generation

    def apply(self, changes: Changes) -> None:
        dynamodb, s3 = self.clients["dynamodb"], self.clients["s3"]
        with STAND_IN_LOCK:
            self.boundary.tracking = False
            try:
                self._apply_items(dynamodb, changes)
                for obj in changes.objects:
                    if obj.body is None:
                        s3.delete_object(Bucket=self.names.raw_bucket, Key=obj.key)
                        self.known_objects.pop(obj.key, None)
                    else:
                        s3.put_object(
                            Bucket=self.names.raw_bucket,
                            Key=obj.key,
                            Body=obj.body,
                            ContentType=obj.content_type or "binary/octet-stream",
                            Metadata=obj.metadata,
                        )
                if changes.objects:
                    self.known_objects = self._current_objects()
                for message in changes.messages:
                    self._apply_message(message)
            finally:
                self.boundary.tracking = True

    def _apply_items(self, dynamodb: Any, changes: Changes) -> None:
        """Puts and deletes, 25 to a BatchWriteItem (a row appears once per change set)."""
        requests: dict[str, list[dict[str, Any]]] = {}
        for row in changes.items:
            physical = self.store_tables.get(row.table)
            if physical is None:
                continue
            if row.item is None:
                request = {"DeleteRequest": {"Key": json.loads(row.key)}}
            else:
                request = {"PutRequest": {"Item": row.item}}
            requests.setdefault(physical, []).append(request)
        for physical, pending in requests.items():
            for start in range(0, len(pending), BATCH_WRITE_LIMIT):
                batch = {physical: pending[start : start + BATCH_WRITE_LIMIT]}
                while batch:
                    batch = dynamodb.batch_write_item(RequestItems=batch).get("UnprocessedItems") or {}

    def _apply_message(self, row: MessageRow) -> None:
        queue_name = self.queues.get(row.queue)
        if queue_name is None:
            return
        known = self.known_messages.setdefault(row.queue, set())
        backend = sqs_backends[ACCOUNT_ID][REGION]
        queue = backend.get_queue(queue_name)
        if row.body is None:
            queue._messages = [m for m in queue._messages if m.id != row.message_id]
            known.discard(row.message_id)
            return
        if row.message_id in known or any(m.id == row.message_id for m in queue._messages):
            known.add(row.message_id)
            return
        message = backend.send_message(queue_name, row.body, message_attributes=row.attributes or None)
        message.id = row.message_id
        known.add(row.message_id)

    # -- stand-ins -> store ----------------------------------------------------------------------

    def _current_objects(self) -> dict[str, str]:
        bucket = s3_backends[ACCOUNT_ID]["global"].buckets.get(self.names.raw_bucket)
        if bucket is None:
            return {}
        return {str(key): str(value.etag) for key, value in bucket.keys.items()}

    def _object_row(self, key: str, etag: str) -> ObjectRow:
        response = self.clients["s3"].get_object(Bucket=self.names.raw_bucket, Key=key)
        return ObjectRow(
            key,
            response["Body"].read(),
            str(response.get("ContentType") or "binary/octet-stream"),
            dict(response.get("Metadata") or {}),
            etag,
        )

    def flush(self) -> bool:
        """Write what changed since the last flush; True when something was written."""
        with STAND_IN_LOCK:
            generation = self.store.generation() + 1
            wrote = self._flush_items(generation)
            wrote |= self._flush_objects(generation)
            wrote |= self._flush_messages(generation)
        if wrote:
            self.store.set_generation(generation)
            self.seen = generation
        return wrote

    def _flush_items(self, generation: int) -> bool:
        written = self.boundary.take_written()
        dynamodb = self.clients["dynamodb"]
        for physical, key in sorted(written):
            store_table, schema = self.tables[physical]
            item = dynamodb.get_item(TableName=physical, Key=json.loads(key), ConsistentRead=True).get("Item")
            keys = row_keys(json.loads(key), schema)
            self.store.put_item(
                store_table,
                key,
                item,
                keys=keys,
                index=index_keys(item, store_table) if item is not None else (None, None),
                generation=generation,
            )
        return bool(written)

    def _flush_objects(self, generation: int) -> bool:
        current = self._current_objects()
        if current == self.known_objects:
            return False
        for key, etag in current.items():
            if self.known_objects.get(key) != etag:
                self.store.put_object(self._object_row(key, etag), generation)
        for key in set(self.known_objects) - set(current):
            self.store.put_object(ObjectRow(key, None, "", {}, ""), generation)
        self.known_objects = current
        return True

    def _flush_messages(self, generation: int) -> bool:
        backend = sqs_backends[ACCOUNT_ID][REGION]
        wrote = False
        for key, queue_name in self.queues.items():
            messages = backend.get_queue(queue_name)._messages
            current = {m.id: m for m in messages}
            known = self.known_messages.setdefault(key, set())
            if current.keys() == known:
                continue
            for message_id, message in current.items():
                if message_id not in known:
                    self.store.put_message(
                        MessageRow(key, message_id, message.body, dict(message.message_attributes)), generation
                    )
            for message_id in known - current.keys():
                self.store.put_message(MessageRow(key, message_id, None, {}), generation)
            self.known_messages[key] = set(current)
            wrote = True
        return wrote

    def copy_everything(self, target: LocalStore) -> None:
        """Replace what `target` holds by this stack's whole state (one transaction)."""
        dynamodb = self.clients["dynamodb"]
        with STAND_IN_LOCK:
            target.begin()
            try:
                generation = target.generation() + 1
                target.tombstone_everything(generation)
                for physical, (store_table, schema) in self.tables.items():
                    for page in dynamodb.get_paginator("scan").paginate(TableName=physical):
                        for item in page.get("Items", []):
                            keys = {
                                name: item[name]
                                for name in (schema.partition_key, schema.sort_key)
                                if name is not None and name in item
                            }
                            target.put_item(
                                store_table,
                                canonical_key(keys),
                                item,
                                keys=row_keys(item, schema),
                                index=index_keys(item, store_table),
                                generation=generation,
                            )
                for key, etag in self._current_objects().items():
                    target.put_object(self._object_row(key, etag), generation)
                backend = sqs_backends[ACCOUNT_ID][REGION]
                for key, queue_name in self.queues.items():
                    for message in backend.get_queue(queue_name)._messages:
                        target.put_message(
                            MessageRow(key, message.id, message.body, dict(message.message_attributes)), generation
                        )
                target.set_generation(generation)
                target.commit()
            except BaseException:
                target.rollback()
                raise
