"""The billing configuration in the ledger table: `CONFIG` / `BILLING`."""

from __future__ import annotations

import json

from billbridge.adapters.dynamo_table import DynamoTable
from billbridge.app.billing_config_document import billing_config_from, billing_config_to_document
from billbridge.domain.model import BillingConfig


class DynamoConfigurationStore:
    def __init__(self, table: DynamoTable) -> None:
        self._table = table

    def load_config(self) -> BillingConfig:
        item = self._table.get("CONFIG", "BILLING")
        if item is None:
            return BillingConfig()
        return billing_config_from(json.loads(item["document"]["S"]))

    def save_config(self, config: BillingConfig) -> None:
        self._table.client.put_item(
            TableName=self._table.table_name,
            Item={
                "pk": {"S": "CONFIG"},
                "sk": {"S": "BILLING"},
                "document": {"S": json.dumps(billing_config_to_document(config))},
                "updated_at": {"S": self._table.now()},
            },
        )
