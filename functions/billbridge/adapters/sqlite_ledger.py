"""The ledger in one SQLite file (the standard library's embedded database).

The same port as the DynamoDB ledger (billbridge.app.ledger.Ledger), for runs
of the hub's use cases on one machine: the parallel run over exported history,
and anything else that wants a durable store without a server.

Storage: a contract's book is stored item by item (`book_items`: one row per
time entry, line, invoice, exception, version, ... keyed by the book field and
the item's key), so saving a changed book writes only the items that changed,
not the whole book again. Fields that are not dictionaries (the termination,
re-rate records, written-off refs) are one row each.

Two modes:

- **write-through** (the default): every `save` is committed before it returns,
  like a conditional write to DynamoDB.
- **write-back** (`write_back=True`, for bulk runs): saves change the books held
  in memory and are written at the next `checkpoint()`, in one transaction
  together with the caller's progress marker. What is acknowledged is what a
  checkpoint committed: after a crash, `progress()` says where to resume and the
  books are those of that checkpoint, nothing later and nothing lost before it.
"""

from __future__ import annotations

import json
import sqlite3
import typing
from collections.abc import Iterable
from dataclasses import fields
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from billbridge.app.billing_config_document import billing_config_from, billing_config_to_document
from billbridge.app.ledger import ConcurrentUpdateError, RejectionsKeptAsParkedFeedback, StoredBook
from billbridge.domain.model import AuditRecord, BillingConfig, BillingException, BookUpdate, ContractBook

SCHEMA_VERSION = "1"
CACHE_KIB = 131072
"""SQLite's page cache (128 MiB; its default is 2 MiB): bulk checkpoints write into large indexes."""
WHOLE_FIELD_KEY = ""
"""The key of the one row that holds a field which is not a dictionary."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS books (contract_id TEXT PRIMARY KEY, revision INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS book_items (
    contract_id TEXT NOT NULL, field TEXT NOT NULL, key TEXT NOT NULL, seq INTEGER NOT NULL, doc BLOB NOT NULL,
    PRIMARY KEY (contract_id, field, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS entry_contracts (entry_id TEXT PRIMARY KEY, contract_id TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS invoice_numbers (invoice_number TEXT PRIMARY KEY, proposal_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS parked (key TEXT NOT NULL, seq INTEGER NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (key, seq));
CREATE TABLE IF NOT EXISTS mappings (contract_id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS master_versions (
    kind TEXT NOT NULL, key TEXT NOT NULL, version INTEGER NOT NULL, doc TEXT NOT NULL,
    PRIMARY KEY (kind, key, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending_contracts (
    customer_id TEXT NOT NULL, contract_id TEXT NOT NULL, PRIMARY KEY (customer_id, contract_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit (
    contract_id TEXT NOT NULL, revision INTEGER NOT NULL, n INTEGER NOT NULL, doc TEXT NOT NULL,
    PRIMARY KEY (contract_id, revision, n)
) WITHOUT ROWID;
"""


class LedgerStoreError(Exception):
    """The SQLite file cannot be used as a ledger (damaged, or of another schema)."""


class _FieldCodec:
    """How one ContractBook field is stored: item by item (dictionaries) or whole."""

    def __init__(self, name: str, annotation: Any) -> None:
        self.name = name
        self.itemized = typing.get_origin(annotation) is dict
        if self.itemized:
            key_type, value_type = typing.get_args(annotation)
            self.key_adapter: TypeAdapter[Any] = TypeAdapter(key_type)
            self.value_adapter: TypeAdapter[Any] = TypeAdapter(value_type)
        else:
            self.value_adapter = TypeAdapter(annotation)

    def dump(self, value: Any) -> bytes:
        return self.value_adapter.dump_json(value)

    def load(self, doc: bytes) -> Any:
        return self.value_adapter.validate_json(doc)

    def load_key(self, key: str) -> Any:
        return self.key_adapter.validate_python(key)


def _book_codecs() -> list[_FieldCodec]:
    hints = typing.get_type_hints(ContractBook)
    return [_FieldCodec(f.name, hints[f.name]) for f in fields(ContractBook) if f.name != "contract_id"]


class SqliteLedger(RejectionsKeptAsParkedFeedback):
    def __init__(self, path: Path | str, *, write_back: bool = False, config: BillingConfig | None = None) -> None:
        self.path = Path(path)
        self.write_back = write_back
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # a commit survives a power loss too
            self._db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            self._db.executescript(_SCHEMA)
            found = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.DatabaseError as error:
            raise LedgerStoreError(
                f"{self.path}: not a usable ledger file ({error}); move it aside and run again to start afresh"
            ) from error
        if found is None:
            self._db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        elif found[0] != SCHEMA_VERSION:
            raise LedgerStoreError(f"{self.path}: ledger schema {found[0]}, this version reads {SCHEMA_VERSION}")
        self._codecs = _book_codecs()
        self._seq = int(self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM book_items").fetchone()[0])
        self._books: dict[str, StoredBook] = {}
        """Books loaded or saved since opening (all of them, in write-back mode)."""
        self._persisted: dict[str, StoredBook] = {}
        """What the file holds for each book in `_books` (to write only what changed)."""
        self._dirty: set[str] = set()
        self._pending_entry_contracts: list[tuple[str, str]] = []
        self._pending_audit: list[tuple[str, int, int, AuditRecord]] = []
        self._parked_keys = {str(row[0]) for row in self._db.execute("SELECT DISTINCT key FROM parked")}
        self._config = config
        if write_back:
            # One open transaction: every write joins it and commits at the next checkpoint.
            self._db.execute("BEGIN IMMEDIATE")
        if config is not None:
            self.save_config(config)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SqliteLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- books --------------------------------------------------------------------------------

    def load(self, contract_id: str) -> StoredBook:
        stored = self._books.get(contract_id)
        if stored is not None:
            return stored
        stored = self._read_book(contract_id)
        self._books[contract_id] = stored
        self._persisted[contract_id] = stored
        return stored

    def save(self, stored: StoredBook, update: BookUpdate) -> None:
        contract_id = stored.book.contract_id
        current = self.load(contract_id)
        if current.revision != stored.revision:
            raise ConcurrentUpdateError(contract_id)
        if not self.write_back:
            on_file = self._db.execute("SELECT revision FROM books WHERE contract_id = ?", (contract_id,)).fetchone()
            if (on_file[0] if on_file else 0) != stored.revision:
                self._books.pop(contract_id, None)
                raise ConcurrentUpdateError(contract_id)
        revision = stored.revision + 1
        self._books[contract_id] = StoredBook(update.book, revision)
        self._dirty.add(contract_id)
        for n, record in enumerate(update.audit):
            self._pending_audit.append((contract_id, revision, n, record))
        if not self.write_back:
            self.checkpoint()

    def books(self) -> list[ContractBook]:
        for contract_id in self._stored_contract_ids():
            self.load(contract_id)
        return [self._books[contract_id].book for contract_id in sorted(self._books)]

    def contract_ids(self) -> list[str]:
        for contract_id in self._stored_contract_ids():
            self.load(contract_id)
        return sorted(contract_id for contract_id, stored in self._books.items() if stored.book.is_known)

    def contract_of_entry(self, entry_id: str) -> str | None:
        for contract_id in self._dirty:  # saved since the last checkpoint
            if entry_id in self._books[contract_id].book.entries:
                return contract_id
        row = self._db.execute("SELECT contract_id FROM entry_contracts WHERE entry_id = ?", (entry_id,)).fetchone()
        return None if row is None else str(row[0])

    def exceptions(self) -> Iterable[BillingException]:
        for book in self.books():
            yield from book.exceptions.values()

    # --- checkpoints --------------------------------------------------------------------------

    def checkpoint(self, progress: dict[str, Any] | None = None) -> int:
        """Write every change since the last checkpoint, and `progress` with it, in
        one transaction. Returns the number of book items written."""
        written = 0
        with self._transaction():
            for contract_id in sorted(self._dirty):
                written += self._write_book(contract_id)
            if self._pending_entry_contracts:
                self._db.executemany(
                    "INSERT OR REPLACE INTO entry_contracts VALUES (?, ?)", self._pending_entry_contracts
                )
            if self._pending_audit:
                self._db.executemany(
                    "INSERT OR REPLACE INTO audit VALUES (?, ?, ?, ?)",
                    [(c, revision, n, _audit_json(record)) for c, revision, n, record in self._pending_audit],
                )
            if progress is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('progress', ?)", (json.dumps(progress, sort_keys=True),)
                )
        if self.write_back:  # everything since the last checkpoint commits at once
            self._db.execute("COMMIT")
            self._db.execute("BEGIN IMMEDIATE")
        for contract_id in self._dirty:
            self._persisted[contract_id] = self._books[contract_id]
        self._dirty.clear()
        self._pending_entry_contracts.clear()
        self._pending_audit.clear()
        return written

    def progress(self) -> dict[str, Any] | None:
        """The progress marker of the last committed checkpoint."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'progress'").fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def set_meta(self, key: str, value: dict[str, Any]) -> None:
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (f"user:{key}", json.dumps(value)))

    def meta(self, key: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (f"user:{key}",)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    @property
    def pending_changes(self) -> int:
        return len(self._dirty)

    def _write_book(self, contract_id: str) -> int:
        stored = self._books[contract_id]
        before = self._persisted.get(contract_id)
        old_book = before.book if before is not None else ContractBook(contract_id=contract_id)
        upserts: list[tuple[str, str, str, int, bytes]] = []
        deletes: list[tuple[str, str, str]] = []
        for codec in self._codecs:
            new_value = getattr(stored.book, codec.name)
            old_value = getattr(old_book, codec.name)
            if codec.itemized:
                for key, item in new_value.items():
                    if old_value.get(key) is not item:
                        self._seq += 1
                        upserts.append((contract_id, codec.name, str(key), self._seq, codec.dump(item)))
                        if codec.name == "entries" and key not in old_value:
                            self._pending_entry_contracts.append((str(key), contract_id))
                deletes.extend((contract_id, codec.name, str(key)) for key in old_value.keys() - new_value.keys())
            elif new_value is not old_value and new_value != old_value:
                self._seq += 1
                upserts.append((contract_id, codec.name, WHOLE_FIELD_KEY, self._seq, codec.dump(new_value)))
        self._db.execute("INSERT OR REPLACE INTO books VALUES (?, ?)", (contract_id, stored.revision))
        if upserts:
            # An item already stored keeps its `seq`: books read back keep their dictionaries' order.
            self._db.executemany(
                "INSERT INTO book_items VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (contract_id, field, key) DO UPDATE SET doc = excluded.doc",
                upserts,
            )
        if deletes:
            self._db.executemany("DELETE FROM book_items WHERE contract_id = ? AND field = ? AND key = ?", deletes)
        return len(upserts) + len(deletes)

    def _read_book(self, contract_id: str) -> StoredBook:
        row = self._db.execute("SELECT revision FROM books WHERE contract_id = ?", (contract_id,)).fetchone()
        if row is None:
            return StoredBook(ContractBook(contract_id=contract_id), 0)
        by_field = {codec.name: codec for codec in self._codecs}
        values: dict[str, Any] = {codec.name: {} for codec in self._codecs if codec.itemized}
        try:
            for field_name, key, doc in self._db.execute(
                "SELECT field, key, doc FROM book_items WHERE contract_id = ? ORDER BY field, seq",
                (contract_id,),
            ):
                codec = by_field.get(field_name)
                if codec is None:
                    raise LedgerStoreError(f"{self.path}: contract {contract_id}: unknown book field {field_name!r}")
                if codec.itemized:
                    values[field_name][codec.load_key(key)] = codec.load(doc)
                else:
                    values[field_name] = codec.load(doc)
        except ValueError as error:
            raise LedgerStoreError(f"{self.path}: contract {contract_id}: unreadable book item ({error})") from error
        return StoredBook(ContractBook(contract_id=contract_id, **values), int(row[0]))

    def _stored_contract_ids(self) -> list[str]:
        return [str(row[0]) for row in self._db.execute("SELECT contract_id FROM books ORDER BY contract_id")]

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    # --- the rest of the port -----------------------------------------------------------------

    def load_config(self) -> BillingConfig:
        if self._config is None:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()
            self._config = billing_config_from(json.loads(row[0])) if row else BillingConfig()
        return self._config

    def save_config(self, config: BillingConfig) -> None:
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('config', ?)", (json.dumps(billing_config_to_document(config)),)
            )
        self._config = config

    def remember_invoice_number(self, invoice_number: str, proposal_id: str) -> None:
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO invoice_numbers VALUES (?, ?)", (invoice_number, proposal_id))

    def proposal_for_invoice_number(self, invoice_number: str) -> str | None:
        row = self._db.execute(
            "SELECT proposal_id FROM invoice_numbers WHERE invoice_number = ?", (invoice_number,)
        ).fetchone()
        return None if row is None else str(row[0])

    def park_feedback(self, key: str, event: dict[str, object]) -> None:
        with self._transaction():
            row = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM parked WHERE key = ?", (key,)).fetchone()
            self._db.execute("INSERT INTO parked VALUES (?, ?, ?)", (key, int(row[0]) + 1, json.dumps(event)))
        self._parked_keys.add(key)

    def take_parked_feedback(self, key: str) -> list[dict[str, object]]:
        if key not in self._parked_keys:  # asked after every time entry: answered without a query
            return []
        self._parked_keys.discard(key)
        with self._transaction():
            rows = self._db.execute("SELECT doc FROM parked WHERE key = ? ORDER BY seq", (key,)).fetchall()
            if rows:
                self._db.execute("DELETE FROM parked WHERE key = ?", (key,))
        return [dict(json.loads(row[0])) for row in rows]

    def record_mapping(self, contract_id: str, mapping: dict[str, str]) -> None:
        merged = {**self.mapping(contract_id), **mapping}
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO mappings VALUES (?, ?)", (contract_id, json.dumps(merged)))

    def mapping(self, contract_id: str) -> dict[str, str]:
        row = self._db.execute("SELECT doc FROM mappings WHERE contract_id = ?", (contract_id,)).fetchone()
        return {} if row is None else {str(k): str(v) for k, v in json.loads(row[0]).items()}

    # --- customer master (MasterDataStore) ---------------------------------------------------

    def master_versions(self, kind: str, key: str) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT doc FROM master_versions WHERE kind = ? AND key = ? ORDER BY version", (kind, key)
        ).fetchall()
        return [dict(json.loads(row[0])) for row in rows]

    def save_master_version(self, kind: str, key: str, version: int, document: dict[str, Any]) -> bool:
        with self._transaction():
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO master_versions VALUES (?, ?, ?, ?)",
                (kind, key, version, json.dumps(document, sort_keys=True, default=str)),
            )
        return cursor.rowcount == 1

    def master_keys(self, kind: str) -> list[str]:
        rows = self._db.execute("SELECT DISTINCT key FROM master_versions WHERE kind = ? ORDER BY key", (kind,))
        return [str(row[0]) for row in rows]

    def hold_pending_contract(self, customer_id: str, contract_id: str) -> None:
        with self._transaction():
            self._db.execute("INSERT OR IGNORE INTO pending_contracts VALUES (?, ?)", (customer_id, contract_id))

    def pending_contracts(self, customer_id: str) -> list[str]:
        rows = self._db.execute(
            "SELECT contract_id FROM pending_contracts WHERE customer_id = ? ORDER BY contract_id", (customer_id,)
        )
        return [str(row[0]) for row in rows]

    def release_pending_contract(self, customer_id: str, contract_id: str) -> None:
        with self._transaction():
            self._db.execute(
                "DELETE FROM pending_contracts WHERE customer_id = ? AND contract_id = ?", (customer_id, contract_id)
            )

    def audit_of_contract(self, contract_id: str) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT doc FROM audit WHERE contract_id = ? ORDER BY revision, n", (contract_id,)
        ).fetchall()
        return [dict(json.loads(row[0])) for row in rows]

    def audit_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM audit").fetchone()[0])


_AUDIT_FIELDS = tuple(f.name for f in fields(AuditRecord))
_encode_compact = json.JSONEncoder(separators=(",", ":"), default=str).encode
"""One encoder for every record (`json.dumps` with options builds a new one per call)."""


def _audit_json(record: AuditRecord) -> str:
    """The record's fields (all plain values) as JSON, without `asdict`'s deep copy."""
    return _encode_compact({name: getattr(record, name) for name in _AUDIT_FIELDS})


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error); nested uses join the outer one."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._outer = False

    def __enter__(self) -> None:
        if not self._db.in_transaction:
            self._db.execute("BEGIN IMMEDIATE")
            self._outer = True

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if not self._outer:
            return
        self._db.execute("ROLLBACK" if exc_type is not None else "COMMIT")
