"""Stand-in handlers and a CDK-shaped template, so the local stack is tested on its own.

The stand-ins do what the real handlers' contracts say at the transport level
(webhook -> bus, consumer -> ledger + published event, partial batch failures,
workflow tasks that raise), nothing more.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from billbridge import topology
from billbridge.local.stack import LocalStack

TASKS = {task.name: task for task in topology.BILLING_TASKS}
FAILED_TASK_INPUTS: list[dict[str, Any]] = []


@functools.cache
def client(service: str) -> Any:
    """One client per service for all the stand-ins (each new client costs ~50 ms)."""
    return boto3.client(service)  # type: ignore[call-overload]


class ComposeRejectedError(Exception):
    """Raised by the compose stand-in; the state machine catches it by this name."""


def webhook_standin(event: dict[str, Any], context: Any) -> dict[str, Any]:
    source = event["pathParameters"]["source"]
    cloud_event = json.loads(event["body"])
    client("events").put_events(
        Entries=[
            {
                "EventBusName": os.environ[topology.ENV_EVENT_BUS],
                "Source": topology.INGEST_EVENT_SOURCE,
                "DetailType": cloud_event["type"],
                "Detail": json.dumps({"source": source, **cloud_event}),
            }
        ]
    )
    return {
        "statusCode": 202,
        "headers": {"Content-Type": "application/json", "X-Request-Id": context.aws_request_id},
        "body": json.dumps({"accepted": [cloud_event["id"]]}),
        "isBase64Encoded": False,
    }


def consumer_standin(event: dict[str, Any], context: Any) -> dict[str, Any]:
    table = os.environ[topology.ENV_LEDGER_TABLE]
    dynamodb = client("dynamodb")
    failures = []
    for record in event["Records"]:
        detail = json.loads(record["body"])["detail"]
        if detail["data"].get("poison"):
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        dynamodb.put_item(
            TableName=table,
            Item={
                "pk": {"S": f"EVENT#{detail['id']}"},
                "sk": {"S": detail["type"]},
                "hours": {"N": str(detail["data"].get("hours", 0))},
                "raw": {"B": record["body"].encode()},
                "receives": {"N": record["attributes"]["ApproximateReceiveCount"]},
            },
        )
        client("events").put_events(
            Entries=[
                {
                    "EventBusName": os.environ[topology.ENV_EVENT_BUS],
                    "Source": "billbridge.actuals",
                    "DetailType": "EntryRated",
                    "Detail": json.dumps({"id": detail["id"], "version": 1}),
                }
            ]
        )
    return {"batchItemFailures": failures}


def select_contracts_standin(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"period": event["period"], "contracts": [{"contract_id": c} for c in event["contracts"]]}


def compose_standin(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event["contract_id"].startswith("BAD"):
        raise ComposeRejectedError(f"no rate for {event['contract_id']}")
    return {"contract_id": event["contract_id"], "total": "100.00"}


def post_standin(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {**event, "posted": True}


def record_failure_standin(event: dict[str, Any], context: Any) -> dict[str, Any]:
    FAILED_TASK_INPUTS.append(event)
    return {"contract_id": event["contract_id"], "failed": event["error"]["Error"]}


STANDINS = {
    topology.WEBHOOK_HANDLER: webhook_standin,
    **{workflow.handler: consumer_standin for workflow in topology.WORKFLOWS},
    TASKS["select_contracts"].handler: select_contracts_standin,
    TASKS["compose_invoice"].handler: compose_standin,
    TASKS["post_invoice"].handler: post_standin,
    TASKS["record_failure"].handler: record_failure_standin,
}


def _invoke_state(task: str, nxt: str | None) -> dict[str, Any]:
    """A CDK LambdaInvoke state (`arn:...:states:::lambda:invoke`)."""
    state: dict[str, Any] = {
        "Type": "Task",
        "Resource": "arn:<<Partition>>:states:::lambda:invoke",
        "Parameters": {"FunctionName": f"<<{task}>>", "Payload.$": "$"},
        "OutputPath": "$.Payload",
    }
    state.update({"Next": nxt} if nxt else {"End": True})
    return state


def billing_template() -> dict[str, Any]:
    """A template shaped like CDK's output: DefinitionString as Fn::Join with GetAtt and Ref tokens."""
    compose = _invoke_state("ComposeInvoice", "Post")
    compose["Retry"] = [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "MaxAttempts": 2}]
    compose["Catch"] = [{"ErrorEquals": ["ComposeRejectedError"], "ResultPath": "$.error", "Next": "Record"}]
    definition = {
        "StartAt": "Select",
        "States": {
            "Select": _invoke_state("SelectContracts", "EachContract"),
            "EachContract": {
                "Type": "Map",
                "ItemsPath": "$.contracts",
                "MaxConcurrency": topology.BILLING_MAP_MAX_CONCURRENCY,
                "Iterator": {
                    "StartAt": "Compose",
                    "States": {
                        "Compose": compose,
                        # A plain function ARN as Resource: the other way a Lambda task is written.
                        "Post": {"Type": "Task", "Resource": "<<PostInvoice>>", "End": True},
                        "Record": _invoke_state("RecordFailure", None),
                    },
                },
                "ResultPath": "$.invoices",
                "End": True,
            },
        },
    }
    text = json.dumps(definition)
    parts: list[Any] = []
    for piece in text.split("<<"):
        token, sep, rest = piece.partition(">>")
        if not sep:
            parts.append(piece)
            continue
        if token == "Partition":
            parts.append({"Ref": "AWS::Partition"})
        else:
            parts.append({"Fn::GetAtt": [f"{token}FunctionA1B2C3D4", "Arn"]})
        parts.append(rest)
    resources: dict[str, Any] = {
        f"{task.construct_id}FunctionA1B2C3D4": {
            "Type": "AWS::Lambda::Function",
            "Properties": {"Handler": task.handler, "Runtime": "python3.13"},
        }
        for task in topology.BILLING_TASKS
    }
    resources["BillingRunStateMachine0F1E2D3C"] = {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {"DefinitionString": {"Fn::Join": ["", parts]}, "RoleArn": "arn:aws:iam::1:role/x"},
    }
    resources["UnrelatedTopic"] = {"Type": "AWS::SNS::Topic", "Properties": {}}
    return {"Resources": resources}


SECRETS = {"clm": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], "psa": ["whsec_dGVzdA=="]}


@pytest.fixture
def stack() -> Iterator[LocalStack]:
    FAILED_TASK_INPUTS.clear()
    with LocalStack(secrets=SECRETS, handlers=STANDINS, template=billing_template()) as running:
        yield running
