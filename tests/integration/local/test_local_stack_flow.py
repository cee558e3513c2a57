"""A webhook delivery travels bus -> rule -> queue -> consumer; failures end in the DLQ."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
import pytest
from billbridge import topology
from billbridge.local.handler_resolver import HandlerNotFoundError, HandlerResolver
from billbridge.local.stack import LocalStack
from conftest import SECRETS

ACTUALS = next(w for w in topology.WORKFLOWS if w.name == "actuals")


def deliver(stack: LocalStack, source: str, event_id: str, event_type: str, **data: Any) -> int:
    body = json.dumps({"id": event_id, "source": source, "type": event_type, "data": data}).encode()
    status, _, _ = stack.invoke_webhook(source, {"Content-Type": "application/cloudevents+json"}, body)
    return status


def ledger_items(stack: LocalStack) -> dict[str, dict[str, Any]]:
    items = stack.client("dynamodb").scan(TableName=stack.names.ledger_table)["Items"]
    return {item["pk"]["S"]: item for item in items}


def test_webhook_event_reaches_the_consumer_of_its_workflow_only(stack: LocalStack) -> None:
    status, headers, body = stack.invoke_webhook(
        "psa",
        {"Content-Type": "application/cloudevents+json"},
        json.dumps({"id": "TE-1", "source": "psa", "type": "time_entry.approved", "data": {"hours": 8}}).encode(),
    )

    summary = stack.drain()

    assert (status, json.loads(body)) == (202, {"accepted": ["TE-1"]})
    assert headers["X-Request-Id"]
    assert summary.queues["actuals"].processed == 1
    assert summary.processed == 1 and summary.failed == 0 and not summary.exhausted
    item = ledger_items(stack)["EVENT#TE-1"]
    assert item["sk"] == {"S": "time_entry.approved"}
    assert json.loads(item["raw"]["B"])["detail-type"] == "time_entry.approved"


def test_the_webhook_handler_sees_an_api_gateway_proxy_event(stack: LocalStack) -> None:
    seen: list[tuple[dict[str, Any], Any]] = []

    def capture(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append((event, context))
        return {"statusCode": 401, "body": ""}

    stack.resolver.override(topology.WEBHOOK_HANDLER, capture)
    status, _, _ = stack.invoke_webhook("clm", {"webhook-id": "msg_1"}, b"\xff\x00 not utf-8")
    stack.invoke_webhook("clm", {"webhook-id": "msg_2"}, b"{}")

    (event, context), (second_event, second_context) = seen
    assert status == 401
    assert event["resource"] == topology.WEBHOOK_ROUTE
    assert (event["path"], event["httpMethod"]) == ("/webhooks/clm", "POST")
    assert event["pathParameters"] == {"source": "clm"}
    assert event["headers"] == {"webhook-id": "msg_1"}
    assert event["isBase64Encoded"] is True and event["body"] == "/wAgbm90IHV0Zi04"
    assert second_event["isBase64Encoded"] is False and second_event["body"] == "{}"
    assert event["requestContext"]["requestId"] != second_event["requestContext"]["requestId"]
    assert context.aws_request_id != second_context.aws_request_id
    assert 0 < context.get_remaining_time_in_millis() <= 30_000
    assert context.invoked_function_arn.endswith(":function:" + context.function_name)


def test_handlers_read_the_created_resources_from_the_environment(stack: LocalStack) -> None:
    from billbridge.settings import hub_settings

    settings = hub_settings()
    secret = boto3.client("secretsmanager").get_secret_value(SecretId=settings.webhook_secrets_arn)

    assert settings.ledger_table_name == stack.names.ledger_table
    assert settings.event_bus_name == stack.names.event_bus
    assert settings.billing_state_machine_arn == stack.names.state_machine_arn
    assert json.loads(secret["SecretString"]) == {
        "clm": SECRETS["clm"],
        "psa": SECRETS["psa"],
        "erp": [],
        "crm": [],
    }
    index = boto3.client("dynamodb").describe_table(TableName=settings.ledger_table_name)["Table"]
    assert [g["IndexName"] for g in index["GlobalSecondaryIndexes"]] == [topology.LEDGER_LOOKUP_INDEX]


def test_observer_sees_the_hubs_own_events_but_not_ingested_ones(stack: LocalStack) -> None:
    deliver(stack, "psa", "TE-1", "time_entry.approved", hours=8)
    deliver(stack, "clm", "C-1", "contract.approved")
    stack.drain()

    events = stack.observed_events()

    assert sorted((e["source"], e["detail-type"], e["detail"]["id"]) for e in events) == [
        ("billbridge.actuals", "EntryRated", "C-1"),
        ("billbridge.actuals", "EntryRated", "TE-1"),
    ]
    assert stack.observed_events() == []


def test_a_failed_record_alone_is_redelivered_then_dead_lettered_with_its_body(stack: LocalStack) -> None:
    deliver(stack, "psa", "TE-1", "time_entry.approved", hours=1)
    deliver(stack, "psa", "TE-2", "time_entry.approved", hours=2, poison=True)
    deliver(stack, "psa", "TE-3", "time_entry.approved", hours=3)

    summary = stack.drain()

    actuals = summary.queues["actuals"]
    assert (actuals.processed, actuals.failed, actuals.dead_lettered) == (2, ACTUALS.max_receive_count, 1)
    items = ledger_items(stack)
    assert sorted(items) == ["EVENT#TE-1", "EVENT#TE-3"]
    assert {item["receives"]["N"] for item in items.values()} == {"1"}
    (dead,) = stack.dead_letters("actuals")
    assert json.loads(dead["body"])["detail"]["id"] == "TE-2"
    assert dead["attributes"]["ApproximateReceiveCount"] == str(ACTUALS.max_receive_count + 1)
    assert len(stack.dead_letters("actuals")) == 1, "reading the DLQ leaves its messages in place"


def test_a_consumer_that_raises_fails_the_whole_batch(stack: LocalStack) -> None:
    def broken(event: dict[str, Any], context: Any) -> None:
        raise RuntimeError("ledger unavailable")

    contracts = next(w for w in topology.WORKFLOWS if w.name == "contracts")
    stack.resolver.override(contracts.handler, broken)
    deliver(stack, "clm", "C-1", "contract.approved")
    deliver(stack, "clm", "C-2", "contract.amended")

    summary = stack.drain()

    stats = summary.queues["contracts"]
    assert (stats.processed, stats.dead_lettered) == (0, 2)
    assert stats.failed == 2 * contracts.max_receive_count
    assert stats.errors[0] == "RuntimeError: ledger unavailable"
    assert ledger_items(stack) == {}


def test_redrive_returns_dead_letters_to_their_queue(stack: LocalStack) -> None:
    deliver(stack, "psa", "TE-9", "time_entry.approved", hours=1, poison=True)
    stack.drain()
    stack.resolver.override(ACTUALS.handler, lambda event, context: {"batchItemFailures": []})

    moved = stack.redrive("actuals")
    summary = stack.drain()

    assert moved == 1
    assert summary.queues["actuals"].processed == 1
    assert stack.dead_letters("actuals") == []


def test_a_handler_path_that_cannot_be_imported_is_named_in_the_error() -> None:
    resolver = HandlerResolver()

    with pytest.raises(HandlerNotFoundError, match=r"billbridge\.entrypoints\.queues\.absent"):
        resolver.resolve("billbridge.entrypoints.queues.absent.lambda_handler")
    with pytest.raises(HandlerNotFoundError, match="no callable 'absent'"):
        resolver.resolve("billbridge.topology.absent")


def test_each_consumer_sees_its_own_dead_letter_queue_and_receive_limit(stack: LocalStack) -> None:
    seen: dict[str, tuple[str | None, str | None]] = {}

    def consumer_for(name: str) -> Any:
        def consume(event: dict[str, Any], context: Any) -> dict[str, Any]:
            seen[name] = (
                os.environ.get(topology.ENV_DEAD_LETTER_QUEUE_URL),
                os.environ.get(topology.ENV_MAX_RECEIVE_COUNT),
            )
            return {"batchItemFailures": []}

        return consume

    for workflow in topology.WORKFLOWS:
        stack.resolver.override(workflow.handler, consumer_for(workflow.name))
    deliver(stack, "psa", "TE-1", "time_entry.approved")
    deliver(stack, "clm", "C-1", "contract.approved")
    stack.drain()

    assert seen == {
        name: (stack.queue_url(stack.names.dead_letter_queue(workflow)), str(workflow.max_receive_count))
        for workflow in topology.WORKFLOWS
        if (name := workflow.name) in ("actuals", "contracts")
    }
    assert topology.ENV_DEAD_LETTER_QUEUE_URL not in os.environ
