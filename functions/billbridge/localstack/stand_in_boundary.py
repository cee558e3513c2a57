"""Every call into the stand-ins goes through one door, one caller at a time.

moto's backends are not safe for concurrent callers: its DynamoDB
`TransactWriteItems` copies tables while other threads write and raises
`RuntimeError: dictionary changed size during iteration`. The billing state
machine's Map runs its iterations on threads, each invoking a task function
whose handler calls DynamoDB; the HTTP front runs each request on a thread.

While a local stack runs, `StandInBoundary`:

- serializes every request into moto (`BotocoreStubber.process_request`, the
  one entry point of every boto3 call into the mock) behind one re-entrant
  lock. A Lambda invoke is such a request, and the in-process handler it runs
  makes its own calls from the same thread, so a task handler runs whole
  before the next Map iteration's handler starts: the same input gives the
  same ledger, whatever order the threads take;
- keeps moto's `TransactWriteItems` all-or-nothing while backing up only the
  items a transaction targets (moto backs up every table, once per item, so
  each conditional save would cost time in proportion to the whole ledger);
- records which DynamoDB items each write request targets, so the local store
  saves only what changed (see `billbridge.localstack.store`).

These are properties of the local stack, not of a test: every command and test
that runs a `LocalStack` gets them.
"""

from __future__ import annotations

import copy
import json
import threading
import types
from contextlib import suppress
from types import TracebackType
from typing import Any

from moto.core.botocore_stubber import BotocoreStubber
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models.table import Table

STAND_IN_LOCK = threading.RLock()
"""Held by every call into moto (and by whoever needs several calls to be one step)."""

DYNAMODB_TARGET_PREFIX = "DynamoDB_20120810."
WRITE_OPERATIONS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})

KeyOf = dict[str, tuple[str, str | None]]
"""Table name -> (partition key attribute, sort key attribute or None)."""


def _header(request: Any, name: str) -> str:
    value = request.headers.get(name)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value or "")


def _body(request: Any) -> dict[str, Any]:
    body = request.body
    if body is None:
        return {}
    if hasattr(body, "read"):
        return {}
    try:
        parsed = json.loads(body.decode("utf-8") if isinstance(body, bytes) else body)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def written_keys(operation: str, body: dict[str, Any], keys: KeyOf) -> list[tuple[str, str]]:
    """(table, canonical key JSON) of every item a DynamoDB write request targets."""
    targets: list[tuple[str, dict[str, Any]]] = []
    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        targets.append((str(body.get("TableName", "")), body.get("Item") or body.get("Key") or {}))
    elif operation == "TransactWriteItems":
        for entry in body.get("TransactItems", []):
            for kind, op in entry.items():
                if kind != "ConditionCheck":
                    targets.append((str(op.get("TableName", "")), op.get("Item") or op.get("Key") or {}))
    elif operation == "BatchWriteItem":
        for table, requests in (body.get("RequestItems") or {}).items():
            for request in requests:
                if "PutRequest" in request:
                    targets.append((str(table), request["PutRequest"].get("Item") or {}))
                elif "DeleteRequest" in request:
                    targets.append((str(table), request["DeleteRequest"].get("Key") or {}))
    found: list[tuple[str, str]] = []
    for table, attributes in targets:
        if table not in keys:
            continue
        partition, sort = keys[table]
        key = {name: attributes[name] for name in (partition, sort) if name is not None and name in attributes}
        found.append((table, canonical_key(key)))
    return found


def canonical_key(key: dict[str, Any]) -> str:
    return json.dumps(key, sort_keys=True, separators=(",", ":"))


class StandInBoundary:
    """Installed for the lifetime of a running local stack (one per process at a time)."""

    _installed: StandInBoundary | None = None

    def __init__(self, tracked_tables: KeyOf | None = None) -> None:
        self.tracked_tables: KeyOf = dict(tracked_tables or {})
        self.written: set[tuple[str, str]] = set()
        self.tracking = True
        self._original_process: Any = None
        self._original_transact: Any = None
        self._original_copy: Any = None

    def __enter__(self) -> StandInBoundary:
        if StandInBoundary._installed is not None:
            raise RuntimeError("another local stack is already running in this process")
        boundary = self
        self._original_process = original_process = BotocoreStubber.process_request

        def process_request(stubber: BotocoreStubber, request: Any) -> Any:
            with STAND_IN_LOCK:
                if boundary.tracking and boundary.tracked_tables:
                    boundary._record(request)
                return original_process(stubber, request)

        BotocoreStubber.process_request = process_request  # type: ignore[method-assign]
        self._original_transact = dynamodb_models.DynamoDBBackend.transact_write_items
        self._original_copy = dynamodb_models.copy
        dynamodb_models.DynamoDBBackend.transact_write_items = _item_level_transaction(  # type: ignore[method-assign]
            self._original_transact
        )
        dynamodb_models.copy = _copy_without_tables()  # type: ignore[assignment]
        StandInBoundary._installed = self
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with STAND_IN_LOCK:
            BotocoreStubber.process_request = self._original_process  # type: ignore[method-assign]
            dynamodb_models.DynamoDBBackend.transact_write_items = self._original_transact  # type: ignore[method-assign]
            dynamodb_models.copy = self._original_copy
            StandInBoundary._installed = None

    def _record(self, request: Any) -> None:
        target = _header(request, "X-Amz-Target")
        if not target.startswith(DYNAMODB_TARGET_PREFIX):
            return
        operation = target[len(DYNAMODB_TARGET_PREFIX) :]
        if operation in WRITE_OPERATIONS:
            self.written.update(written_keys(operation, _body(request), self.tracked_tables))

    def take_written(self) -> set[tuple[str, str]]:
        """The items written since the last call (and forget them)."""
        with STAND_IN_LOCK:
            written, self.written = self.written, set()
            return written


def _copy_without_tables() -> types.SimpleNamespace:
    """moto's transaction deep-copies its tables as a backup; the item-level backup replaces it."""

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


def _item_level_transaction(original: Any) -> Any:
    """All or nothing: a cancelled transaction puts back every item it targeted as it was."""

    def transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> None:
        backups: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
        for entry in transact_items:
            target = _target(backend, entry)
            if target is None:
                continue
            table_name, key = target
            try:
                current = backend.get_item(table_name, key)
            except Exception:
                current = None
            before = None if current is None else copy.deepcopy(current.to_json()["Attributes"])
            backups.append((table_name, key, before))
        try:
            original(backend, transact_items)
        except Exception:
            for table_name, key, before in reversed(backups):
                if before is None:
                    with suppress(Exception):
                        backend.delete_item(table_name, key)
                else:
                    backend.put_item(table_name, before)
            raise

    return transact_write_items
