"""The billing run and dead-letter adapters on moto: a run is started once per name and found
after; a dead letter keeps its body and carries its reason in the message's attributes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from billbridge.adapters.sqs_dead_letter_sink import SqsDeadLetterSink
from billbridge.adapters.step_functions_billing_runs import StepFunctionsBillingRuns, execution_arn
from billbridge.app.billing_requests import start_billing_run
from billbridge.app.ports import DeadLetter
from botocore.exceptions import ClientError
from moto import mock_aws

PASS_THROUGH = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
ROLE_ARN = "arn:aws:iam::123456789012:role/billing-run"


@pytest.fixture
def aws(fake_aws_credentials: None) -> Iterator[dict[str, Any]]:
    with mock_aws():
        sfn = boto3.client("stepfunctions")
        machine = sfn.create_state_machine(name="billing-run", definition=PASS_THROUGH, roleArn=ROLE_ARN)
        sqs = boto3.client("sqs")
        url = sqs.create_queue(QueueName="actuals-dlq")["QueueUrl"]
        yield {"sfn": sfn, "machine": machine["stateMachineArn"], "sqs": sqs, "url": url}


def test_a_run_is_started_once_per_name_and_found_afterwards(aws: dict[str, Any]) -> None:
    runs = StepFunctionsBillingRuns(state_machine_arn=aws["machine"], client=aws["sfn"])

    first = runs.start_or_find("bill-2026-03-all-tick-1", {"period": "2026-03", "contract_ids": None})
    again = runs.start_or_find("bill-2026-03-all-tick-1", {"period": "2026-03", "contract_ids": None})
    other = runs.start_or_find("bill-2026-03-all-tick-2", {"period": "2026-03", "contract_ids": None})

    assert first.started and not again.started and other.started
    assert first.execution_id == again.execution_id == execution_arn(aws["machine"], "bill-2026-03-all-tick-1")
    executions = aws["sfn"].list_executions(stateMachineArn=aws["machine"])["executions"]
    assert sorted(e["name"] for e in executions) == ["bill-2026-03-all-tick-1", "bill-2026-03-all-tick-2"]
    described = aws["sfn"].describe_execution(executionArn=first.execution_id)
    assert json.loads(described["input"]) == {"period": "2026-03", "contract_ids": None}


def test_the_use_case_names_the_run_by_period_contracts_and_request(aws: dict[str, Any]) -> None:
    runs = StepFunctionsBillingRuns(state_machine_arn=aws["machine"], client=aws["sfn"])

    run = start_billing_run(runs, "2026-03", ["SOW-2", "SOW-1"], "req-7")
    repeated = start_billing_run(runs, "2026-03", ["SOW-1", "SOW-2"], "req-7")

    assert run.started and not repeated.started and run.name == repeated.name
    described = aws["sfn"].describe_execution(executionArn=run.execution_id)
    assert json.loads(described["input"]) == {
        "period": "2026-03",
        "contract_ids": ["SOW-2", "SOW-1"],
        "run_id": run.name,
    }


def test_a_missing_state_machine_is_an_error_not_a_found_run(aws: dict[str, Any]) -> None:
    missing = aws["machine"].replace("billing-run", "no-such-machine")
    runs = StepFunctionsBillingRuns(state_machine_arn=missing, client=aws["sfn"])

    with pytest.raises(ClientError):
        runs.start_or_find("bill-2026-03-all-tick-1", {"period": "2026-03"})


def test_a_dead_letter_keeps_its_body_and_says_why(aws: dict[str, Any]) -> None:
    sink = SqsDeadLetterSink(queue_url=aws["url"], client=aws["sqs"])
    body = json.dumps({"detail-type": "time_entry.approved", "detail": {"event": {"id": "psa-TE-9"}}})

    sink.put(
        DeadLetter(
            body=body,
            reason="InvalidEventError: data.hours: Input should be a valid decimal",
            error_type="InvalidEventError",
            correlation_id="",
            workflow="actuals",
            message_id="msg-1",
        )
    )

    messages = aws["sqs"].receive_message(QueueUrl=aws["url"], MessageAttributeNames=["All"])["Messages"]
    assert [m["Body"] for m in messages] == [body]
    attributes = {name: value["StringValue"] for name, value in messages[0]["MessageAttributes"].items()}
    assert attributes == {
        "error": "InvalidEventError: data.hours: Input should be a valid decimal",
        "error_type": "InvalidEventError",
        "correlation_id": "unknown",
        "workflow": "actuals",
        "message_id": "msg-1",
    }
