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
- installs `faster_stand_ins()` (below): the stand-ins answer as moto does,
  in time that does not grow with everything stored;
- records which DynamoDB items each write request targets, so the local store
  saves only what changed (see `billbridge.local.store`).

`faster_stand_ins()` replaces the parts of moto whose cost grows with the whole
state, each by one that gives the same answers
(tests/integration/local/test_faster_stand_ins.py runs the same requests
with and without it and compares the answers):

- DynamoDB `TransactWriteItems` stays all-or-nothing while backing up only the
  items a transaction targets (moto deep-copies every table, once per item);
- a DynamoDB `Query` reads the one partition it names, of the table or of a
  secondary index (moto sorts every item of the table, then keeps that
  partition's): `billbridge.local.dynamodb_partitions`;
- a DynamoDB update expression is parsed once per expression (moto parses it at
  every request, twice for `UpdateItem`, into a tree it only reads);
- an EventBridge rule target's input path is parsed once, not at every event
  delivered (moto builds a new JSONPath parser, grammar tables included, per
  event and path), and each request's action names are worked out once per
  service (moto lists every method of the service's response class per request);
- an SQS queue reads the clock once per request, not twice per stored message
  (receive, message counts); `SendMessage` does not count the queue's messages
  (moto counts them, three times over, to read one setting, so each send costs
  time in proportion to the messages waiting); `DeleteMessageBatch` removes its
  messages in one pass over the queue (moto passes over the queue once per message, and
  builds a list of each message's receipt handles at every step).

Calls reach the stand-ins without what only a remote service needs
(`billbridge.local.in_process_dispatch`): no SigV4 signature is computed
(moto does not check it; the same headers are set), and moto's search for the
service and handler of a URL is done once per URL.

These are properties of the local stack, not of a test: every command and test
that runs a `LocalStack` gets them. Code that runs moto itself (`mock_aws`)
can enter `faster_stand_ins()` too; nothing that calls AWS itself may run inside
it (its calls would carry a placeholder signature, which AWS refuses).
"""

from __future__ import annotations

import collections
import copy
import functools
import json
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import TracebackType
from typing import Any

import jsonpath_ng.ext
from botocore.auth import SigV4Auth
from moto.core import responses as moto_responses
from moto.core.botocore_stubber import BotocoreStubber
from moto.core.serialize import ResponseSerializer
from moto.core.utils import unix_time_millis
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.models.table import Table
from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]
from moto.sqs import models as sqs_models

from billbridge.local.bus_delivery import bus_delivery
from billbridge.local.dynamodb_partitions import partition_reads
from billbridge.local.in_process_dispatch import (
    picked_member,
    request_id,
    routed_process_request,
    scope_only_sigv4,
)

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
        self._speedups: Any = None

    def __enter__(self) -> StandInBoundary:
        if StandInBoundary._installed is not None:
            raise RuntimeError("another local stack is already running in this process")
        boundary = self
        # The speed-ups first: the lock then wraps their routing of requests, and leaving
        # restores in the opposite order.
        self._speedups = faster_stand_ins()
        self._speedups.__enter__()
        self._original_process = original_process = BotocoreStubber.process_request

        def process_request(stubber: BotocoreStubber, request: Any) -> Any:
            with STAND_IN_LOCK:
                if boundary.tracking and boundary.tracked_tables:
                    boundary._record(request)
                return original_process(stubber, request)

        BotocoreStubber.process_request = process_request  # type: ignore[method-assign]
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
            self._speedups.__exit__(None, None, None)
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


_SPEEDUPS_LOCK = threading.Lock()
_speedups_depth = 0
_speedups_originals: list[tuple[Any, str, Any]] = []


@contextmanager
def faster_stand_ins() -> Iterator[None]:
    """moto, with the replacements described in the module doc, while inside (re-entrant)."""
    global _speedups_depth
    with _SPEEDUPS_LOCK:
        if _speedups_depth == 0:
            _install(_speedups())
        _speedups_depth += 1
    try:
        yield
    finally:
        with _SPEEDUPS_LOCK:
            _speedups_depth -= 1
            if _speedups_depth == 0:
                for owner, name, original in reversed(_speedups_originals):
                    setattr(owner, name, original)
                _speedups_originals.clear()


def _install(replacements: list[tuple[Any, str, Any]]) -> None:
    for owner, name, replacement in replacements:
        # A class's own attribute as stored (a property stays a property).
        original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
        _speedups_originals.append((owner, name, original))
        setattr(owner, name, replacement)


def _speedups() -> list[tuple[Any, str, Any]]:
    backend = dynamodb_models.DynamoDBBackend
    queue = sqs_models.Queue
    return [
        (BotocoreStubber, "process_request", routed_process_request(BotocoreStubber.process_request)),
        (SigV4Auth, "add_auth", scope_only_sigv4(SigV4Auth.add_auth)),
        (ResponseSerializer, "get_value", picked_member(ResponseSerializer.get_value)),
        (moto_responses, "gen_amzn_requestid_long", request_id),
        (backend, "transact_write_items", _item_level_transaction(backend.transact_write_items)),
        (dynamodb_models, "copy", _copy_without_tables()),
        *partition_reads(),
        *bus_delivery(),
        (queue, "messages", property(_visible_messages)),
        (queue, "approximate_number_of_messages", property(_visible_count)),
        (queue, "approximate_number_of_messages_delayed", property(_delayed_count)),
        (queue, "approximate_number_of_messages_not_visible", property(_not_visible_count)),
        (sqs_models.SQSBackend, "send_message", _sending(sqs_models.SQSBackend.send_message)),
        (sqs_models.SQSBackend, "delete_message_batch", _delete_message_batch),
        (sqs_models, "camelcase_to_underscores", _remembered(sqs_models.camelcase_to_underscores)),
        (jsonpath_ng.ext, "parse", _remembered(jsonpath_ng.ext.parse)),
        (UpdateExpressionParser, "make", _parsed_once(UpdateExpressionParser.__dict__["make"])),
        (ConditionExpressionParser, "_lex_condition_expression", _lexed_once(ConditionExpressionParser)),
        (ConditionExpressionParser, "parse", _condition_parsed_once(ConditionExpressionParser.parse)),
        (moto_responses, "method_names_from_class", _remembered(moto_responses.method_names_from_class)),
        (moto_responses, "camelcase_to_underscores", _remembered(moto_responses.camelcase_to_underscores)),
    ]


def _parsed_once(original: classmethod) -> classmethod:  # type: ignore[type-arg]
    """moto parses an update expression into a tree it only reads (its validator works on a deep
    copy): the same expression, the same tree, parsed once (a parse error is raised every time)."""
    parse = functools.lru_cache(maxsize=4096)(original.__func__)

    def make(cls: type, expression_str: str) -> Any:
        return parse(cls, expression_str)

    return classmethod(make)


def _lexed_once(parser_class: type) -> Any:
    """moto lexes a condition expression (a dozen regular expressions per token) at every request,
    twice for a conditional write; the tokens depend on the text alone (names and values are looked
    up after), so each expression is lexed once and its tokens handed out afresh (a lexing error is
    raised every time)."""
    lex = parser_class.__dict__["_lex_condition_expression"]

    @functools.lru_cache(maxsize=4096)
    def tokens(expression: str) -> tuple[Any, ...]:
        return tuple(lex(parser_class(expression, None, None)))

    def lex_condition_expression(parser: Any) -> Any:
        return collections.deque(tokens(parser.condition_expression))

    return lex_condition_expression


def _condition_parsed_once(original: Any) -> Any:
    """moto parses a condition expression twice per conditional write (to check it, then to apply it)
    into a tree it only reads; the same expression with the same names and values gives the same
    tree and finds the same names and values (moto checks that each one given is used), so both
    are remembered per (expression, names, values). A parse error is raised every time."""
    parsed: dict[tuple[str, str, str], tuple[Any, tuple[str, ...], tuple[str, ...]]] = {}

    def parse(parser: Any) -> Any:
        if not parser.condition_expression:
            return original(parser)
        key = (
            parser.condition_expression,
            json.dumps(parser.expression_attribute_names, sort_keys=True),
            json.dumps(parser.expression_attribute_values, sort_keys=True),
        )
        found = parsed.get(key)
        if found is None:
            tree = original(parser)
            if len(parsed) >= PARSED_CONDITIONS_KEPT:
                parsed.clear()
            parsed[key] = (tree, tuple(parser.expr_attr_names_found), tuple(parser.expr_attr_values_found))
            return tree
        tree, names, values = found
        parser.expr_attr_names_found.extend(names)
        parser.expr_attr_values_found.extend(values)
        return tree

    return parse


PARSED_CONDITIONS_KEPT = 4096


def _remembered(function: Any) -> Any:
    """A pure function of a few distinct arguments (names, paths, classes), answered once per argument."""
    return functools.lru_cache(maxsize=4096)(function)


_sqs_scope = threading.local()
"""Set while moto sends a message: it reads the queue's attributes for one setting, never its counts."""


def _sending(original: Any) -> Any:
    def send_message(backend: Any, *args: Any, **kwargs: Any) -> Any:
        outer = getattr(_sqs_scope, "sending", False)
        _sqs_scope.sending = True
        try:
            return original(backend, *args, **kwargs)
        finally:
            _sqs_scope.sending = outer

    return send_message


def _not_counting() -> bool:
    return bool(getattr(_sqs_scope, "sending", False))


def _visible_messages(queue: Any) -> list[Any]:
    now = unix_time_millis()
    return [m for m in queue._messages if now > m.visible_at and not now < m.delayed_until]


def _visible_count(queue: Any) -> int:
    return 0 if _not_counting() else len(_visible_messages(queue))


def _delayed_count(queue: Any) -> int:
    if _not_counting():
        return 0
    now = unix_time_millis()
    return sum(1 for m in queue._messages if now < m.delayed_until)


def _not_visible_count(queue: Any) -> int:
    if _not_counting():
        return 0
    now = unix_time_millis()
    return sum(1 for m in queue._messages if not now > m.visible_at)


def _delete_message_batch(backend: Any, queue_name: str, receipts: list[dict[str, Any]]) -> Any:
    """moto's answer (deleted ids, one error per unknown receipt handle), in one pass over the queue."""
    queue = backend.get_queue(queue_name)
    wanted = {r["ReceiptHandle"] for r in receipts} - queue.deleted_messages
    if wanted:
        kept = []
        for message in queue._messages:
            if message.receipt_handle in wanted or not wanted.isdisjoint(message._old_receipt_handles):
                queue.pending_messages.discard(message)
                queue.deleted_messages.update(message.all_receipt_handles)
            else:
                kept.append(message)
        queue._messages = kept
    success, errors = [], []
    for receipt in receipts:
        handle = receipt["ReceiptHandle"]
        if handle in queue.deleted_messages:
            success.append(receipt["Id"])
        else:
            errors.append(
                {
                    "Id": receipt["Id"],
                    "SenderFault": True,
                    "Code": "ReceiptHandleIsInvalid",
                    "Message": f'The input receipt handle "{handle}" is not a valid receipt handle.',
                }
            )
    return success, errors
