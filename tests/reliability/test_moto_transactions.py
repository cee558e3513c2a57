"""The item-level rollback stand-in keeps TransactWriteItems all-or-nothing."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from tests.reliability.moto_transactions import item_level_transaction_rollback


def test_a_cancelled_transaction_leaves_every_item_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws(), item_level_transaction_rollback():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        client.put_item(TableName="t", Item={"pk": {"S": "a"}, "sk": {"S": "1"}, "v": {"N": "1"}})
        with pytest.raises(ClientError, match="TransactionCanceled"):
            client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": "t", "Item": {"pk": {"S": "a"}, "sk": {"S": "1"}, "v": {"N": "2"}}}},
                    {"Put": {"TableName": "t", "Item": {"pk": {"S": "new"}, "sk": {"S": "1"}}}},
                    {
                        "Put": {
                            "TableName": "t",
                            "Item": {"pk": {"S": "b"}, "sk": {"S": "1"}},
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                ]
            )
        items = client.scan(TableName="t")["Items"]
        assert items == [{"pk": {"S": "a"}, "sk": {"S": "1"}, "v": {"N": "1"}}]
        client.transact_write_items(
            TransactItems=[{"Put": {"TableName": "t", "Item": {"pk": {"S": "new"}, "sk": {"S": "1"}}}}]
        )
        assert len(client.scan(TableName="t")["Items"]) == 2
