"""The bulk intake's adapters on moto: runs and chunk counts in the ledger table, the intake
bucket's JSON documents, the chunk queue."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from billbridge.adapters.dynamo_intake_runs import DynamoIntakeRuns
from billbridge.adapters.s3_intake_files import S3IntakeFiles
from billbridge.adapters.sqs_chunk_queue import SqsChunkQueue
from billbridge.app.bulk_intake import ChunkTicket, IntakeRun
from billbridge.local.resources import create_ledger_table
from moto import mock_aws


@pytest.fixture
def aws(fake_aws_credentials: None) -> Iterator[dict[str, Any]]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        create_ledger_table(dynamodb, "ledger")
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="intake")
        sqs = boto3.client("sqs")
        url = sqs.create_queue(QueueName="chunks")["QueueUrl"]
        yield {"dynamodb": dynamodb, "s3": s3, "sqs": sqs, "url": url}


def test_a_chunk_is_counted_once_however_often_its_message_arrives(aws: dict[str, Any]) -> None:
    runs = DynamoIntakeRuns(table_name="ledger", client=aws["dynamodb"])
    run = IntakeRun("run-1", "intake/psa/a.csv", "psa", "csv", "2026-03-16T12:00:00+00:00")
    assert runs.start(run) == run
    assert runs.start(IntakeRun("run-1", "other", "psa", "csv", "later")).file_key == "intake/psa/a.csv"
    runs.set_chunks("run-1", chunks=2, rows=700)
    assert runs.count_chunk("run-1", 1) == (1, 2)
    assert runs.count_chunk("run-1", 1) == (1, 2)
    assert runs.count_chunk("run-1", 2) == (2, 2)
    runs.mark_completed("run-1")
    recorded = runs.get("run-1")
    assert recorded is not None and recorded.completed and recorded.rows == 700
    assert runs.get("run-2") is None


def test_a_missing_document_reads_as_none_and_a_written_one_reads_back(aws: dict[str, Any]) -> None:
    files = S3IntakeFiles(bucket_name="intake", client=aws["s3"])
    assert files.read_json("work/run-1/chunk-00001.result.json") is None
    files.write_json("work/run-1/chunk-00001.result.json", {"chunk": 1, "amount": "12.50"})
    assert files.read_json("work/run-1/chunk-00001.result.json") == {"chunk": 1, "amount": "12.50"}


def test_tickets_are_sent_ten_at_a_time_and_read_back(aws: dict[str, Any]) -> None:
    queue = SqsChunkQueue(queue_url=aws["url"], client=aws["sqs"])
    tickets = [ChunkTicket("run-1", "intake/psa/a.csv", "psa", n, 23, f"key-{n}") for n in range(1, 24)]
    queue.send(tickets)
    received: list[ChunkTicket] = []
    while True:
        messages = aws["sqs"].receive_message(QueueUrl=aws["url"], MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            break
        for message in messages:
            received.append(ChunkTicket.from_json(json.loads(message["Body"])))
            aws["sqs"].delete_message(QueueUrl=aws["url"], ReceiptHandle=message["ReceiptHandle"])
    assert sorted(received, key=lambda t: t.chunk) == tickets
