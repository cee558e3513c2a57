"""The local stack's saved state: one SQLite database that several processes share.

Rows, not snapshots. Each DynamoDB item, raw payload object and queue message is
one row carrying the generation that last wrote it (a deleted one becomes a
tombstone). A process applies its work to the store in one transaction
(`BEGIN IMMEDIATE`: one writer at a time across processes), so:

- a unit of work (one webhook delivery and the queue work it causes, a billing
  run, an operator command) first reads the rows other processes wrote since
  its last look (generation > the one it saw), then writes only what it changed;
- a write is acknowledged (HTTP 202, a command's output) after its commit: it
  survives any other process's work and a kill -9 (WAL journal, synchronous
  FULL); a process killed mid-unit leaves nothing of that unit behind;
- readers never wait for writers (WAL) and read committed rows only.

A file that is not such a database (damaged, truncated, an old JSON snapshot)
raises `LocalStateError` naming the file and what to do.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA_VERSION = "2"
STATE_ENV_VAR = "BILLBRIDGE_LOCAL_STATE"
STATE_FILE_ENV_VAR = "BILLBRIDGE_STATE_FILE"
"""The name the CLI documents (`--state-file`); BILLBRIDGE_LOCAL_STATE is still read when it is unset."""
DEFAULT_STATE_PATH = Path(".billbridge") / "local-state.sqlite"
BUSY_TIMEOUT_SECONDS = 600.0
"""How long a unit of work waits for another process's (a billing run can take a while)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    tbl TEXT NOT NULL, key TEXT NOT NULL, pk TEXT, sk TEXT, ipk TEXT, isk TEXT,
    item TEXT, gen INTEGER NOT NULL, PRIMARY KEY (tbl, key));
CREATE INDEX IF NOT EXISTS items_by_gen ON items (gen);
CREATE INDEX IF NOT EXISTS items_by_pk ON items (tbl, pk, sk);
CREATE INDEX IF NOT EXISTS items_by_index ON items (tbl, ipk, isk);
CREATE TABLE IF NOT EXISTS objects (
    key TEXT PRIMARY KEY, body BLOB, content_type TEXT, metadata TEXT, etag TEXT, gen INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS objects_by_gen ON objects (gen);
CREATE TABLE IF NOT EXISTS messages (
    queue TEXT NOT NULL, message_id TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT, attributes TEXT,
    gen INTEGER NOT NULL, PRIMARY KEY (queue, message_id));
CREATE INDEX IF NOT EXISTS messages_by_gen ON messages (gen);
"""


class LocalStateError(Exception):
    """The saved local state cannot be used; the message says which file and what to do."""


def default_state_path(environ: Mapping[str, str] | None = None) -> Path:
    """`$BILLBRIDGE_STATE_FILE` (or `$BILLBRIDGE_LOCAL_STATE`), else `.billbridge/local-state.sqlite`
    under the current directory."""
    env = os.environ if environ is None else environ
    configured = env.get(STATE_FILE_ENV_VAR) or env.get(STATE_ENV_VAR)
    return Path(configured) if configured else Path.cwd() / DEFAULT_STATE_PATH


def damaged(path: Path, detail: str) -> LocalStateError:
    return LocalStateError(
        f"the local state at {path} is damaged or not a Billbridge local state ({detail}). "
        f"Move it aside and rebuild it (`billbridge local reset --state-file {path}`, then `billbridge demo` "
        "or `billbridge replay ...`), or point --state-file / $BILLBRIDGE_STATE_FILE at another file."
    )


def encode_binary(item: Any) -> Any:
    """Typed DynamoDB items hold bytes under B/BS: base64 them for JSON."""
    if isinstance(item, dict):
        encoded: dict[str, Any] = {}
        for key, value in item.items():
            if key == "B" and isinstance(value, bytes):
                encoded[key] = base64.b64encode(value).decode()
            elif key == "BS" and isinstance(value, list):
                encoded[key] = [base64.b64encode(v).decode() if isinstance(v, bytes) else v for v in value]
            else:
                encoded[key] = encode_binary(value)
        return encoded
    if isinstance(item, list):
        return [encode_binary(v) for v in item]
    return item


def decode_binary(item: Any) -> Any:
    if isinstance(item, dict):
        decoded: dict[str, Any] = {}
        for key, value in item.items():
            if key == "B" and isinstance(value, str):
                decoded[key] = base64.b64decode(value)
            elif key == "BS" and isinstance(value, list) and all(isinstance(v, str) for v in value):
                decoded[key] = [base64.b64decode(v) for v in value]
            else:
                decoded[key] = decode_binary(value)
        return decoded
    if isinstance(item, list):
        return [decode_binary(v) for v in item]
    return item


def scalar(value: Any) -> str | None:
    """The string form of a typed key attribute (`{"S": "x"}` -> "x")."""
    if not isinstance(value, dict) or not value:
        return None
    kind, raw = next(iter(value.items()))
    if kind == "B" and isinstance(raw, bytes):
        return base64.b64encode(raw).decode()
    return str(raw)


@dataclass(frozen=True, slots=True)
class ItemRow:
    table: str
    key: str
    item: dict[str, Any] | None
    """Typed item with bytes, or None for a deleted item."""


@dataclass(frozen=True, slots=True)
class ObjectRow:
    key: str
    body: bytes | None
    content_type: str
    metadata: dict[str, str]
    etag: str


@dataclass(frozen=True, slots=True)
class MessageRow:
    queue: str
    message_id: str
    body: str | None
    attributes: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Changes:
    generation: int
    items: list[ItemRow]
    objects: list[ObjectRow]
    messages: list[MessageRow]


class LocalStore:
    """One connection to the state database. Not shared between threads: callers hold their own lock."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise LocalStateError(f"no local state at {self.path}")
        self._refuse_json_snapshot()
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(
                str(self.path), timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            if create:
                self._db.executescript(SCHEMA)
                self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
                self._db.execute("INSERT OR IGNORE INTO meta VALUES ('generation', '0')")
            version = self._meta("schema")
        except sqlite3.DatabaseError as error:
            raise damaged(self.path, str(error)) from error
        if version != SCHEMA_VERSION:
            raise damaged(self.path, f"schema version {version!r}, expected {SCHEMA_VERSION}")
        self._in_transaction = False

    def _refuse_json_snapshot(self) -> None:
        if not self.path.is_file():
            return
        with self.path.open("rb") as handle:
            head = handle.read(16)
        if head.lstrip().startswith(b"{"):
            raise LocalStateError(
                f"{self.path} is a JSON snapshot written by an earlier version; the local state is now an "
                "SQLite database. Rebuild it (`billbridge demo` or `billbridge replay ...` with --state-file) "
                "or point --state-file / $BILLBRIDGE_STATE_FILE at a new file."
            )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> LocalStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.rollback()
        self.close()

    def _meta(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def _query(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[Any]:
        try:
            return self._db.execute(sql, parameters).fetchall()
        except sqlite3.DatabaseError as error:
            if isinstance(error, sqlite3.OperationalError) and "locked" in str(error):
                raise
            raise damaged(self.path, str(error)) from error

    # -- transactions ----------------------------------------------------------------------------

    def begin(self) -> None:
        """Become the one writer (waits for another process's unit of work to commit)."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as error:
            if isinstance(error, sqlite3.OperationalError) and "locked" in str(error):
                raise
            raise damaged(self.path, str(error)) from error
        self._in_transaction = True

    def commit(self) -> None:
        self._db.execute("COMMIT")
        self._in_transaction = False

    def rollback(self) -> None:
        if self._in_transaction:
            self._db.execute("ROLLBACK")
            self._in_transaction = False

    def generation(self) -> int:
        return int(self._query("SELECT value FROM meta WHERE name = 'generation'")[0][0])

    def set_generation(self, generation: int) -> None:
        self._db.execute("UPDATE meta SET value = ? WHERE name = 'generation'", (str(generation),))

    # -- reading ---------------------------------------------------------------------------------

    def changes_since(self, generation: int) -> Changes:
        current = self.generation()
        if current == generation:
            return Changes(current, [], [], [])
        items = [
            ItemRow(table, key, None if item is None else decode_binary(json.loads(item)))
            for table, key, item in self._query(
                "SELECT tbl, key, item FROM items WHERE gen > ? ORDER BY gen, tbl, key", (generation,)
            )
        ]
        objects = [
            ObjectRow(key, body, content_type or "", json.loads(metadata or "{}"), etag or "")
            for key, body, content_type, metadata, etag in self._query(
                "SELECT key, body, content_type, metadata, etag FROM objects WHERE gen > ? ORDER BY gen, key",
                (generation,),
            )
        ]
        messages = [
            MessageRow(queue, message_id, body, json.loads(attributes or "{}"))
            for queue, message_id, body, attributes in self._query(
                "SELECT queue, message_id, body, attributes FROM messages WHERE gen > ? ORDER BY queue, seq",
                (generation,),
            )
        ]
        return Changes(current, items, objects, messages)

    def items(self, table: str) -> Iterator[dict[str, Any]]:
        for (item,) in self._query("SELECT item FROM items WHERE tbl = ? AND item IS NOT NULL ORDER BY key", (table,)):
            yield decode_binary(json.loads(item))

    def items_by_partition(self, table: str, pk: str) -> list[dict[str, Any]]:
        rows = self._query(
            "SELECT item FROM items WHERE tbl = ? AND pk = ? AND item IS NOT NULL ORDER BY sk", (table, pk)
        )
        return [decode_binary(json.loads(item)) for (item,) in rows]

    def items_by_index(self, table: str, ipk: str) -> list[dict[str, Any]]:
        rows = self._query(
            "SELECT item FROM items WHERE tbl = ? AND ipk = ? AND item IS NOT NULL ORDER BY isk", (table, ipk)
        )
        return [decode_binary(json.loads(item)) for (item,) in rows]

    def item(self, table: str, pk: str, sk: str | None) -> dict[str, Any] | None:
        rows = self._query(
            "SELECT item FROM items WHERE tbl = ? AND pk = ? AND sk IS ? AND item IS NOT NULL", (table, pk, sk)
        )
        return decode_binary(json.loads(rows[0][0])) if rows else None

    def object(self, key: str) -> ObjectRow | None:
        rows = self._query("SELECT body, content_type, metadata, etag FROM objects WHERE key = ?", (key,))
        if not rows or rows[0][0] is None:
            return None
        body, content_type, metadata, etag = rows[0]
        return ObjectRow(key, body, content_type or "", json.loads(metadata or "{}"), etag or "")

    def object_keys(self, prefix: str = "") -> list[str]:
        rows = self._query(
            "SELECT key FROM objects WHERE body IS NOT NULL AND substr(key, 1, ?) = ? ORDER BY key",
            (len(prefix), prefix),
        )
        return [key for (key,) in rows]

    def messages(self, queue: str) -> list[MessageRow]:
        rows = self._query(
            "SELECT message_id, body, attributes FROM messages WHERE queue = ? AND body IS NOT NULL ORDER BY seq",
            (queue,),
        )
        return [MessageRow(queue, mid, body, json.loads(attributes or "{}")) for mid, body, attributes in rows]

    # -- writing (inside begin/commit) -------------------------------------------------------------

    def tombstone_everything(self, generation: int) -> None:
        """Mark every row deleted (other processes see the deletions as changes)."""
        self._db.execute("UPDATE items SET item = NULL, gen = ? WHERE item IS NOT NULL", (generation,))
        self._db.execute("UPDATE objects SET body = NULL, gen = ? WHERE body IS NOT NULL", (generation,))
        self._db.execute("UPDATE messages SET body = NULL, gen = ? WHERE body IS NOT NULL", (generation,))

    def forget_items(self, table: str) -> int:
        """Delete every item of one table (e.g. `idempotency`) in one transaction; returns how many."""
        self.begin()
        try:
            generation = self.generation() + 1
            count = self._db.execute(
                "UPDATE items SET item = NULL, gen = ? WHERE tbl = ? AND item IS NOT NULL", (generation, table)
            ).rowcount
            self.set_generation(generation)
            self.commit()
        except BaseException:
            self.rollback()
            raise
        return int(count)

    def put_item(
        self,
        table: str,
        key: str,
        item: dict[str, Any] | None,
        *,
        keys: tuple[str | None, str | None],
        index: tuple[str | None, str | None],
        generation: int,
    ) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO items (tbl, key, pk, sk, ipk, isk, item, gen) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                table,
                key,
                keys[0],
                keys[1],
                index[0],
                index[1],
                None if item is None else json.dumps(encode_binary(item), sort_keys=True),
                generation,
            ),
        )

    def put_object(self, row: ObjectRow, generation: int) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO objects (key, body, content_type, metadata, etag, gen) VALUES (?, ?, ?, ?, ?, ?)",
            (row.key, row.body, row.content_type, json.dumps(row.metadata), row.etag, generation),
        )

    def put_message(self, row: MessageRow, generation: int) -> None:
        self._db.execute(
            "INSERT INTO messages (queue, message_id, seq, body, attributes, gen) "
            "VALUES (?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM messages), ?, ?, ?) "
            "ON CONFLICT (queue, message_id) DO UPDATE SET body = excluded.body, "
            "attributes = excluded.attributes, gen = excluded.gen",
            (row.queue, row.message_id, row.body, json.dumps(row.attributes), generation),
        )
