"""`dlq redrive` against a deployed stack's queues (SQS; moto, with the move task API faked):
a consumer DLQ moves whole by a message move task whose progress is followed; a scheduled
function's failed input is invoked again; one message goes back alone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from billbridge.adapters.dlq_operations import CONSUMER, SCHEDULED, SqsDeadLetterQueues, WorkflowQueues
from billbridge.cli.commands import operations_queues
from moto import mock_aws

from tests.fakes.sqs_move_tasks import SqsWithMoveTasks


@pytest.fixture
def sqs(fake_aws_credentials: None) -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1")


def queues(sqs: Any) -> dict[str, str]:
    return {name: sqs.create_queue(QueueName=name)["QueueUrl"] for name in ("actuals", "actuals-dlq", "kpi-dlq")}


def test_a_consumer_dlq_moves_whole_by_a_move_task_and_its_progress_is_followed_to_the_end(
    sqs: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    urls = queues(sqs)
    for n in range(3):
        sqs.send_message(QueueUrl=urls["actuals-dlq"], MessageBody=json.dumps({"n": n}))
    client = SqsWithMoveTasks(sqs)
    dead_letters = SqsDeadLetterQueues(
        client, [WorkflowQueues("actuals", urls["actuals"], urls["actuals-dlq"], CONSUMER)]
    )
    monkeypatch.setattr(operations_queues, "MOVE_TASK_POLL_SECONDS", 0.0)

    outcome = dead_letters.redrive("actuals")
    assert outcome.method == "message_move_task" and outcome.task_handle == "task-1" and outcome.moved == 3
    tasks = operations_queues._follow_move_task(dead_letters, "actuals", wait_seconds=5)

    assert tasks[0].status == "COMPLETED" and tasks[0].moved == 3 and tasks[0].to_move == 3
    progress = capsys.readouterr().err.splitlines()
    assert progress[0].strip() == "move task RUNNING: 1/3" and progress[-1].strip() == "move task COMPLETED: 3/3"
    assert dead_letters.depths()[0].messages == 0
    moved = sqs.receive_message(QueueUrl=urls["actuals"], MaxNumberOfMessages=10)["Messages"]
    assert sorted(json.loads(m["Body"])["n"] for m in moved) == [0, 1, 2]


def test_one_message_of_a_consumer_dlq_goes_back_alone_by_sqs_not_by_a_move_task(sqs: Any) -> None:
    urls = queues(sqs)
    ids = [
        sqs.send_message(QueueUrl=urls["actuals-dlq"], MessageBody=json.dumps({"n": n}))["MessageId"] for n in range(3)
    ]
    client = SqsWithMoveTasks(sqs)
    dead_letters = SqsDeadLetterQueues(
        client, [WorkflowQueues("actuals", urls["actuals"], urls["actuals-dlq"], CONSUMER)]
    )
    outcome = dead_letters.redrive("actuals", message_id=ids[1])
    assert outcome.method == "resend" and outcome.message_ids == [ids[1]]
    assert client.tasks == []
    (back,) = sqs.receive_message(QueueUrl=urls["actuals"], MaxNumberOfMessages=10)["Messages"]
    assert json.loads(back["Body"]) == {"n": 1}
    assert {m.message_id for m in dead_letters.peek("actuals")} == {ids[0], ids[2]}


def test_a_scheduled_functions_failed_input_is_invoked_again_asynchronously_then_deleted(sqs: Any) -> None:
    urls = queues(sqs)
    scheduled_event = {
        "source": "aws.scheduler",
        "detail-type": "Scheduled Event",
        "time": "2026-05-01T02:00:00Z",
        "id": "exec-1",
        "detail": {},
    }
    sqs.send_message(
        QueueUrl=urls["kpi-dlq"],
        MessageBody=json.dumps(scheduled_event),
        MessageAttributes={
            "ERROR_CODE": {"DataType": "String", "StringValue": "AWS.Lambda.TooManyRequestsException"},
            "ERROR_MESSAGE": {"DataType": "String", "StringValue": "Rate exceeded"},
        },
    )
    invoked: list[tuple[str, dict[str, Any]]] = []
    dead_letters = SqsDeadLetterQueues(
        sqs,
        [WorkflowQueues("kpi-publisher", "", urls["kpi-dlq"], SCHEDULED, "Billbridge-KpiPublisher-abc")],
        invoke_function=lambda name, payload: invoked.append((name, payload)),
    )
    (shown,) = dead_letters.peek("kpi-publisher")
    assert shown.error == "Rate exceeded" and shown.error_type == "AWS.Lambda.TooManyRequestsException"

    outcome = dead_letters.redrive("kpi-publisher")
    assert outcome.method == "invoke" and outcome.moved == 1
    assert invoked == [("Billbridge-KpiPublisher-abc", scheduled_event)]
    assert dead_letters.depths()[0].messages == 0


def test_an_invoke_that_is_refused_leaves_the_message_in_the_dlq(sqs: Any) -> None:
    urls = queues(sqs)
    sqs.send_message(QueueUrl=urls["kpi-dlq"], MessageBody=json.dumps({"source": "aws.scheduler", "detail": {}}))

    def refuse(name: str, payload: dict[str, Any]) -> None:
        raise PermissionError("AccessDenied: lambda:InvokeFunction")

    dead_letters = SqsDeadLetterQueues(
        sqs, [WorkflowQueues("kpi-publisher", "", urls["kpi-dlq"], SCHEDULED, "fn")], invoke_function=refuse
    )
    with pytest.raises(PermissionError):
        dead_letters.redrive("kpi-publisher")
    assert dead_letters.depths()[0].messages + dead_letters.depths()[0].in_flight == 1
