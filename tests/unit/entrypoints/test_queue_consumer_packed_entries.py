"""A packed bus entry (canonical events of one type delivered together, docs/spec/events.md)
is applied event by event: a bad event is dead-lettered alone, as an ordinary message; a
transient fault retries the whole record, and only at the receive limit are the failing
events dead-lettered (each once)."""

from __future__ import annotations

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


def time_entry_detail(entry_id: str, *, hours: str = "8") -> dict[str, Any]:
    return {
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
                "hours": hours,
            },
        },
    }


def packed_record(details: list[dict[str, Any]], *, receive_count: int = 1) -> dict[str, Any]:
    body = {
        "version": "0",
        "id": "bus-entry-1",
        "detail-type": "time_entry.approved",
        "source": topology.INGEST_EVENT_SOURCE,
        "detail": {"schema_version": 1, topology.PACKED_DETAIL_KEY: details},
    }
    return {
        "messageId": "msg-1",
        "receiptHandle": "rh-msg-1",
        "body": json.dumps(body),
        "attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:actuals",
        "awsRegion": "eu-west-1",
    }


def ordinary_record(detail: dict[str, Any]) -> dict[str, Any]:
    """A record of one event, beside the packed one (Powertools raises when every record fails)."""
    record = packed_record([])
    record["messageId"], record["receiptHandle"] = "msg-2", "rh-msg-2"
    record["body"] = json.dumps({"detail-type": "time_entry.approved", "detail": detail})
    return record


def recording_use_case(seen: list[str], *, failing: dict[str, BaseException]) -> Callable[[], Callable[[Any], object]]:
    def use_case() -> Callable[[Any], object]:
        def handle(ingested: Any) -> object:
            entry_id = ingested.data.entry_id
            seen.append(entry_id)
            if entry_id in failing:
                raise failing[entry_id]
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


def dead_lettered_entry_ids(sqs: RecordingSqs) -> list[str]:
    return [json.loads(m["MessageBody"])["detail"]["event"]["data"]["entry_id"] for m in sqs.sent]


def test_every_event_of_a_packed_entry_reaches_its_use_case_in_order(dead_letter_queue: RecordingSqs) -> None:
    seen: list[str] = []
    event = {"Records": [packed_record([time_entry_detail(f"TE-{i}") for i in range(5)])]}

    response = consume_batch(event, LambdaContext(), workflow="actuals", use_case=recording_use_case(seen, failing={}))

    assert response["batchItemFailures"] == []
    assert seen == [f"TE-{i}" for i in range(5)]
    assert dead_letter_queue.sent == []


def test_a_bad_event_of_a_packed_entry_is_dead_lettered_alone_as_an_ordinary_message(
    dead_letter_queue: RecordingSqs,
) -> None:
    seen: list[str] = []
    details = [time_entry_detail("TE-1"), time_entry_detail("TE-BAD", hours="9" * 30), time_entry_detail("TE-3")]

    response = consume_batch(
        {"Records": [packed_record(details)]},
        LambdaContext(),
        workflow="actuals",
        use_case=recording_use_case(seen, failing={}),
    )

    assert response["batchItemFailures"] == []
    assert seen == ["TE-1", "TE-3"]
    (dead,) = dead_letter_queue.sent
    body = json.loads(dead["MessageBody"])
    assert body["detail"] == details[1], "the DLQ holds the one event, shaped like any other message"
    assert body["detail-type"] == "time_entry.approved"
    assert "data.hours" in dead["MessageAttributes"]["error"]["StringValue"]
    assert dead["MessageAttributes"]["correlation_id"]["StringValue"] == "corr-TE-BAD"


def test_a_transient_fault_retries_the_whole_record_and_dead_letters_nothing_yet(
    dead_letter_queue: RecordingSqs,
) -> None:
    seen: list[str] = []
    details = [time_entry_detail("TE-1"), time_entry_detail("TE-2"), time_entry_detail("TE-BAD", hours="9" * 30)]

    response = consume_batch(
        {"Records": [packed_record(details, receive_count=1), ordinary_record(time_entry_detail("TE-OK"))]},
        LambdaContext(),
        workflow="actuals",
        use_case=recording_use_case(seen, failing={"TE-2": ConnectionError("ledger unreachable")}),
    )

    assert response["batchItemFailures"] == [{"itemIdentifier": "msg-1"}]
    assert seen == ["TE-1", "TE-2", "TE-OK"], "every event was tried; TE-1 changes nothing when applied again"
    assert dead_letter_queue.sent == [], "the bad event is dead-lettered once, when the record is done"


def test_at_the_receive_limit_each_failing_event_is_dead_lettered_once(dead_letter_queue: RecordingSqs) -> None:
    seen: list[str] = []
    details = [time_entry_detail("TE-1"), time_entry_detail("TE-2"), time_entry_detail("TE-BAD", hours="9" * 30)]

    response = consume_batch(
        {"Records": [packed_record(details, receive_count=5)]},
        LambdaContext(),
        workflow="actuals",
        use_case=recording_use_case(seen, failing={"TE-2": ConnectionError("ledger unreachable")}),
    )

    assert response["batchItemFailures"] == []
    assert sorted(dead_lettered_entry_ids(dead_letter_queue)) == ["TE-2", "TE-BAD"]
    errors = {m["MessageAttributes"]["error_type"]["StringValue"] for m in dead_letter_queue.sent}
    assert errors == {"ConnectionError", "InvalidEventError"}
