"""What the read-only commands print, read from the local state with the standard library.

Plain functions over the SQLite store (`LocalStore`): no pydantic, no boto3, no
moto, no domain model; each returns the plain documents the command prints
(`--output json` prints them as they are), the same documents the ledger's
adapters and use cases give for the same state (tests/integration/local/
test_read_models.py compares both on replayed scenarios). They read the items
as the ledger's adapters write them (docs/decisions/0003-ledger-storage-at-scale.md):

- a contract: `CONTRACT#{id}` / `HEAD` (terms), `IN#...` (an input with its lines
  and exceptions), `EXC#...`, `INV#...`; the contracts' index `CONTRACTS`;
- the exceptions inbox: index `EXCEPTIONS`, the exception's JSON in `exception`;
- downstream commands: `COMMANDS#{contract}` / `CMD#{id}`, pointers `COMMAND#{id}`;
- the billing configuration: `CONFIG` / `BILLING`;
- refusals by a system-of-record rule: index `SYSTEM_OF_RECORD_REFUSAL`;
- dead letters: the store's rows of each workflow's `-dlq` queue.

`commands are fast`: `billbridge contracts list` costs about what `import
billbridge` costs plus reading the rows (benchmarks/command_time.py).
"""

from __future__ import annotations

import binascii
import json
import os
import sqlite3
import zlib
from collections.abc import Iterator

TYPE_CHECKING = False  # `typing` costs ~4 ms to import: its names serve annotations only
if TYPE_CHECKING:
    from typing import Any


LEDGER = "ledger"
"""The ledger table's name in the store."""

EXCEPTION_TYPES: tuple[str, ...] = (
    "no_rate",
    "invalid_cost_center",
    "outside_term",
    "currency_mismatch",
    "rate_mismatch",
    "unknown_milestone",
    "version_conflict",
    "retroactive_change",
    "invoiced_entry_changed",
    "cap_exceeded",
    "unknown_tax_jurisdiction",
    "unknown_legal_entity",
    "tax_variance",
    "invoice_rejected",
    "billing_failed",
    "unknown_customer",
    "customer_inactive",
    "customer_currency_mismatch",
    "sync_refused",
    "sync_failed",
)
"""The values of `ExceptionType` (a test keeps them equal): `exceptions list --type` offers them
without importing the domain model."""
EXCEPTION_STATES: tuple[str, ...] = ("open", "approved", "written_off", "resolved", "withdrawn")
"""The values of `ExceptionState` (a test keeps them equal)."""
COMMAND_STATES: tuple[str, ...] = ("sent", "acknowledged", "refused", "failed")


STORE_SCHEMA_VERSION = "2"
"""billbridge.local.store.SCHEMA_VERSION (a test keeps them equal): the rows this module reads."""


class ReadOnlyStore:
    """The committed rows of the local state, read with `sqlite3` alone (no writes: `query_only`).

    A file that is not a readable local state is handed to `LocalStore`, which raises the
    `LocalStateError` that names the file and says what to do (only then is it imported)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        try:
            self._db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
            self._db.execute("PRAGMA query_only = ON")
            row = self._db.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
        except sqlite3.DatabaseError:
            self._refuse()
        if row is None or row[0] != STORE_SCHEMA_VERSION:
            self._refuse()

    def _refuse(self) -> None:
        from billbridge.local.store import LocalStore, damaged

        LocalStore(self.path, create=False).close()  # raises what is wrong with the file
        raise damaged(self.path, "unreadable by the read-only commands")

    def __enter__(self) -> ReadOnlyStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self._db.close()

    def _items(self, sql: str, parameters: tuple[Any, ...]) -> list[dict[str, Any]]:
        return [json.loads(item) for (item,) in self._db.execute(sql, parameters).fetchall()]

    def items(self, table: str) -> list[dict[str, Any]]:
        return self._items("SELECT item FROM items WHERE tbl = ? AND item IS NOT NULL ORDER BY key", (table,))

    def items_by_partition(self, table: str, pk: str) -> list[dict[str, Any]]:
        return self._items(
            "SELECT item FROM items WHERE tbl = ? AND pk = ? AND item IS NOT NULL ORDER BY sk", (table, pk)
        )

    def items_by_partition_prefix(self, table: str, pk_prefix: str) -> list[dict[str, Any]]:
        """The items of every partition whose key starts with `pk_prefix`, by partition and sort key
        (a range of the partition index: the keys from the prefix up to the prefix's last character's
        successor)."""
        following = pk_prefix[:-1] + chr(ord(pk_prefix[-1]) + 1)
        return self._items(
            "SELECT item FROM items WHERE tbl = ? AND pk >= ? AND pk < ? AND item IS NOT NULL ORDER BY pk, sk",
            (table, pk_prefix, following),
        )

    def items_by_index(self, table: str, ipk: str) -> list[dict[str, Any]]:
        return self._items(
            "SELECT item FROM items WHERE tbl = ? AND ipk = ? AND item IS NOT NULL ORDER BY isk", (table, ipk)
        )

    def items_by_sort_key(self, table: str, pk_prefix: str, sk: str) -> list[dict[str, Any]]:
        """The items of every partition whose key starts with `pk_prefix` that have the sort key `sk`."""
        return self._items(
            "SELECT item FROM items WHERE tbl = ? AND substr(pk, 1, ?) = ? AND sk = ? AND item IS NOT NULL ORDER BY pk",
            (table, len(pk_prefix), pk_prefix, sk),
        )

    def item(self, table: str, pk: str, sk: str | None) -> dict[str, Any] | None:
        found = self._items(
            "SELECT item FROM items WHERE tbl = ? AND pk = ? AND sk IS ? AND item IS NOT NULL", (table, pk, sk)
        )
        return found[0] if found else None

    def object_body(self, key: str) -> bytes | None:
        """The body of a stored object (the raw payload bucket's), None when there is none."""
        row = self._db.execute("SELECT body FROM objects WHERE key = ?", (key,)).fetchone()
        return None if row is None or row[0] is None else bytes(row[0])

    def message_counts(self) -> dict[str, int]:
        """How many messages each queue holds (queues that hold none are left out), in one query."""
        rows = self._db.execute("SELECT queue, COUNT(*) FROM messages WHERE body IS NOT NULL GROUP BY queue")
        return {str(queue): int(count) for queue, count in rows.fetchall()}


# --- typed items ----------------------------------------------------------------------------


def _plain(value: dict[str, Any]) -> Any:
    kind, raw = next(iter(value.items()))
    if kind == "NULL":
        return None
    if kind == "L":
        return [_plain(v) for v in raw]
    if kind == "M":
        return {k: _plain(v) for k, v in raw.items()}
    return raw


def _text(item: dict[str, Any], name: str, default: str = "") -> str:
    value = item.get(name)
    return default if value is None else str(_plain(value))


def _body(item: dict[str, Any]) -> bytes | None:
    """A ledger item's JSON body (`body`: S, or B zlib-compressed)."""
    value = item.get("body")
    if value is None:
        return None
    if "B" in value:
        return zlib.decompress(binary(value["B"]))
    return str(value["S"]).encode()


def binary(value: Any) -> bytes:
    """A stored binary attribute (the store keeps it base64-encoded): `binascii`, which the `base64`
    module wraps, is built into the interpreter and costs nothing to import."""
    return binascii.a2b_base64(value) if isinstance(value, str) else bytes(value)


def amount_text(value: Any) -> str:
    """A stored decimal as the reports write it (never scientific notation)."""
    from decimal import Decimal

    return format(Decimal(str(value)), "f")


# --- contracts ------------------------------------------------------------------------------


def contract_ids(store: ReadOnlyStore) -> list[str]:
    return sorted(_text(item, "gsi1sk") for item in store.items_by_index(LEDGER, "CONTRACTS"))


def _contract_items(store: ReadOnlyStore, contract_id: str) -> Iterator[tuple[str, bytes]]:
    for item in store.items_by_partition(LEDGER, f"CONTRACT#{contract_id}"):
        body = _body(item)
        if body is not None:
            yield _text(item, "sk"), body


def _latest_version(head: dict[str, Any]) -> dict[str, Any] | None:
    versions = head.get("versions") or {}
    if not versions:
        return None
    return dict(versions[max(versions, key=int)])


class ContractSummary:
    """A contract's terms and counts, from its items (no lines, no invoices' contents)."""

    def __init__(self, contract_id: str, items: Iterator[tuple[str, bytes]]) -> None:
        self.contract_id = contract_id
        self.head: dict[str, Any] = {}
        self.invoices = 0
        self.exceptions: list[dict[str, Any]] = []
        for sk, body in items:
            if sk == "HEAD":
                self.head = json.loads(body)
            elif sk.startswith("IN#"):
                group = json.loads(body.partition(b"\n")[0])  # the input, then its audit
                self.exceptions.extend(group.get("exceptions") or ())
            elif sk.startswith("EXC#"):
                self.exceptions.append(json.loads(body))
            elif sk.startswith("INV#"):
                self.invoices += 1
        self.latest = _latest_version(self.head)

    @property
    def open_exceptions(self) -> int:
        return sum(1 for e in self.exceptions if e.get("state", "open") == "open")


def contract_summary(store: ReadOnlyStore, contract_id: str) -> ContractSummary:
    return ContractSummary(contract_id, _contract_items(store, contract_id))


def contract_rows(store: ReadOnlyStore) -> list[dict[str, Any]]:
    """`contracts list`: one row per contract with terms (pending contracts have none)."""
    rows = []
    for contract_id in contract_ids(store):
        summary = contract_summary(store, contract_id)
        latest = summary.latest
        if latest is None:
            raise LookupError(f"contract {contract_id} has no version")
        rows.append(
            {
                "contract_id": contract_id,
                "version": latest["version"],
                "customer_id": latest["customer_id"],
                "legal_entity": latest["legal_entity"],
                "currency": latest["currency"],
                "invoices": summary.invoices,
                "open_exceptions": summary.open_exceptions,
            }
        )
    return rows


# --- exceptions -----------------------------------------------------------------------------


def exceptions(store: ReadOnlyStore) -> list[dict[str, Any]]:
    """The exceptions inbox in its index's order (state, type, contract, id), as stored."""
    return [json.loads(_text(item, "exception")) for item in store.items_by_index(LEDGER, "EXCEPTIONS")]


def exception_rows(
    store: ReadOnlyStore, *, type_: str | None = None, state: str | None = None, contract_id: str | None = None
) -> list[dict[str, Any]]:
    """`exceptions list`: the inbox, filtered; an exception without a currency shows its contract's."""
    currencies: dict[str, str] = {}
    rows = []
    for exception in exceptions(store):
        if type_ and exception["type"] != type_:
            continue
        if state and exception.get("state", "open") != state:
            continue
        if contract_id and exception["contract_id"] != contract_id:
            continue
        owner = exception["contract_id"]
        if not exception.get("currency") and owner not in currencies:
            latest = contract_summary(store, owner).latest
            currencies[owner] = latest["currency"] if latest else ""
        decision = exception.get("decision")
        rows.append(
            {
                "exception_id": exception["exception_id"],
                "type": exception["type"],
                "state": exception.get("state", "open"),
                "contract_id": owner,
                "amount": amount_text(exception["amount"]),
                "currency": exception.get("currency") or currencies[owner],
                "refs": list(exception.get("refs") or ()),
                "period": exception.get("period"),
                "correlation_id": exception["correlation_id"],
                "decided_by": decision["actor"] if decision else None,
            }
        )
    return rows


# --- downstream commands --------------------------------------------------------------------

COMMAND_FIELDS = (
    ("command_id", "command_id"),
    ("contract_id", "contract_id"),
    ("contract_version", "contract_version"),
    ("system", "system"),
    ("target", "target"),
    ("command", "name"),
    ("idempotency_key", "idempotency_key"),
    ("state", "state"),
    ("reference", "reference"),
    ("answer", "answer"),
    ("attempts", "attempts"),
    ("first_sent_at", "first_sent_at"),
    ("updated_at", "updated_at"),
    ("acknowledged_at", "acknowledged_at"),
    ("correlation_id", "correlation_id"),
)
COMMAND_DEFAULTS: dict[str, Any] = {"contract_version": None, "attempts": 1, "acknowledged_at": None, "answer": ""}


def command_document(stored: dict[str, Any], *, with_payload: bool = False) -> dict[str, Any]:
    """A stored command as `sync list/show` print it (the fields of `downstream_view.command_document`)."""
    document = {shown: stored.get(name, COMMAND_DEFAULTS.get(name)) for shown, name in COMMAND_FIELDS}
    if with_payload:
        document["payload"] = stored.get("payload")
        document["history"] = [
            {"at": at, "state": state, "answer": answer} for at, state, answer in stored.get("history") or ()
        ]
    return document


def _commands_in(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [json.loads(_text(item, "command")) for item in items if _text(item, "sk").startswith("CMD#")]


def commands(store: ReadOnlyStore, contract_id: str | None = None) -> list[dict[str, Any]]:
    """Stored commands (of one contract, or all), as the command log stores them."""
    if contract_id is not None:
        return _commands_in(store.items_by_partition(LEDGER, f"COMMANDS#{contract_id}"))
    return _commands_in(store.items_by_partition_prefix(LEDGER, "COMMANDS#"))


def command(store: ReadOnlyStore, command_id: str) -> dict[str, Any] | None:
    pointer = store.item(LEDGER, f"COMMAND#{command_id}", "CONTRACT")
    if pointer is None:
        return None
    item = store.item(LEDGER, f"COMMANDS#{_text(pointer, 'contract_id')}", f"CMD#{command_id}")
    return None if item is None else dict(json.loads(_text(item, "command")))


def command_rows(
    store: ReadOnlyStore, *, contract_id: str | None = None, state: str | None = None
) -> list[dict[str, Any]]:
    """`sync list`: commands (filtered), by contract, first sending and id."""
    return sorted(
        (command_document(c) for c in commands(store, contract_id) if state is None or c.get("state") == state),
        key=lambda d: (d["contract_id"], d["first_sent_at"], d["command_id"]),
    )


# --- configuration, refusals, dead letters ------------------------------------------------------


def stored_config_document(store: ReadOnlyStore) -> dict[str, Any] | None:
    """The billing configuration document as `config load` stored it; None when none was loaded."""
    item = store.item(LEDGER, "CONFIG", "BILLING")
    return None if item is None else dict(json.loads(_text(item, "document")))


def refusals(store: ReadOnlyStore) -> list[dict[str, str]]:
    """Deliveries refused by a system-of-record rule or a rollout switch, oldest first."""
    return [
        {name: str(value.get("S", value.get("N", ""))) for name, value in item.items()}
        for item in store.items_by_index(LEDGER, "SYSTEM_OF_RECORD_REFUSAL")
    ]


LOCAL_RESOURCE_PREFIX = "billbridge-local"
"""`LocalNames.prefix` (a test keeps them equal): the local queues are `{prefix}-{workflow}-dlq`."""
WORKFLOWS: tuple[str, ...] = ("contracts", "actuals", "feedback")
"""The names of `topology.WORKFLOWS`, in order (a test keeps them equal): topology's dataclasses
cost more to import than `dlq list` may spend."""


SCHEDULED_FUNCTIONS: tuple[str, ...] = (
    "billing-start",
    "kpi-publisher",
    "poll-erp-netsuite",
    "poll-psa-kantata",
    "poll-crm-salesforce",
)
"""`topology.SCHEDULED_FUNCTIONS`, in order (a test keeps them equal): each has a DLQ of its failed invocations."""
INTAKE_WORK_QUEUES: tuple[str, ...] = ("intake-files", "intake-chunks")
"""`topology.INTAKE_WORK_QUEUES` (a test keeps them equal): bulk intake's queues, each with a DLQ."""


def dead_letter_rows(store: ReadOnlyStore) -> list[dict[str, Any]]:
    """`dlq list` on the local stack: every DLQ's depth, with its kind (consumer, delivery, scheduled),
    in the order the deployed stack's `dlq list` gives them."""
    queues = [(workflow, "consumer", f"{workflow}-dlq") for workflow in WORKFLOWS]
    queues += [(f"{workflow}-delivery", "delivery", f"{workflow}-delivery-dlq") for workflow in WORKFLOWS]
    queues += [(function, "scheduled", f"{function}-dlq") for function in SCHEDULED_FUNCTIONS]
    queues += [(queue, "consumer", f"{queue}-dlq") for queue in INTAKE_WORK_QUEUES]
    counts = store.message_counts()
    return [
        {
            "workflow": name,
            "kind": kind,
            "messages": counts.get(key, 0),
            "in_flight": 0,
            "dead_letter_queue": f"{LOCAL_RESOURCE_PREFIX}-{key}",
        }
        for name, kind, key in queues
    ]
