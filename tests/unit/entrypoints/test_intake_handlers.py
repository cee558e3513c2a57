"""The intake functions' edges: the S3 event they are given, partial batch failures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from billbridge.app.bulk_intake import ChunkOutcome, ChunkResult, SplitOutcome
from billbridge.entrypoints.queues import ingest_intake_chunk, split_intake_file

# The documented shape of S3's `Object Created` event on EventBridge
# (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html).
OBJECT_CREATED = {
    "version": "0",
    "id": "17793124-05d4-b198-2fde-7ededc63b103",
    "detail-type": "Object Created",
    "source": "aws.s3",
    "account": "111122223333",
    "time": "2021-11-12T00:00:00Z",
    "region": "ca-central-1",
    "resources": ["arn:aws:s3:::example-bucket"],
    "detail": {
        "version": "0",
        "bucket": {"name": "example-bucket"},
        "object": {
            "key": "intake/psa/2026-03 timesheets.csv",
            "size": 5,
            "etag": "b1946ac92492d2347c6235b4d2611184",
            "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
            "sequencer": "00617F08299329D189",
        },
        "request-id": "N4N7GDK58NMKJ12R",
        "requester": "123456789012",
        "source-ip-address": "1.2.3.4",
        "reason": "PutObject",
    },
}


@pytest.fixture(autouse=True)
def _metrics_namespace(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Billbridge")
    yield


class Context:
    function_name = "intake"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:ca-central-1:111122223333:function:intake"
    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def sqs_event(*bodies: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m-{i}",
                "receiptHandle": f"h-{i}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:ca-central-1:111122223333:intake",
                "awsRegion": "ca-central-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


def test_the_drop_is_read_from_the_documented_s3_event() -> None:
    drop = split_intake_file.drop_of(json.dumps(OBJECT_CREATED))
    assert (drop.bucket, drop.key, drop.drop_id) == (
        "example-bucket",
        "intake/psa/2026-03 timesheets.csv",
        "00617F08299329D189",
    )


class RecordingSplit:
    def __init__(self) -> None:
        self.drops: list[Any] = []

    def handle(self, drop: Any) -> SplitOutcome:
        self.drops.append(drop)
        return SplitOutcome(drop.run_id, chunks=1, rows=5)


def test_an_unreadable_message_fails_alone_and_the_others_are_split() -> None:
    split = RecordingSplit()
    response = split_intake_file.lambda_handler(
        sqs_event("not json", json.dumps(OBJECT_CREATED)), Context(), use_case=split
    )
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    assert [d.key for d in split.drops] == ["intake/psa/2026-03 timesheets.csv"]


class FailingChunk:
    def handle(self, ticket: Any) -> ChunkOutcome:
        if ticket.chunk == 2:
            raise ConnectionError("ledger unreachable")
        return ChunkOutcome(ChunkResult(chunk=ticket.chunk, rows=1, accepted=1))


def test_a_chunk_whose_dependencies_fail_is_reported_for_retry() -> None:
    tickets = [
        json.dumps(
            {
                "run_id": "r",
                "file_key": "intake/psa/a.csv",
                "source": "psa",
                "chunk": n,
                "chunks": 2,
                "chunk_key": f"k{n}",
            }
        )
        for n in (1, 2)
    ]
    response = ingest_intake_chunk.lambda_handler(sqs_event(*tickets), Context(), use_case=FailingChunk())
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}


def test_the_intake_functions_are_built_without_the_webhook_secret() -> None:
    from billbridge.bootstrap import ingest_intake_chunk, split_intake_file
    from billbridge.settings import HubSettings

    settings = HubSettings(
        ledger_table_name="ledger",
        raw_payload_bucket_name="raw",
        event_bus_name="bus",
        intake_bucket_name="intake",
        intake_chunk_queue_url="https://sqs.example/chunks",
    )
    assert settings.webhook_secrets_arn == ""
    assert split_intake_file(settings) is not None
    assert ingest_intake_chunk(settings) is not None
