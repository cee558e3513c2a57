"""IntakeRuns in the ledger table: one item per dropped file's run, one per counted chunk.

    pk INTAKE#{run_id}  sk RUN            file, source, format, started_at, chunks, rows, counted, completed
    pk INTAKE#{run_id}  sk CHUNK#00001    written once, in the same transaction that adds 1 to `counted`

Counting a chunk is a transaction conditional on its CHUNK item not existing, so a
chunk message delivered twice is counted once; the run's items expire with the
ledger's TTL attribute after INTAKE_RUN_RETENTION_DAYS.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from billbridge import topology
from billbridge.adapters.aws_client import LazyClient
from billbridge.app.bulk_intake import IntakeRun

INTAKE_RUN_RETENTION_DAYS = 30
RUN_SORT_KEY = "RUN"


def run_partition_key(run_id: str) -> str:
    return f"INTAKE#{run_id}"


class DynamoIntakeRuns:
    def __init__(self, *, table_name: str, client: Any | None = None) -> None:
        self._table = table_name
        self._client = LazyClient("dynamodb", client)
        self._pk = topology.LEDGER_TABLE.partition_key
        self._sk = topology.LEDGER_TABLE.sort_key or "sk"
        self._ttl = topology.LEDGER_TABLE.ttl_attribute or "expires_at"

    @property
    def client(self) -> Any:
        return self._client()

    def _key(self, run_id: str, sort_key: str) -> dict[str, Any]:
        return {self._pk: {"S": run_partition_key(run_id)}, self._sk: {"S": sort_key}}

    def _expires_at(self) -> dict[str, str]:
        expiry = datetime.now(UTC) + timedelta(days=INTAKE_RUN_RETENTION_DAYS)
        return {"N": str(int(expiry.timestamp()))}

    def get(self, run_id: str) -> IntakeRun | None:
        item = self.client.get_item(
            TableName=self._table, Key=self._key(run_id, RUN_SORT_KEY), ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        return IntakeRun(
            run_id=run_id,
            file_key=item["file_key"]["S"],
            source=item["source"]["S"],
            file_format=item["file_format"]["S"],
            started_at=item["started_at"]["S"],
            chunks=int(item.get("chunks", {"N": "0"})["N"]),
            rows=int(item.get("rows", {"N": "0"})["N"]),
            completed=bool(item.get("completed", {"BOOL": False})["BOOL"]),
        )

    def start(self, run: IntakeRun) -> IntakeRun:
        from botocore.exceptions import ClientError

        try:
            self.client.put_item(
                TableName=self._table,
                Item=self._key(run.run_id, RUN_SORT_KEY)
                | {
                    "file_key": {"S": run.file_key},
                    "source": {"S": run.source},
                    "file_format": {"S": run.file_format},
                    "started_at": {"S": run.started_at},
                    "chunks": {"N": "0"},
                    "rows": {"N": "0"},
                    "counted": {"N": "0"},
                    "completed": {"BOOL": False},
                    self._ttl: self._expires_at(),
                },
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": self._pk},
            )
            return run
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
        recorded = self.get(run.run_id)
        return recorded if recorded is not None else run

    def set_chunks(self, run_id: str, *, chunks: int, rows: int) -> None:
        self.client.update_item(
            TableName=self._table,
            Key=self._key(run_id, RUN_SORT_KEY),
            UpdateExpression="SET chunks = :chunks, #rows = :rows",
            ExpressionAttributeNames={"#rows": "rows"},
            ExpressionAttributeValues={":chunks": {"N": str(chunks)}, ":rows": {"N": str(rows)}},
        )

    def count_chunk(self, run_id: str, chunk: int) -> tuple[int, int]:
        from botocore.exceptions import ClientError

        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": self._key(run_id, f"CHUNK#{chunk:05d}") | {self._ttl: self._expires_at()},
                            "ConditionExpression": "attribute_not_exists(#pk)",
                            "ExpressionAttributeNames": {"#pk": self._pk},
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": self._key(run_id, RUN_SORT_KEY),
                            "UpdateExpression": "ADD counted :one",
                            "ExpressionAttributeValues": {":one": {"N": "1"}},
                        }
                    },
                ]
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons") or []]
            if reasons and "ConditionalCheckFailed" not in reasons:
                raise
            # Counted already (a repeated message): read where the run stands.
        item = self.client.get_item(TableName=self._table, Key=self._key(run_id, RUN_SORT_KEY), ConsistentRead=True)[
            "Item"
        ]
        return int(item["counted"]["N"]), int(item["chunks"]["N"])

    def mark_completed(self, run_id: str) -> None:
        self.client.update_item(
            TableName=self._table,
            Key=self._key(run_id, RUN_SORT_KEY),
            UpdateExpression="SET completed = :yes",
            ExpressionAttributeValues={":yes": {"BOOL": True}},
        )
