"""The stand-ins' boundary: concurrent callers are serialized, transactions stay
all-or-nothing, and the items each write targets are recorded for the store."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from billbridge.local.stack import LocalStack
from billbridge.local.stand_in_boundary import canonical_key, written_keys
from botocore.exceptions import ClientError
from conftest import billing_template


def key(pk: str, sk: str = "BOOK") -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def test_a_cancelled_transaction_leaves_every_item_as_it_was() -> None:
    with LocalStack(template=billing_template()) as stack:
        client, table = stack.client("dynamodb"), stack.names.ledger_table
        client.put_item(TableName=table, Item={**key("a"), "v": {"N": "1"}})
        with pytest.raises(ClientError, match="TransactionCanceled"):
            client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": table, "Item": {**key("a"), "v": {"N": "2"}}}},
                    {"Put": {"TableName": table, "Item": key("new")}},
                    {
                        "Put": {
                            "TableName": table,
                            "Item": key("b"),
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                ]
            )
        assert client.scan(TableName=table)["Items"] == [{**key("a"), "v": {"N": "1"}}]
        client.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": key("new")}}])
        assert len(client.scan(TableName=table)["Items"]) == 2


def test_parallel_transactions_from_many_threads_all_land() -> None:
    with LocalStack(template=billing_template()) as stack:
        client, table = stack.client("dynamodb"), stack.names.ledger_table

        def write(n: int) -> None:
            client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": table, "Item": {**key(f"C#{n}"), "n": {"N": str(n)}}}},
                    {"Put": {"TableName": table, "Item": key(f"C#{n}", "AUDIT#1")}},
                ]
            )

        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(write, range(200)))
        assert len(client.scan(TableName=table)["Items"]) == 400


def test_write_requests_name_the_items_they_target() -> None:
    tables = {"t": ("pk", "sk")}
    assert written_keys("PutItem", {"TableName": "t", "Item": {**key("a"), "x": {"S": "1"}}}, tables) == [
        ("t", canonical_key(key("a")))
    ]
    transaction = {
        "TransactItems": [
            {"Update": {"TableName": "t", "Key": key("b")}},
            {"ConditionCheck": {"TableName": "t", "Key": key("c")}},
            {"Delete": {"TableName": "other", "Key": key("d")}},
        ]
    }
    assert written_keys("TransactWriteItems", transaction, tables) == [("t", canonical_key(key("b")))]
    batch = {"RequestItems": {"t": [{"PutRequest": {"Item": key("e")}}, {"DeleteRequest": {"Key": key("f")}}]}}
    assert written_keys("BatchWriteItem", batch, tables) == [
        ("t", canonical_key(key("e"))),
        ("t", canonical_key(key("f"))),
    ]
