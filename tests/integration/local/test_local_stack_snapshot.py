"""The store carries tables (typed), raw payloads and queued messages to a new local stack."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from billbridge import topology
from billbridge.local.stack import LocalStack
from billbridge.local.store import LocalStore, default_state_path
from conftest import SECRETS, STANDINS, billing_template

ITEM = {
    "pk": {"S": "CONTRACT#SOW-1"},
    "sk": {"S": "VERSION#0001"},
    "gsi1pk": {"S": "CUSTOMER#ACME"},
    "gsi1sk": {"S": "SOW-1"},
    "amount": {"N": "1250.00"},
    "active": {"BOOL": True},
    "note": {"NULL": True},
    "tags": {"SS": ["a", "b"]},
    "digest": {"B": b"\x00\x01\xff"},
    "lines": {"L": [{"M": {"hours": {"N": "7.5"}, "role": {"S": "architect"}}}]},
}


def test_snapshot_round_trips_items_objects_and_messages(tmp_path: Path) -> None:
    state = tmp_path / "state" / "local.sqlite"
    with LocalStack(secrets=SECRETS, handlers=STANDINS, template=billing_template(), state_file=state) as first:
        first.client("dynamodb").put_item(TableName=first.names.ledger_table, Item=ITEM)
        first.client("s3").put_object(
            Bucket=first.names.raw_bucket, Key="clm/2026/msg_1.json", Body=b"\x00raw\xff", ContentType="x/y"
        )
        actuals = next(w for w in topology.WORKFLOWS if w.name == "actuals")
        sqs = first.client("sqs")
        sqs.send_message(
            QueueUrl=first.queue_url(first.names.dead_letter_queue(actuals)),
            MessageBody=json.dumps({"detail": {"id": "TE-2"}}),
            MessageAttributes={"ErrorType": {"DataType": "String", "StringValue": "ValidationError"}},
        )
        sqs.send_message(QueueUrl=first.queue_url(first.names.queue(actuals)), MessageBody='{"pending": true}')
        saved = first.save()

    with LocalStack(secrets=SECRETS, handlers=STANDINS, template=billing_template(), state_file=state) as second:
        dynamodb = second.client("dynamodb")
        item = dynamodb.get_item(TableName=second.names.ledger_table, Key={k: ITEM[k] for k in ("pk", "sk")})
        by_lookup = dynamodb.query(
            TableName=second.names.ledger_table,
            IndexName=topology.LEDGER_LOOKUP_INDEX,
            KeyConditionExpression="gsi1pk = :p",
            ExpressionAttributeValues={":p": {"S": "CUSTOMER#ACME"}},
        )["Items"]
        raw = second.client("s3").get_object(Bucket=second.names.raw_bucket, Key="clm/2026/msg_1.json")
        (dead,) = second.dead_letters("actuals")
        pending = second.client("sqs").receive_message(QueueUrl=second.queue_url(second.names.queue(actuals)))

    assert saved == state
    assert item["Item"] == ITEM
    assert Decimal(by_lookup[0]["amount"]["N"]) == Decimal("1250.00")
    assert (raw["Body"].read(), raw["ContentType"]) == (b"\x00raw\xff", "x/y")
    assert json.loads(dead["body"]) == {"detail": {"id": "TE-2"}}
    assert dead["messageAttributes"]["ErrorType"]["StringValue"] == "ValidationError"
    assert [m["Body"] for m in pending["Messages"]] == ['{"pending": true}']


def test_a_fresh_stack_without_state_file_is_empty(tmp_path: Path) -> None:
    with LocalStack(template=billing_template(), state_file=tmp_path / "absent.json") as stack:
        assert stack.client("dynamodb").scan(TableName=stack.names.ledger_table)["Items"] == []
    with LocalStore(tmp_path / "absent.json") as store:
        assert store.generation() == 0


def test_default_state_path_is_configurable_by_environment(tmp_path: Path) -> None:
    assert default_state_path({}) == Path.cwd() / ".billbridge" / "local-state.sqlite"
    assert default_state_path({"BILLBRIDGE_LOCAL_STATE": str(tmp_path / "s.json")}) == tmp_path / "s.json"
