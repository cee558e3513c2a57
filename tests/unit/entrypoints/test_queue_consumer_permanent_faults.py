"""A record that fails the same way on every receive is dead-lettered at its first
receive, with the reason; a transient failure is retried (the record is reported
as a batch item failure) until the receive limit."""

from __future__ import annotations

import decimal
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from billbridge import bootstrap, topology
from billbridge.adapters.sqs_dead_letter_sink import SqsDeadLetterSink
from billbridge.entrypoints.queues.sqs_consumer import consume_batch

DEAD_LETTER_QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/actuals-dlq"


class RecordingSqs:
    """Stands in for the SQS client: keeps what is sent to the dead-letter queue."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_message(self, **request: Any) -> dict[str, Any]:
        self.sent.append(request)
        return {"MessageId": f"m-{len(self.sent)}"}


@dataclass
class LambdaContext:
    function_name: str = "actuals-consumer"
    aws_request_id: str = "req-1"
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:actuals-consumer"
    memory_limit_in_mb: int = 256

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def sqs_record(message_id: str, entry_id: str, *, receive_count: int) -> dict[str, Any]:
    detail = {
        "schema_version": 1,
        "correlationid": f"corr-{entry_id}",
        "delivery": {"source": "psa", "id": f"psa-{entry_id}"},
        "event": {
            "specversion": "1.0",
            "id": f"psa-{entry_id}",
            "source": "psa",
            "type": "time_entry.approved",
            "data": {
                "entry_id": entry_id,
                "revision": 1,
                "contract_id": "SOW-1",
                "resource_id": "EMP-1",
                "role": "consultant",
                "billable": True,
                "work_date": "2026-03-02",
                "hours": "8",
            },
        },
    }
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": json.dumps({"detail-type": "time_entry.approved", "detail": detail}),
        "attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:actuals",
        "awsRegion": "eu-west-1",
    }


def sqs_event(*, receive_count: int) -> dict[str, Any]:
    """One record that fails (TE-9) beside one that succeeds (TE-OK)."""
    return {
        "Records": [
            sqs_record("msg-1", "TE-9", receive_count=receive_count),
            sqs_record("msg-2", "TE-OK", receive_count=1),
        ]
    }


def failing_with(error: BaseException) -> Callable[[], Callable[[Any], object]]:
    def use_case() -> Callable[[Any], object]:
        def handle(ingested: Any) -> object:
            if ingested.data.entry_id == "TE-9":
                raise error
            return None

        return handle

    return use_case


@pytest.fixture
def dead_letter_queue(monkeypatch: pytest.MonkeyPatch) -> RecordingSqs:
    sqs = RecordingSqs()
    monkeypatch.setenv(topology.ENV_DEAD_LETTER_QUEUE_URL, DEAD_LETTER_QUEUE_URL)
    monkeypatch.setenv(topology.ENV_MAX_RECEIVE_COUNT, "5")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Billbridge")
    sink = SqsDeadLetterSink(queue_url=DEAD_LETTER_QUEUE_URL, client=sqs)
    monkeypatch.setattr(bootstrap, "dead_letter_sink", lambda: sink)
    return sqs


@pytest.mark.parametrize(
    "fault",
    [
        decimal.InvalidOperation([decimal.InvalidOperation]),  # quantize beyond 28 digits
        decimal.DivisionByZero([decimal.DivisionByZero]),
        decimal.Overflow([decimal.Overflow]),
        ZeroDivisionError("division by zero"),
    ],
    ids=["invalid-operation", "division-by-zero", "overflow", "zero-division"],
)
def test_a_decimal_fault_is_dead_lettered_at_the_first_receive_with_its_reason(
    dead_letter_queue: RecordingSqs, fault: BaseException
) -> None:
    response = consume_batch(
        sqs_event(receive_count=1), LambdaContext(), workflow="actuals", use_case=failing_with(fault)
    )

    assert response["batchItemFailures"] == [], "not retried: the same record fails the same way every time"
    assert len(dead_letter_queue.sent) == 1
    attributes = dead_letter_queue.sent[0]["MessageAttributes"]
    assert attributes["error_type"]["StringValue"] == type(fault).__name__
    assert attributes["correlation_id"]["StringValue"] == "corr-TE-9"
    assert attributes["workflow"]["StringValue"] == "actuals"


def test_a_transient_fault_is_retried_before_the_receive_limit(dead_letter_queue: RecordingSqs) -> None:
    response = consume_batch(
        sqs_event(receive_count=1),
        LambdaContext(),
        workflow="actuals",
        use_case=failing_with(ConnectionError("ledger unreachable")),
    )

    assert response["batchItemFailures"] == [{"itemIdentifier": "msg-1"}]
    assert dead_letter_queue.sent == []


def test_a_transient_fault_at_the_receive_limit_is_dead_lettered(dead_letter_queue: RecordingSqs) -> None:
    response = consume_batch(
        sqs_event(receive_count=5),
        LambdaContext(),
        workflow="actuals",
        use_case=failing_with(ConnectionError("ledger unreachable")),
    )

    assert response["batchItemFailures"] == []
    assert [m["MessageAttributes"]["error_type"]["StringValue"] for m in dead_letter_queue.sent] == ["ConnectionError"]


def test_an_event_that_breaks_the_contract_is_dead_lettered_naming_the_field_before_its_use_case(
    dead_letter_queue: RecordingSqs,
) -> None:
    """An event replayed past the webhook (an archive replay) meets the edge's model in the consumer."""
    event = sqs_event(receive_count=1)
    broken = json.loads(event["Records"][0]["body"])
    broken["detail"]["event"]["data"]["hours"] = "9" * 30
    event["Records"][0]["body"] = json.dumps(broken)
    seen: list[str] = []

    def use_case() -> Callable[[Any], object]:
        return lambda ingested: seen.append(ingested.data.entry_id)

    response = consume_batch(event, LambdaContext(), workflow="actuals", use_case=use_case)

    assert response["batchItemFailures"] == []
    assert seen == ["TE-OK"]
    (dead,) = dead_letter_queue.sent
    assert dead["MessageAttributes"]["error_type"]["StringValue"] == "InvalidEventError"
    assert "data.hours" in dead["MessageAttributes"]["error"]["StringValue"]
