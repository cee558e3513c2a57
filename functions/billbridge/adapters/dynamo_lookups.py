"""Cross-system lookups in the ledger table:

- `INVOICE#{number}` / `PROPOSAL`: the ERP's invoice number -> our proposal id;
- `PARKED#{key}` / `{source}:{event id}`: feedback that arrived before what it refers to
  (a rejection before its entry: `PARKED#rejection#{entry id}`, marked on the entry's
  lookup by the book store, docs/decisions/0020-cost-per-entry-cut.md);
- `MAP#{contract}` / `IDS`: the contract's ids in the PSA and the ERP.
"""

from __future__ import annotations

import json

from billbridge.adapters.dynamo_table import DynamoTable


class DynamoCrossSystemLookups:
    def __init__(self, table: DynamoTable) -> None:
        self._table = table

    def remember_invoice_number(self, invoice_number: str, proposal_id: str) -> None:
        self._table.client.put_item(
            TableName=self._table.table_name,
            Item={
                "pk": {"S": f"INVOICE#{invoice_number}"},
                "sk": {"S": "PROPOSAL"},
                "proposal_id": {"S": proposal_id},
            },
        )

    def proposal_for_invoice_number(self, invoice_number: str) -> str | None:
        item = self._table.get(f"INVOICE#{invoice_number}", "PROPOSAL")
        return None if item is None else str(item["proposal_id"]["S"])

    def park_feedback(self, key: str, event: dict[str, object]) -> None:
        self._table.client.put_item(
            TableName=self._table.table_name,
            Item={
                "pk": {"S": f"PARKED#{key}"},
                "sk": {"S": _parked_sort_key(event)},
                "event": {"S": json.dumps(event, default=str)},
                "parked_at": {"S": self._table.now()},
            },
        )

    def forget_parked_feedback(self, key: str, event: dict[str, object]) -> None:
        """Drop one parked event (applied by its own consumer after all)."""
        self._table.client.delete_item(
            TableName=self._table.table_name,
            Key={"pk": {"S": f"PARKED#{key}"}, "sk": {"S": _parked_sort_key(event)}},
        )

    def parked_keys(self, prefix: str) -> list[str]:
        """The keys under which feedback is parked, of those starting with `prefix`."""
        items = self._table.scan_prefix(f"PARKED#{prefix}", keys_only=True)
        return sorted({item["pk"]["S"].removeprefix("PARKED#") for item in items})

    def take_parked_feedback(self, key: str) -> list[dict[str, object]]:
        items = self._table.query_pk(f"PARKED#{key}")
        events = [json.loads(item["event"]["S"]) for item in items]
        for item in items:
            self._table.client.delete_item(TableName=self._table.table_name, Key={"pk": item["pk"], "sk": item["sk"]})
        return events

    def parked(self) -> list[dict[str, object]]:
        return [json.loads(item["event"]["S"]) for item in self._table.scan_prefix("PARKED#")]

    def record_mapping(self, contract_id: str, mapping: dict[str, str]) -> None:
        current = self.mapping(contract_id)
        current.update(mapping)
        self._table.client.put_item(
            TableName=self._table.table_name,
            Item={
                "pk": {"S": f"MAP#{contract_id}"},
                "sk": {"S": "IDS"},
                "ids": {"S": json.dumps(current, sort_keys=True)},
                "updated_at": {"S": self._table.now()},
            },
        )

    def mapping(self, contract_id: str) -> dict[str, str]:
        item = self._table.get(f"MAP#{contract_id}", "IDS")
        return {} if item is None else dict(json.loads(item["ids"]["S"]))


def _parked_sort_key(event: dict[str, object]) -> str:
    return str(event.get("source", "")) + ":" + str(event.get("event_id", ""))
