"""Customer and legal-entity master data in the ledger table:

- `MASTER#{kind}#{key}` / `V#{version:010d}`: one version of a master record
  (the event's data as JSON), put on condition `attribute_not_exists(pk)`, so a
  version is written once whatever the deliveries;
- `MASTERS#{kind}` / `{key}`: the index of the records of a kind (one
  partition: listing keys is a query, never a table scan);
- `PENDING#{customer}` / `{contract}`: a contract waiting for its customer.
"""

from __future__ import annotations

import json
from typing import Any

from billbridge.adapters.dynamo_table import DynamoTable

MASTER_PREFIX = "MASTER#"
PENDING_PREFIX = "PENDING#"
INDEX_PREFIX = "MASTERS#"
VERSION_PREFIX = "V#"


def master_partition_key(kind: str, key: str) -> str:
    return f"{MASTER_PREFIX}{kind}#{key}"


class DynamoMasterData:
    def __init__(self, table: DynamoTable) -> None:
        self._table = table

    def master_versions(self, kind: str, key: str) -> list[dict[str, Any]]:
        items = self._table.query_pk(master_partition_key(kind, key), sk_prefix=VERSION_PREFIX)
        return [json.loads(item["document"]["S"]) for item in sorted(items, key=lambda i: i["sk"]["S"])]

    def save_master_version(self, kind: str, key: str, version: int, document: dict[str, Any]) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._table.client.put_item(
                TableName=self._table.table_name,
                Item={
                    "pk": {"S": master_partition_key(kind, key)},
                    "sk": {"S": f"{VERSION_PREFIX}{version:010d}"},
                    "kind": {"S": kind},
                    "key": {"S": key},
                    "document": {"S": json.dumps(document, sort_keys=True, default=str)},
                    "recorded_at": {"S": self._table.now()},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        # Written after the version (and again by any retry): a listed key always has a version.
        self._table.client.put_item(
            TableName=self._table.table_name,
            Item={"pk": {"S": f"{INDEX_PREFIX}{kind}"}, "sk": {"S": key}},
        )
        return True

    def master_keys(self, kind: str) -> list[str]:
        return sorted(item["sk"]["S"] for item in self._table.query_pk(f"{INDEX_PREFIX}{kind}"))

    def hold_pending_contract(self, customer_id: str, contract_id: str) -> None:
        self._table.client.put_item(
            TableName=self._table.table_name,
            Item={
                "pk": {"S": f"{PENDING_PREFIX}{customer_id}"},
                "sk": {"S": contract_id},
                "held_at": {"S": self._table.now()},
            },
        )

    def pending_contracts(self, customer_id: str) -> list[str]:
        return sorted(item["sk"]["S"] for item in self._table.query_pk(f"{PENDING_PREFIX}{customer_id}"))

    def release_pending_contract(self, customer_id: str, contract_id: str) -> None:
        self._table.client.delete_item(
            TableName=self._table.table_name,
            Key={"pk": {"S": f"{PENDING_PREFIX}{customer_id}"}, "sk": {"S": contract_id}},
        )
