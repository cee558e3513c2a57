"""The local stack's faster stand-ins answer every request exactly as moto does.

Each check runs the same requests twice, on plain moto and inside
`faster_stand_ins()`, and compares the answers (identifiers that moto draws at
random, message ids and receipt handles, are left out)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from billbridge.local.stand_in_boundary import faster_stand_ins
from botocore.exceptions import ClientError
from moto import mock_aws

pytestmark = pytest.mark.usefixtures("fake_aws_credentials")


def both_ways(exercise: Callable[[], Any]) -> tuple[Any, Any]:
    with mock_aws():
        plain = exercise()
    with mock_aws(), faster_stand_ins():
        faster = exercise()
    return plain, faster


def s(value: str) -> dict[str, str]:
    return {"S": value}


def ledger_like_table(client: Any) -> None:
    client.create_table(
        TableName="ledger",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "lookup", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-lookup",
                "KeySchema": [{"AttributeName": "lookup", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    client.create_table(
        TableName="flat",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for contract in ("C1", "C2", "C3"):
        for n in (3, 1, 12, 2):
            item = {"pk": s(f"CONTRACT#{contract}"), "sk": s(f"IN#time#TE-{n:02d}"), "n": {"N": str(n)}}
            if n % 2:
                item["lookup"] = s(f"ENTRY#{n}")
            client.put_item(TableName="ledger", Item=item)
        client.put_item(TableName="ledger", Item={"pk": s(f"CONTRACT#{contract}"), "sk": s("HEAD"), "n": {"N": "0"}})
        client.put_item(TableName="flat", Item={"id": s(contract), "v": s(contract.lower())})


def query_everything() -> list[Any]:
    client = boto3.client("dynamodb")
    ledger_like_table(client)
    answers: list[Any] = []

    def query(**request: Any) -> None:
        pages, key = [], None
        while True:
            answer = client.query(**request, **({"ExclusiveStartKey": key} if key else {}))
            pages.append({k: answer.get(k) for k in ("Items", "Count", "ScannedCount", "LastEvaluatedKey")})
            key = answer.get("LastEvaluatedKey")
            if not key:
                break
        answers.append(pages)

    partition = {"#pk": "pk"}
    query(
        TableName="ledger",
        KeyConditionExpression="#pk = :p",
        ExpressionAttributeNames=partition,
        ExpressionAttributeValues={":p": s("CONTRACT#C2")},
    )
    query(
        TableName="ledger",
        KeyConditionExpression="pk = :p AND begins_with(sk, :b)",
        ExpressionAttributeValues={":p": s("CONTRACT#C1"), ":b": s("IN#time#")},
    )
    query(
        TableName="ledger",
        KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :z",
        ExpressionAttributeValues={":p": s("CONTRACT#C3"), ":a": s("IN#time#TE-02"), ":z": s("IN#time#TE-12")},
    )
    query(
        TableName="ledger",
        KeyConditionExpression="pk = :p AND sk > :a",
        ExpressionAttributeValues={":p": s("CONTRACT#C1"), ":a": s("IN#time#TE-01")},
        ScanIndexForward=False,
    )
    query(
        TableName="ledger",
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": s("CONTRACT#C1")},
        Limit=2,
    )
    query(
        TableName="ledger",
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": s("CONTRACT#C2")},
        Limit=2,
        ScanIndexForward=False,
    )
    query(
        TableName="ledger",
        KeyConditionExpression="pk = :p",
        FilterExpression="n > :two",
        ExpressionAttributeValues={":p": s("CONTRACT#C2"), ":two": {"N": "2"}},
        ProjectionExpression="sk, n",
    )
    query(TableName="ledger", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": s("CONTRACT#NONE")})
    query(
        TableName="ledger",
        IndexName="by-lookup",
        KeyConditionExpression="lookup = :l",
        ExpressionAttributeValues={":l": s("ENTRY#3")},
    )
    query(TableName="flat", KeyConditionExpression="id = :i", ExpressionAttributeValues={":i": s("C2")})
    answers.append(client.scan(TableName="ledger")["Items"])
    return answers


def test_queries_answer_as_moto_does() -> None:
    plain, faster = both_ways(query_everything)
    assert faster == plain
    assert [len(page["Items"]) for page in plain[0]] == [5]


def transactions() -> list[Any]:
    client = boto3.client("dynamodb")
    ledger_like_table(client)
    answers: list[Any] = []
    head = {"pk": s("CONTRACT#C1"), "sk": s("HEAD")}
    try:
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "ledger", "Item": {**head, "n": {"N": "9"}}}},
                {"Delete": {"TableName": "ledger", "Key": {"pk": s("CONTRACT#C2"), "sk": s("HEAD")}}},
                {
                    "Put": {
                        "TableName": "ledger",
                        "Item": {"pk": s("CONTRACT#C9"), "sk": s("HEAD")},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    except ClientError as error:
        answers.append(error.response["Error"]["Code"])
    client.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": "ledger",
                    "Key": head,
                    "UpdateExpression": "SET n = :n",
                    "ExpressionAttributeValues": {":n": {"N": "5"}},
                }
            }
        ]
    )
    answers.append(client.scan(TableName="ledger")["Items"])
    return answers


def test_transactions_stay_all_or_nothing_as_moto_keeps_them() -> None:
    plain, faster = both_ways(transactions)
    assert faster == plain
    assert plain[0] == "TransactionCanceledException"


def indexed_table(client: Any) -> None:
    client.create_table(
        TableName="indexed",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "gpk", "gsk", "lookup")
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-group",
                "KeySchema": [
                    {"AttributeName": "gpk", "KeyType": "HASH"},
                    {"AttributeName": "gsk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": "by-lookup",
                "KeySchema": [{"AttributeName": "lookup", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def index_queries_while_writing() -> list[Any]:
    """Index partitions queried after every kind of write that can give, change or take an index key."""
    client = boto3.client("dynamodb")
    indexed_table(client)
    answers: list[Any] = []

    def item(pk: str, sk: str, **attributes: str) -> dict[str, Any]:
        return {"pk": s(pk), "sk": s(sk), **{name: s(value) for name, value in attributes.items()}}

    def key(pk: str, sk: str) -> dict[str, Any]:
        return {"pk": s(pk), "sk": s(sk)}

    def regroup(pk: str, sk: str, group: str) -> dict[str, Any]:
        """A transaction's update moving an item to another partition of the index."""
        update = {"UpdateExpression": "SET gpk = :g", "ExpressionAttributeValues": {":g": s(group)}}
        return {"Update": {"TableName": "indexed", "Key": key(pk, sk), **update}}

    def look() -> None:
        for group in ("G1", "G2", "G3"):
            pages, start = [], None
            while True:
                answer = client.query(
                    TableName="indexed",
                    IndexName="by-group",
                    KeyConditionExpression="gpk = :g",
                    ExpressionAttributeValues={":g": s(group)},
                    Limit=2,
                    **({"ExclusiveStartKey": start} if start else {}),
                )
                pages.append({k: answer.get(k) for k in ("Items", "Count", "ScannedCount", "LastEvaluatedKey")})
                start = answer.get("LastEvaluatedKey")
                if not start:
                    break
            answers.append(pages)
        answers.append(
            client.query(
                TableName="indexed",
                IndexName="by-group",
                KeyConditionExpression="gpk = :g AND begins_with(gsk, :b)",
                ExpressionAttributeValues={":g": s("G1"), ":b": s("2026-03")},
                ScanIndexForward=False,
            )["Items"]
        )
        answers.append(
            client.query(
                TableName="indexed",
                IndexName="by-lookup",
                KeyConditionExpression="lookup = :l",
                ExpressionAttributeValues={":l": s("CONTRACTS")},
            )["Items"]
        )

    for n in range(6):
        group = {"gpk": f"G{1 + n % 2}", "gsk": f"2026-0{3 + n % 3}-1{n}"}
        client.put_item(TableName="indexed", Item=item(f"C#{n % 3}", f"IN#{n}", **group))
        client.put_item(TableName="indexed", Item=item(f"C#{n % 3}", "KNOWN", lookup="CONTRACTS"))
    client.put_item(TableName="indexed", Item=item("C#9", "IN#9"))
    look()  # the index maps are built here; every write below must keep them right
    client.update_item(
        TableName="indexed",
        Key=key("C#9", "IN#9"),
        UpdateExpression="SET gpk = :g, gsk = :k",
        ExpressionAttributeValues={":g": s("G1"), ":k": s("2026-03-31")},
    )
    client.update_item(
        TableName="indexed",
        Key=key("C#0", "IN#0"),
        UpdateExpression="SET gpk = :g",
        ExpressionAttributeValues={":g": s("G2")},
    )
    client.update_item(TableName="indexed", Key=key("C#1", "IN#1"), UpdateExpression="REMOVE gpk")
    client.update_item(
        TableName="indexed",
        Key=key("C#7", "NEW"),
        UpdateExpression="SET gpk = :g, gsk = :k",
        ExpressionAttributeValues={":g": s("G3"), ":k": s("2026-04-01")},
    )
    look()
    client.delete_item(TableName="indexed", Key=key("C#2", "IN#2"))
    client.put_item(TableName="indexed", Item=item("C#3", "IN#3"))  # overwritten without its index keys
    client.put_item(TableName="indexed", Item=item("C#1", "KNOWN"))
    look()
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": "indexed", "Item": item("C#8", "IN#8", gpk="G1", gsk="2026-03-02")}},
            regroup("C#4", "IN#4", "G3"),
            {"Delete": {"TableName": "indexed", "Key": key("C#5", "IN#5")}},
        ]
    )
    try:
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "indexed", "Item": item("C#6", "IN#6", gpk="G3", gsk="2026-05-01")}},
                regroup("C#8", "IN#8", "G3"),
                {
                    "Put": {
                        "TableName": "indexed",
                        "Item": item("C#0", "IN#0"),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    except ClientError as error:
        answers.append(error.response["Error"]["Code"])
    client.batch_write_item(
        RequestItems={
            "indexed": [
                {"PutRequest": {"Item": item("C#6", "IN#10", gpk="G2", gsk="2026-03-05")}},
                {"DeleteRequest": {"Key": key("C#9", "IN#9")}},
            ]
        }
    )
    look()
    return answers


def test_index_queries_answer_as_moto_does_whatever_the_writes_between_them() -> None:
    plain, faster = both_ways(index_queries_while_writing)
    assert faster == plain
    assert "TransactionCanceledException" in plain
    first_look_of_g1 = plain[0]
    assert [len(page["Items"]) for page in first_look_of_g1] == [2, 1]


def test_an_index_query_reads_only_its_partition() -> None:
    """Within the stand-ins, an index `Query` never asks moto for every item of the table."""
    from moto.dynamodb.models.table import Table

    def exercise() -> int:
        client = boto3.client("dynamodb")
        indexed_table(client)
        for n in range(20):
            client.put_item(TableName="indexed", Item={"pk": s(f"C#{n}"), "sk": s("KNOWN"), "lookup": s("CONTRACTS")})
        walked = 0
        walking = Table.all_items

        def counted(table: Table) -> Any:
            nonlocal walked
            items = walking(table)
            walked += len(items)
            return items

        Table.all_items = counted  # type: ignore[method-assign]
        try:
            for _ in range(3):
                found = client.query(
                    TableName="indexed",
                    IndexName="by-lookup",
                    KeyConditionExpression="lookup = :l",
                    ExpressionAttributeValues={":l": s("CONTRACTS")},
                )["Items"]
                assert len(found) == 20
                client.put_item(TableName="indexed", Item={"pk": s("C#x"), "sk": s("IN#1"), "gpk": s("G9")})
            client.query(
                TableName="indexed",
                IndexName="by-lookup",
                KeyConditionExpression="lookup = :l",
                ExpressionAttributeValues={":l": s("NONE")},
            )
        finally:
            Table.all_items = walking  # type: ignore[method-assign]
        return walked

    with mock_aws():
        plain = exercise()
    with mock_aws(), faster_stand_ins():
        faster = exercise()
    assert plain == 20 + 21 + 21 + 21  # moto: every item of the table, at every query
    assert faster == 20 + 20 + 20 + 0  # the stand-in: the items of the partition asked for


def queue_traffic() -> list[Any]:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="work")["QueueUrl"]
    answers: list[Any] = []
    for n in range(25):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{n:02d}", DelaySeconds=600 if n % 7 == 0 else 0)

    def counts() -> None:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        answers.append({k: v for k, v in attributes.items() if k.startswith("Approximate")})

    counts()
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30)["Messages"]
    answers.append(sorted(m["Body"] for m in first))
    counts()
    second = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30)["Messages"]
    answers.append(sorted(m["Body"] for m in second))
    entries = [{"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(first[:6])]
    entries.append({"Id": "unknown", "ReceiptHandle": "not-a-handle"})
    deleted = sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    answers.append(
        (
            sorted(s["Id"] for s in deleted.get("Successful", [])),
            sorted((f["Id"], f["Code"], f["SenderFault"]) for f in deleted.get("Failed", [])),
        )
    )
    again = sqs.delete_message_batch(QueueUrl=url, Entries=entries[:2])
    answers.append(sorted(s["Id"] for s in again.get("Successful", [])))
    sqs.change_message_visibility_batch(
        QueueUrl=url,
        Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for i, m in enumerate(second[:3])
        ],
    )
    counts()
    third = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    answers.append(sorted(m["Body"] for m in third))
    counts()
    return answers


def test_queues_answer_as_moto_does() -> None:
    plain, faster = both_ways(queue_traffic)
    assert faster == plain
    assert plain[0]["ApproximateNumberOfMessagesDelayed"] == "4"


def bus_traffic() -> list[Any]:
    """Events through rules that match, do not match and filter on content; refused and malformed entries."""
    events = boto3.client("events")
    sqs = boto3.client("sqs")
    events.create_event_bus(Name="bus")
    urls = {}
    patterns = {
        "by-source": {"source": ["billbridge.psa"]},
        "by-type": {"detail-type": ["TimeApproved", "ExpenseApproved"]},
        "by-content": {"source": ["billbridge.psa"], "detail": {"kind": ["expense"], "hours": [{"numeric": [">", 2]}]}},
        "by-prefix": {"detail": {"contract_id": [{"prefix": "SOW-"}], "missing": [{"exists": False}]}},
        "never": {"source": ["billbridge.nobody"]},
    }
    for name, pattern in patterns.items():
        urls[name] = sqs.create_queue(QueueName=f"q-{name}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=urls[name], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name=name, EventBusName="bus", EventPattern=json.dumps(pattern))
        events.put_targets(Rule=name, EventBusName="bus", Targets=[{"Id": "q", "Arn": arn}])
    events.put_rule(Name="any-psa", EventBusName="bus", EventPattern=json.dumps({"source": ["billbridge.psa"]}))
    events.put_targets(
        Rule="any-psa",
        EventBusName="bus",
        Targets=[
            {
                "Id": "shaped",
                "Arn": sqs.get_queue_attributes(QueueUrl=urls["never"], AttributeNames=["QueueArn"])["Attributes"][
                    "QueueArn"
                ],
                "InputTransformer": {"InputPathsMap": {"c": "$.detail.contract_id"}, "InputTemplate": '"<c>"'},
            }
        ],
    )
    packed = {"kind": "time", "contract_id": "SOW-1", "entries": [{"n": n, "hours": "1.5"} for n in range(400)]}
    answers: list[Any] = []
    for entries in (
        [
            {
                "Source": "billbridge.psa",
                "DetailType": "TimeApproved",
                "Detail": json.dumps(packed),
                "EventBusName": "bus",
            },
            {
                "Source": "billbridge.psa",
                "DetailType": "Other",
                "Detail": '{"kind": "expense", "hours": 3}',
                "EventBusName": "bus",
            },
            {
                "Source": "billbridge.psa",
                "DetailType": "Other",
                "Detail": '{"kind": "expense", "hours": 1}',
                "EventBusName": "bus",
            },
            {
                "Source": "billbridge.clm",
                "DetailType": "ExpenseApproved",
                "Detail": '{"contract_id": "X-1"}',
                "EventBusName": "bus",
            },
            {
                "Source": "billbridge.clm",
                "DetailType": "Signed",
                "Detail": '{"contract_id": "SOW-2", "missing": 1}',
                "EventBusName": "bus",
            },
            {"Source": "billbridge.clm", "DetailType": "Signed", "Detail": "{not json", "EventBusName": "bus"},
            {"Source": "billbridge.clm", "Detail": "{}", "EventBusName": "bus"},
        ],
        [{"Source": "billbridge.psa", "DetailType": "TimeApproved", "Detail": "{}"}] * 11,
    ):
        try:
            answer = events.put_events(Entries=entries)
            answers.append((answer["FailedEntryCount"], [sorted(e) for e in answer["Entries"]]))
            answers.append([e.get("ErrorCode") for e in answer["Entries"]])
        except ClientError as error:
            answers.append((error.response["Error"]["Code"], error.response["Error"]["Message"]))
    for name, url in urls.items():
        bodies = []
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                body = json.loads(message["Body"])
                if isinstance(body, dict):
                    body = {k: v for k, v in body.items() if k not in ("id", "time", "ingestion-time")}
                bodies.append(body)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        answers.append((name, sorted(bodies, key=json.dumps)))
    return answers


def test_bus_deliveries_answer_as_moto_does() -> None:
    plain, faster = both_ways(bus_traffic)
    assert faster == plain
    delivered = dict(
        a for a in plain if isinstance(a, tuple) and a[0] in ("by-source", "by-content", "by-prefix", "never")
    )
    assert len(delivered["by-source"]) == 3
    assert [m["detail"]["hours"] for m in delivered["by-content"]] == [3]
    assert [m["detail"]["contract_id"] for m in delivered["by-prefix"]] == ["SOW-1"]
    assert delivered["never"] == ["<c>", "<c>", "SOW-1"]  # only the transformed target of the other rule


def other_services() -> list[Any]:
    """The services the handlers call besides DynamoDB and SQS, in two regions, errors included."""
    answers: list[Any] = []
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="raw")
    s3.put_object(Bucket="raw", Key="psa/2026/03/a b+c.json", Body=b'{"n": 1}')
    answers.append(s3.get_object(Bucket="raw", Key="psa/2026/03/a b+c.json")["Body"].read())
    answers.append([o["Key"] for o in s3.list_objects_v2(Bucket="raw", Prefix="psa/")["Contents"]])
    try:
        s3.get_object(Bucket="raw", Key="missing")
    except ClientError as error:
        answers.append(error.response["Error"]["Code"])
    secrets = boto3.client("secretsmanager")
    arn = secrets.create_secret(Name="hooks", SecretString='{"psa": ["whsec_1"]}')["ARN"]
    answers.append((arn.split(":")[3], secrets.get_secret_value(SecretId="hooks")["SecretString"]))
    events = boto3.client("events")
    events.create_event_bus(Name="bus")
    answers.append(
        events.put_events(
            Entries=[{"Source": "billbridge.test", "DetailType": "Tested", "Detail": "{}", "EventBusName": "bus"}]
        )["FailedEntryCount"]
    )
    elsewhere = boto3.client("sqs", region_name="eu-west-1")
    url = elsewhere.create_queue(QueueName="far")["QueueUrl"]
    answers.append((url, boto3.client("sqs").list_queues().get("QueueUrls", [])))
    try:
        boto3.client("dynamodb").describe_table(TableName="absent")
    except ClientError as error:
        answers.append((error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"]))
    dynamodb = boto3.client("dynamodb")
    ledger_like_table(dynamodb)
    for n in (1, 2, 2):  # the same update expression again, then refused by its condition
        try:
            answers.append(
                dynamodb.update_item(
                    TableName="flat",
                    Key={"id": s("C1")},
                    UpdateExpression="SET #n = :n, seen = list_append(if_not_exists(seen, :none), :one) REMOVE v",
                    ConditionExpression="attribute_not_exists(#n) OR #n < :n",
                    ExpressionAttributeNames={"#n": "n"},
                    ExpressionAttributeValues={":n": {"N": str(n)}, ":none": {"L": []}, ":one": {"L": [s("x")]}},
                    ReturnValues="ALL_NEW",
                )["Attributes"]
            )
        except ClientError as error:
            answers.append(error.response["Error"]["Code"])
    conditions = (
        "attribute_exists(v) AND (n BETWEEN :lo AND :hi OR begins_with(id, :p))",
        "attribute_not_exists(id) OR n > :hi",
    )
    for condition in conditions:
        for _ in range(2):  # the same expression again: the same answer
            try:
                dynamodb.put_item(
                    TableName="flat",
                    Item={"id": s("C2"), "n": {"N": "5"}},
                    ConditionExpression=condition,
                    ExpressionAttributeValues={":lo": {"N": "1"}, ":hi": {"N": "9"}, ":p": s("C")},
                )
                answers.append(("put", condition))
            except ClientError as error:
                answers.append((error.response["Error"]["Code"], error.response["Error"]["Message"]))
    try:
        dynamodb.update_item(TableName="flat", Key={"id": s("C1")}, UpdateExpression="SET = :n")
    except ClientError as error:
        answers.append((error.response["Error"]["Code"], error.response["Error"]["Message"]))
    return answers


def test_other_services_answer_as_moto_does() -> None:
    plain, faster = both_ways(other_services)
    assert faster == plain
    assert plain[0] == b'{"n": 1}'
    assert plain[-9] == ("ResourceNotFoundException", 400)
    assert plain[-6] == "ConditionalCheckFailedException"
    assert plain[-5][0] == "put"  # the condition held once, then not (the put removed `v`)
    assert [a[0] for a in plain[-4:-1]] == ["ConditionalCheckFailedException"] * 3
    assert plain[-1][0] == "ValidationException"


def test_calls_carry_the_headers_of_a_signed_call_without_computing_its_signature() -> None:
    from billbridge.local.in_process_dispatch import PLACEHOLDER_SIGNATURE
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    def signed() -> AWSRequest:
        request = AWSRequest(
            method="POST",
            url="https://dynamodb.eu-west-1.amazonaws.com/",
            headers={
                "X-Amz-Target": "DynamoDB_20120810.GetItem",
                "Content-Type": "application/x-amz-json-1.0",
                "User-Agent": "Boto3/1 md/Botocore#1",
                "Expect": "100-continue",
                "traceparent": "00-1-2-01",
            },
            data=b"{}",
        )
        SigV4Auth(Credentials("AKIDLOCAL", "secret", "token"), "dynamodb", "eu-west-1").add_auth(request)
        return request

    real = signed()
    with faster_stand_ins():
        local = signed()
    assert real.headers["Authorization"].split(", ")[:2] == local.headers["Authorization"].split(", ")[:2]
    assert local.headers["Authorization"].endswith(f"Signature={PLACEHOLDER_SIGNATURE}")
    assert not real.headers["Authorization"].endswith(f"Signature={PLACEHOLDER_SIGNATURE}")
    assert local.headers["X-Amz-Security-Token"] == real.headers["X-Amz-Security-Token"] == "token"
    assert "X-Amz-Date" in local.headers


def test_moto_is_itself_again_outside() -> None:
    from botocore.auth import SigV4Auth
    from moto.core.botocore_stubber import BotocoreStubber
    from moto.core.serialize import ResponseSerializer
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]
    from moto.events.models import EventPattern, EventsBackend
    from moto.sqs.models import Queue

    def installed() -> tuple[Any, ...]:
        return (
            Table.query,
            Table.all_items,
            Queue.__dict__["messages"],
            BotocoreStubber.process_request,
            SigV4Auth.add_auth,
            EventsBackend.put_events,
            EventPattern.matches_event,
            ResponseSerializer.get_value,
            UpdateExpressionParser.__dict__["make"],
        )

    before = installed()
    with faster_stand_ins(), faster_stand_ins():
        assert all(now is not then for now, then in zip(installed(), before, strict=True))
    assert installed() == before


def prepared_requests() -> list[Any]:
    """The requests botocore hands to moto for the JSON-protocol calls the handlers make (and two others)."""
    from moto.core.botocore_stubber import BotocoreStubber

    seen: list[Any] = []
    original = BotocoreStubber.process_request

    def capture(stubber: Any, request: Any) -> Any:
        seen.append(request)
        return original(stubber, request)

    BotocoreStubber.process_request = capture  # type: ignore[method-assign]
    try:
        with mock_aws():
            dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
            ledger_like_table(dynamodb)
            dynamodb.get_item(TableName="ledger", Key={"pk": s("CONTRACT#C1"), "sk": s("HEAD")})
            events = boto3.client("events")
            events.create_event_bus(Name="bus")
            events.put_events(Entries=[{"Source": "billbridge.t", "DetailType": "Tëst", "Detail": '{"n": "é"}'}])
            sqs = boto3.client("sqs")
            url = sqs.create_queue(QueueName="q")["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody="ü")
            sqs.receive_message(QueueUrl=url)
            boto3.client("secretsmanager").create_secret(Name="hooks", SecretString="{}")
            s3 = boto3.client("s3")
            s3.create_bucket(Bucket="raw")
            s3.put_object(Bucket="raw", Key="a b.json", Body=b"{}")
    finally:
        BotocoreStubber.process_request = original  # type: ignore[method-assign]
    return seen


def comparable(environ: dict[str, Any]) -> dict[str, Any]:
    values = {k: v for k, v in environ.items() if k not in ("wsgi.input", "werkzeug.request")}
    values["body"] = environ["wsgi.input"].getvalue()
    return values


def test_json_protocol_calls_reach_moto_as_the_request_moto_builds() -> None:
    from billbridge.local.in_process_dispatch import json_protocol_request
    from moto.core.request import normalize_request

    requests = prepared_requests()
    built = [(request, json_protocol_request(request)) for request in requests]
    direct = [(request, local) for request, local in built if local is not None]
    assert len(direct) >= len(requests) - 3  # all but S3's
    assert all("s3" in request.url for request, local in built if local is None)
    for request, local in direct:
        theirs = normalize_request(request)
        assert comparable(local.environ) == comparable(theirs.environ)
        assert (local.url, local.raw_url, local.data, dict(local.headers)) == (
            theirs.url,
            theirs.raw_url,
            theirs.data,
            dict(theirs.headers),
        )
        assert (local.form, local.files, local.values, type(local.form)) == (
            theirs.form,
            theirs.files,
            theirs.values,
            type(theirs.form),
        )
