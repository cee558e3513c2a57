"""The ledger in one DynamoDB table: one adapter per use of it, and `DynamoLedger`,
all of them together (what the use cases and operator commands are given).

- `DynamoBookStore` (`dynamo_book_store`): contract books as items that do not
  grow with history, and the lookups written with them;
- `DynamoConfigurationStore` (`dynamo_config_store`): the billing configuration;
- `DynamoCrossSystemLookups` (`dynamo_lookups`): invoice numbers, parked
  feedback, cross-system ids;
- `DynamoCommandLog` (`dynamo_command_log`): downstream commands and their outcomes;
- `DynamoAuditReadSide` (`dynamo_audit_log`): the exceptions inbox and the
  audit trails;
- `DynamoMasterData` (`dynamo_master_data`): customer and legal-entity master
  data, and the contracts waiting for their customer.

Each reads only the items it owns (see docs/decisions/0003-ledger-storage-at-scale.md).
Personal data in a contract's terms is sealed field by field when a
`field_encryption` is given (deployed functions; see
billbridge.adapters.field_encryption).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from billbridge.adapters.dynamo_audit_log import (
    AUDIT_TTL_ATTRIBUTE,
    DynamoAuditReadSide,
    audit_records_of,
    exception_item,
)
from billbridge.adapters.dynamo_book_store import (
    AUDIT_RETENTION_SECONDS,
    DynamoBookStore,
    decode_legacy_book,
    encode_legacy_book,
)
from billbridge.adapters.dynamo_command_log import DynamoCommandLog
from billbridge.adapters.dynamo_config_store import DynamoConfigurationStore
from billbridge.adapters.dynamo_delivery_registry import CLAIM_SORT_KEY, decode_raw_body, delivery_partition_key
from billbridge.adapters.dynamo_lookups import DynamoCrossSystemLookups
from billbridge.adapters.dynamo_master_data import DynamoMasterData
from billbridge.adapters.dynamo_table import DynamoTable, plain_strings
from billbridge.app.ledger import BookScope, StoredBook, parked_rejection_key
from billbridge.domain.model import BillingConfig, BillingException, BookUpdate, ContractBook

if TYPE_CHECKING:
    from billbridge.adapters.field_encryption import FieldEncryption


__all__ = [
    "AUDIT_RETENTION_SECONDS",
    "AUDIT_TTL_ATTRIBUTE",
    "DynamoLedger",
    "audit_records_of",
    "decode_legacy_book",
    "encode_legacy_book",
    "exception_item",
]


class DynamoLedger:
    """Every part of the ledger over one table: the `Ledger` port, plus the
    operations reads (trace, report, archive replay)."""

    def __init__(
        self,
        table_name: str,
        client: Any = None,
        clock: Any = None,
        *,
        field_encryption: FieldEncryption | None = None,
        audit_retention_seconds: int = AUDIT_RETENTION_SECONDS,
    ) -> None:
        self.table = DynamoTable(table_name, client, clock)
        self.book_store = DynamoBookStore(
            self.table, field_encryption=field_encryption, audit_retention_seconds=audit_retention_seconds
        )
        self.configuration = DynamoConfigurationStore(self.table)
        self.lookups = DynamoCrossSystemLookups(self.table)
        self.commands = DynamoCommandLog(self.table)
        """Downstream commands and their outcomes (not part of the `Ledger` port)."""
        self.audit = DynamoAuditReadSide(self.table)
        self.master_data = DynamoMasterData(self.table)

    @property
    def client(self) -> Any:
        return self.table.client

    # --- books ------------------------------------------------------------------

    def load(self, contract_id: str) -> StoredBook:
        return self.book_store.load(contract_id)

    def load_for_update(self, contract_id: str, scope: BookScope) -> StoredBook:
        return self.book_store.load_for_update(contract_id, scope)

    def release(self, stored: StoredBook) -> None:
        self.book_store.release(stored)

    def pass_over(self, stored: StoredBook) -> None:
        self.book_store.pass_over(stored)

    def save(self, stored: StoredBook, update: BookUpdate) -> None:
        self.book_store.save(stored, update)

    def contract_ids(self) -> list[str]:
        return self.book_store.contract_ids()

    def books(self) -> list[ContractBook]:
        return self.book_store.books()

    def contract_of_entry(self, entry_id: str) -> str | None:
        return self.book_store.contract_of_entry(entry_id)

    def contract_of_proposal(self, proposal_id: str) -> str | None:
        return self.book_store.contract_of_proposal(proposal_id)

    # --- configuration ------------------------------------------------------------

    def load_config(self) -> BillingConfig:
        return self.configuration.load_config()

    def save_config(self, config: BillingConfig) -> None:
        self.configuration.save_config(config)

    # --- cross-system lookups -------------------------------------------------------

    def remember_invoice_number(self, invoice_number: str, proposal_id: str) -> None:
        self.lookups.remember_invoice_number(invoice_number, proposal_id)

    def proposal_for_invoice_number(self, invoice_number: str) -> str | None:
        return self.lookups.proposal_for_invoice_number(invoice_number)

    def park_feedback(self, key: str, event: dict[str, object]) -> None:
        self.lookups.park_feedback(key, event)

    def take_parked_feedback(self, key: str) -> list[dict[str, object]]:
        return self.lookups.take_parked_feedback(key)

    def park_entry_rejection(self, entry_id: str, event: dict[str, object]) -> str | None:
        """Kept as parked feedback, then the entry's lookup is marked (in that order: whoever
        stores the entry after the mark finds the rejection kept). A lookup that already names
        the entry's contract was written before the mark, by a writer that did not see it: this
        rejection is applied now by its caller, and its parked copy dropped."""
        key = parked_rejection_key(entry_id)
        self.lookups.park_feedback(key, event)
        contract_id = self.book_store.mark_rejection_kept(entry_id)
        if contract_id is not None:
            self.lookups.forget_parked_feedback(key, event)
        return contract_id

    def take_entry_rejections(self, entry_id: str) -> list[dict[str, object]]:
        """Read only when the entry's lookup or item said a rejection is kept (decision 0020):
        a new entry's conditional lookup write returns the mark, so no query per entry."""
        if not self.book_store.rejection_may_be_kept(entry_id):
            return []
        return self.lookups.take_parked_feedback(parked_rejection_key(entry_id))

    def mark_kept_rejections(self) -> dict[str, list[str]]:
        """Mark the lookups of the entries whose rejections were parked before the marks
        existed (`billbridge migrate-ledger`); idempotent. `marked`: entries not stored yet
        (their approval takes the rejection); `stored`: entries stored already, whose kept
        rejection waits for an operator (re-send it: the entry's contract is now known)."""
        prefix = parked_rejection_key("")
        marked: list[str] = []
        stored: list[str] = []
        for key in self.lookups.parked_keys(prefix):
            entry_id = key.removeprefix(prefix)
            (marked if self.book_store.mark_rejection_kept(entry_id) is None else stored).append(entry_id)
        return {"marked": marked, "stored": stored}

    def parked(self) -> list[dict[str, object]]:
        return self.lookups.parked()

    def record_mapping(self, contract_id: str, mapping: dict[str, str]) -> None:
        self.lookups.record_mapping(contract_id, mapping)

    def mapping(self, contract_id: str) -> dict[str, str]:
        return self.lookups.mapping(contract_id)

    # --- customer master (MasterDataStore) -----------------------------------------------

    def master_versions(self, kind: str, key: str) -> list[dict[str, Any]]:
        return self.master_data.master_versions(kind, key)

    def save_master_version(self, kind: str, key: str, version: int, document: dict[str, Any]) -> bool:
        return self.master_data.save_master_version(kind, key, version, document)

    def master_keys(self, kind: str) -> list[str]:
        return self.master_data.master_keys(kind)

    def hold_pending_contract(self, customer_id: str, contract_id: str) -> None:
        self.master_data.hold_pending_contract(customer_id, contract_id)

    def pending_contracts(self, customer_id: str) -> list[str]:
        return self.master_data.pending_contracts(customer_id)

    def release_pending_contract(self, customer_id: str, contract_id: str) -> None:
        self.master_data.release_pending_contract(customer_id, contract_id)

    # --- the audit read side ------------------------------------------------------------

    def exceptions(self) -> Iterable[BillingException]:
        return self.audit.exceptions()

    def audit_of_contract(self, contract_id: str) -> list[dict[str, Any]]:
        return [
            {key: value for key, value in record.items() if key not in ("contract_id", "recorded_at")}
            for record in self.audit_trail_of_contract(contract_id)
        ]

    def audit_by_correlation(self, correlation_id: str) -> list[dict[str, Any]]:
        return [
            {key: value for key, value in record.items() if key not in ("contract_id", "recorded_at")}
            for record in self.audit_trail_by_correlation(correlation_id)
            if record.get("correlation_id") in (correlation_id, "")
        ]

    def audit_trail_of_contract(self, contract_id: str) -> list[dict[str, Any]]:
        """The contract's audit records in order, each with `recorded_at` and `contract_id`."""
        trail = self.audit.trail_of_contract(contract_id) + self.book_store.input_audit_of_contract(contract_id)
        return sorted(trail, key=lambda record: record["recorded_at"])

    def audit_trail_by_correlation(self, correlation_id: str) -> list[dict[str, Any]]:
        """A correlation id's audit records across contracts, each with `recorded_at` and `contract_id`."""
        trail = self.audit.trail_by_correlation(correlation_id) + self.book_store.input_audit_by_correlation(
            correlation_id
        )
        return sorted(trail, key=lambda record: (record["recorded_at"], record["contract_id"]))

    def saves_by_correlation(self) -> dict[str, set[str]]:
        """Correlation id -> the saves (of a whole book or of one input) whose audit names it."""
        saves = self.audit.saves_by_correlation()
        for correlation_id, names in self.book_store.input_saves_by_correlation().items():
            saves.setdefault(correlation_id, set()).update(names)
        return saves

    # --- deliveries (the delivery registry's claims, read by its own keys) ------------

    def delivery(self, source: str, event_id: str) -> dict[str, str] | None:
        """The accepted delivery of `(source, id)`: correlation id, raw payload key, acceptance time."""
        item = self.table.get(delivery_partition_key(source, event_id), CLAIM_SORT_KEY)
        return None if item is None else plain_strings(item)

    def delivery_raw_body(self, source: str, event_id: str) -> bytes | None:
        """The raw body kept in the claim of `(source, id)` (a small single-event delivery), if any."""
        item = self.table.get(delivery_partition_key(source, event_id), CLAIM_SORT_KEY)
        return None if item is None else decode_raw_body(item)

    def deliveries(self) -> list[dict[str, str]]:
        return [plain_strings(item) for item in self.table.scan_prefix("DELIVERY#", sk=CLAIM_SORT_KEY)]

    # --- migration from the one-item book of decision 0001 -------------------------------

    def legacy_contract_ids(self) -> list[str]:
        return self.book_store.legacy_contract_ids()

    def migrate_contract(self, contract_id: str) -> bool:
        return self.book_store.migrate_contract(contract_id)
