"""The ledger in one DynamoDB table (see docs/decisions/0001-ledger-storage.md).

Items (pk / sk):
- `CONTRACT#{id}` / `BOOK`: the contract's book, gzip-compressed JSON, with a
  `revision` number; saved with a condition on that revision (optimistic
  concurrency: the unit of consistency is one contract).
- `EXCEPTION#{exception_id}` / `EXCEPTION`: the operator's view of each
  exception; lookup index `EXCEPTIONS` / `{state}#{type}#{contract}#{id}`.
- `AUDIT#{contract_id}` / `{revision}#{n}`: what changed and why; lookup
  index `CORRELATION#{id}` so a correlation id finds its trail; expires
  (TTL `expires_at`) after `audit_retention_seconds` (7 years by default).
- `ENTRY#{entry_id}` / `CONTRACT`, `INVOICE#{number}` / `PROPOSAL`,
  `PROPOSAL#{id}` / `CONTRACT`: cross-system id lookups.
- `PARKED#{key}` / `{n}`: feedback that arrived before what it refers to.
- `CONFIG` / `BILLING`: the tax table and legal-entity routing.

Personal data in the book is sealed field by field when a `field_encryption`
is given (deployed functions; see billbridge.adapters.field_encryption):
before `encode_book` on save, and opened after `decode_book` on load. Without
one (the local stack's default) books are stored as they are.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

from billbridge import topology
from billbridge.app.event_translation import billing_config_from, billing_config_to_document
from billbridge.app.ledger import ConcurrentUpdateError, StoredBook
from billbridge.domain.model import BillingConfig, BillingException, BookUpdate, ContractBook

if TYPE_CHECKING:
    from billbridge.adapters.field_encryption import FieldEncryption

TRANSACTION_LIMIT = 100
AUDIT_RETENTION_SECONDS = 7 * 366 * 24 * 3600
"""Audit records outlive billing disputes and statutory record keeping (7 years)."""
ENV_AUDIT_RETENTION_DAYS = "AUDIT_RETENTION_DAYS"
"""Set by the stack (`audit_retention_days`); the composition root passes it as `audit_retention_seconds`."""
AUDIT_TTL_ATTRIBUTE = topology.LEDGER_TABLE.ttl_attribute or "expires_at"
BOOK_ADAPTER: TypeAdapter[ContractBook] = TypeAdapter(ContractBook)
EXCEPTION_ADAPTER: TypeAdapter[BillingException] = TypeAdapter(BillingException)


def encode_book(book: ContractBook) -> bytes:
    return gzip.compress(BOOK_ADAPTER.dump_json(book), compresslevel=6)


def decode_book(blob: bytes) -> ContractBook:
    return BOOK_ADAPTER.validate_json(gzip.decompress(blob))


class DynamoLedger:
    def __init__(
        self,
        table_name: str,
        client: Any = None,
        clock: Any = None,
        *,
        field_encryption: FieldEncryption | None = None,
        audit_retention_seconds: int = AUDIT_RETENTION_SECONDS,
    ) -> None:
        self._table_name = table_name
        self._client = client
        self._clock = clock
        self._field_encryption = field_encryption
        self._audit_retention_seconds = audit_retention_seconds

    @cached_property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("dynamodb")
        return self._client

    def _now(self) -> str:
        return str(self._now_datetime().isoformat())

    def _now_datetime(self) -> datetime:
        now: datetime = self._clock.now() if self._clock is not None else datetime.now(UTC)
        return now

    def _audit_expiry(self) -> int:
        return int(self._now_datetime().timestamp()) + self._audit_retention_seconds

    def _decode(self, blob: bytes) -> ContractBook:
        book = decode_book(blob)
        return book if self._field_encryption is None else self._field_encryption.reveal(book)

    def _encode(self, book: ContractBook) -> bytes:
        return encode_book(book if self._field_encryption is None else self._field_encryption.protect(book))

    # --- books -------------------------------------------------------------

    def load(self, contract_id: str) -> StoredBook:
        response = self.client.get_item(
            TableName=self._table_name,
            Key={"pk": {"S": f"CONTRACT#{contract_id}"}, "sk": {"S": "BOOK"}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        if item is None:
            return StoredBook(ContractBook(contract_id=contract_id), 0)
        return StoredBook(self._decode(item["body"]["B"]), int(item["revision"]["N"]))

    def save(self, stored: StoredBook, update: BookUpdate) -> None:
        book = update.book
        revision = stored.revision + 1
        book_item: dict[str, Any] = {
            "pk": {"S": f"CONTRACT#{book.contract_id}"},
            "sk": {"S": "BOOK"},
            "contract_id": {"S": book.contract_id},
            "revision": {"N": str(revision)},
            "body": {"B": self._encode(book)},
            "updated_at": {"S": self._now()},
        }
        if stored.revision == 0:
            condition = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "revision = :expected",
                "ExpressionAttributeValues": {":expected": {"N": str(stored.revision)}},
            }
        book_put = {"Put": {"TableName": self._table_name, "Item": book_item, **condition}}
        projections = [
            {"Put": {"TableName": self._table_name, "Item": item}}
            for item in self._projection_items(stored.book, update, revision)
        ]
        first, rest = projections[: TRANSACTION_LIMIT - 1], projections[TRANSACTION_LIMIT - 1 :]
        try:
            self.client.transact_write_items(TransactItems=[book_put, *first])
        except self.client.exceptions.TransactionCanceledException as error:
            reasons = error.response.get("CancellationReasons", [])
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                raise ConcurrentUpdateError(book.contract_id) from error
            raise
        # Projections beyond one transaction are idempotent puts of derived data:
        # the book (already saved) is the truth they are derived from.
        for chunk_start in range(0, len(rest), 25):
            chunk = rest[chunk_start : chunk_start + 25]
            self._batch_put([entry["Put"]["Item"] for entry in chunk])

    def _projection_items(self, before: ContractBook, update: BookUpdate, revision: int) -> Iterator[dict[str, Any]]:
        book = update.book
        if book.is_known and not before.is_known:
            # The list of known contracts is a small marker item on the lookup
            # index, so saving a book never rewrites the book into the index.
            yield {
                "pk": {"S": f"CONTRACT#{book.contract_id}"},
                "sk": {"S": "KNOWN"},
                "gsi1pk": {"S": "CONTRACTS"},
                "gsi1sk": {"S": book.contract_id},
            }
        for exception_id, exception in book.exceptions.items():
            if before.exceptions.get(exception_id) != exception:
                yield exception_item(exception)
        for entry_id in book.entries:
            if entry_id not in before.entries:
                yield {
                    "pk": {"S": f"ENTRY#{entry_id}"},
                    "sk": {"S": "CONTRACT"},
                    "contract_id": {"S": book.contract_id},
                }
        for proposal_id in book.invoices:
            if proposal_id not in before.invoices:
                yield {
                    "pk": {"S": f"PROPOSAL#{proposal_id}"},
                    "sk": {"S": "CONTRACT"},
                    "contract_id": {"S": book.contract_id},
                }
        if update.audit:
            # One audit item per save (a save has one cause, so one correlation id).
            correlation_id = next((r.correlation_id for r in update.audit if r.correlation_id), "")
            item: dict[str, Any] = {
                "pk": {"S": f"AUDIT#{book.contract_id}"},
                "sk": {"S": f"{revision:010d}"},
                "records": {"S": json.dumps([asdict(record) for record in update.audit], default=str)},
                "recorded_at": {"S": self._now()},
                AUDIT_TTL_ATTRIBUTE: {"N": str(self._audit_expiry())},
            }
            if correlation_id:
                item["gsi1pk"] = {"S": f"CORRELATION#{correlation_id}"}
                item["gsi1sk"] = {"S": f"{self._now()}#{book.contract_id}#{revision:010d}"}
            yield item

    def _batch_put(self, items: list[dict[str, Any]]) -> None:
        pending = [{"PutRequest": {"Item": item}} for item in items]
        for _ in range(8):
            if not pending:
                return
            response = self.client.batch_write_item(RequestItems={self._table_name: pending})
            pending = response.get("UnprocessedItems", {}).get(self._table_name, [])
        if pending:
            raise RuntimeError(f"{len(pending)} projection item(s) not written after retries")

    def contract_ids(self) -> list[str]:
        return sorted(item["gsi1sk"]["S"] for item in self._query_index("CONTRACTS"))

    def books(self) -> list[ContractBook]:
        """Every book, including contracts still pending (entries before their contract)."""
        books = []
        for item in self._scan_prefix("CONTRACT#", sk="BOOK"):
            books.append(self._decode(item["body"]["B"]))
        return books

    def contract_of_entry(self, entry_id: str) -> str | None:
        item = self._get(f"ENTRY#{entry_id}", "CONTRACT")
        return None if item is None else str(item["contract_id"]["S"])

    # --- configuration, lookups and parked feedback -------------------------

    def load_config(self) -> BillingConfig:
        item = self._get("CONFIG", "BILLING")
        if item is None:
            return BillingConfig()
        return billing_config_from(json.loads(item["document"]["S"]))

    def save_config(self, config: BillingConfig) -> None:
        self.client.put_item(
            TableName=self._table_name,
            Item={
                "pk": {"S": "CONFIG"},
                "sk": {"S": "BILLING"},
                "document": {"S": json.dumps(billing_config_to_document(config))},
                "updated_at": {"S": self._now()},
            },
        )

    def remember_invoice_number(self, invoice_number: str, proposal_id: str) -> None:
        self.client.put_item(
            TableName=self._table_name,
            Item={
                "pk": {"S": f"INVOICE#{invoice_number}"},
                "sk": {"S": "PROPOSAL"},
                "proposal_id": {"S": proposal_id},
            },
        )

    def proposal_for_invoice_number(self, invoice_number: str) -> str | None:
        item = self._get(f"INVOICE#{invoice_number}", "PROPOSAL")
        return None if item is None else str(item["proposal_id"]["S"])

    def park_feedback(self, key: str, event: dict[str, object]) -> None:
        self.client.put_item(
            TableName=self._table_name,
            Item={
                "pk": {"S": f"PARKED#{key}"},
                "sk": {"S": str(event.get("source", "")) + ":" + str(event.get("event_id", ""))},
                "event": {"S": json.dumps(event, default=str)},
                "parked_at": {"S": self._now()},
            },
        )

    def take_parked_feedback(self, key: str) -> list[dict[str, object]]:
        items = self._query_pk(f"PARKED#{key}")
        events = [json.loads(item["event"]["S"]) for item in items]
        for item in items:
            self.client.delete_item(TableName=self._table_name, Key={"pk": item["pk"], "sk": item["sk"]})
        return events

    def parked(self) -> list[dict[str, object]]:
        return [json.loads(item["event"]["S"]) for item in self._scan_prefix("PARKED#")]

    def record_mapping(self, contract_id: str, mapping: dict[str, str]) -> None:
        current = self.mapping(contract_id)
        current.update(mapping)
        self.client.put_item(
            TableName=self._table_name,
            Item={
                "pk": {"S": f"MAP#{contract_id}"},
                "sk": {"S": "IDS"},
                "ids": {"S": json.dumps(current, sort_keys=True)},
                "updated_at": {"S": self._now()},
            },
        )

    def mapping(self, contract_id: str) -> dict[str, str]:
        item = self._get(f"MAP#{contract_id}", "IDS")
        return {} if item is None else dict(json.loads(item["ids"]["S"]))

    # --- operator views ------------------------------------------------------

    def exceptions(self) -> Iterable[BillingException]:
        for item in self._query_index("EXCEPTIONS"):
            yield EXCEPTION_ADAPTER.validate_json(item["exception"]["S"])

    def audit_by_correlation(self, correlation_id: str) -> list[dict[str, Any]]:
        return [
            record
            for item in self._query_index(f"CORRELATION#{correlation_id}")
            for record in audit_records_of(item)
            if record.get("correlation_id") in (correlation_id, "")
        ]

    def audit_of_contract(self, contract_id: str) -> list[dict[str, Any]]:
        return [record for item in self._query_pk(f"AUDIT#{contract_id}") for record in audit_records_of(item)]

    # --- operations reads: trace, report, archive replay ----------------------

    def contract_of_proposal(self, proposal_id: str) -> str | None:
        item = self._get(f"PROPOSAL#{proposal_id}", "CONTRACT")
        return None if item is None else str(item["contract_id"]["S"])

    def audit_trail_of_contract(self, contract_id: str) -> list[dict[str, Any]]:
        """The contract's audit records in order, each with `recorded_at` and `contract_id`."""
        return [
            {
                **record,
                "contract_id": contract_id,
                "recorded_at": item.get("recorded_at", {}).get("S", ""),
            }
            for item in self._query_pk(f"AUDIT#{contract_id}")
            for record in audit_records_of(item)
        ]

    def audit_trail_by_correlation(self, correlation_id: str) -> list[dict[str, Any]]:
        """A correlation id's audit records across contracts, each with `recorded_at` and `contract_id`."""
        trail = []
        for item in self._query_index(f"CORRELATION#{correlation_id}"):
            contract_id = item["pk"]["S"].removeprefix("AUDIT#")
            trail.extend(
                {
                    **record,
                    "contract_id": contract_id,
                    "recorded_at": item.get("recorded_at", {}).get("S", ""),
                }
                for record in audit_records_of(item)
            )
        return sorted(trail, key=lambda record: (record["recorded_at"], record["contract_id"]))

    def delivery(self, source: str, event_id: str) -> dict[str, str] | None:
        """The accepted delivery of `(source, id)`: correlation id, raw payload key, acceptance time."""
        item = self._get(f"DELIVERY#{source}#{event_id}", "DELIVERY")
        return None if item is None else _plain_strings(item)

    def deliveries(self) -> list[dict[str, str]]:
        return [_plain_strings(item) for item in self._scan_prefix("DELIVERY#", sk="DELIVERY")]

    # --- low level -------------------------------------------------------------

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self._table_name, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
        )
        item: dict[str, Any] | None = response.get("Item")
        return item

    def _query_pk(self, pk: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ConsistentRead": True,
        }
        while True:
            response = self.client.query(**kwargs)
            items.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return items
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _query_index(self, partition: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table_name,
            "IndexName": topology.LEDGER_LOOKUP_INDEX,
            "KeyConditionExpression": "gsi1pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": partition}},
        }
        while True:
            response = self.client.query(**kwargs)
            items.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return items
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _scan_prefix(self, prefix: str, sk: str | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        expression = "begins_with(pk, :prefix)"
        values: dict[str, Any] = {":prefix": {"S": prefix}}
        if sk is not None:
            expression += " AND sk = :sk"
            values[":sk"] = {"S": sk}
        kwargs: dict[str, Any] = {
            "TableName": self._table_name,
            "FilterExpression": expression,
            "ExpressionAttributeValues": values,
        }
        while True:
            response = self.client.scan(**kwargs)
            items.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return items
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def audit_records_of(item: dict[str, Any]) -> list[dict[str, Any]]:
    """The audit records an audit item holds (one save's records)."""
    if "records" in item:
        records: list[dict[str, Any]] = json.loads(item["records"]["S"])
        return records
    return [json.loads(item["record"]["S"])]  # an item written one record at a time (older ledgers)


def exception_item(exception: BillingException) -> dict[str, Any]:
    return {
        "pk": {"S": f"EXCEPTION#{exception.exception_id}"},
        "sk": {"S": "EXCEPTION"},
        "gsi1pk": {"S": "EXCEPTIONS"},
        "gsi1sk": {
            "S": f"{exception.state.value}#{exception.type.value}#{exception.contract_id}#{exception.exception_id}"
        },
        "contract_id": {"S": exception.contract_id},
        "type": {"S": exception.type.value},
        "state": {"S": exception.state.value},
        "exception": {"S": EXCEPTION_ADAPTER.dump_json(exception).decode()},
    }


def _plain_strings(item: dict[str, Any]) -> dict[str, str]:
    """The string attributes of an item, untyped (`{"S": "x"}` -> `"x"`)."""
    return {name: value["S"] for name, value in item.items() if "S" in value}
