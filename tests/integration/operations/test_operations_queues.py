"""`billbridge dlq ...` and `billbridge replay-archive` on the local stack after scenario 02."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from billbridge.adapters.dynamo_ledger import DynamoLedger
from billbridge.local.stack import LocalStack
from billbridge.local.store import LocalStore, encode_binary


def canonical_envelope(event_id: str, entry_id: str, correlation_id: str) -> str:
    """An EventBridge envelope of a canonical time_entry.approved, as the actuals rule delivers it."""
    event = {
        "specversion": "1.0",
        "id": event_id,
        "source": "psa",
        "type": "time_entry.approved",
        "time": "2026-04-10T17:00:00Z",
        "data": {
            "entry_id": entry_id,
            "revision": 1,
            "contract_id": "SOW-200",
            "resource_id": "EMP-1",
            "role": "consultant",
            "billable": True,
            "days": [{"date": "2026-04-06", "hours": "8"}],
        },
    }
    return json.dumps(
        {
            "version": "0",
            "id": f"bus-{event_id}",
            "detail-type": "time_entry.approved",
            "source": "billbridge.ingest",
            "account": "123456789012",
            "time": "2026-04-10T17:00:01Z",
            "region": "us-east-1",
            "resources": [],
            "detail": {
                "schema_version": 1,
                "correlationid": correlation_id,
                "delivery": {"source": "psa", "id": event_id, "webhook_id": "msg_dlq", "raw_key": ""},
                "event": event,
            },
        }
    )


def string_attribute(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}


def poison_the_actuals_workflow(state: Path) -> None:
    """Three dead letters in the actuals DLQ:
    - a valid event dead-lettered earlier (say, during an outage), with the consumer's attributes;
    - a message moved by the queue's redrive policy: no attributes;
    - a malformed message the consumer itself dead-letters (the consumer path)."""
    with LocalStack(state_file=state) as stack:
        sqs = stack.client("sqs")
        dlq = stack.queue_url(stack.names.dead_letter_queue(_workflow("actuals")))
        queue = stack.queue_url(stack.names.queue(_workflow("actuals")))
        sqs.send_message(
            QueueUrl=dlq,
            MessageBody=canonical_envelope("psa-dlq-1", "TE-90", "corr-outage-1"),
            MessageAttributes={
                "error": string_attribute("LedgerContentionError: contract SOW-200 changed 8 times"),
                "error_type": string_attribute("LedgerContentionError"),
                "correlation_id": string_attribute("corr-outage-1"),
                "workflow": string_attribute("actuals"),
            },
        )
        sqs.send_message(QueueUrl=dlq, MessageBody=canonical_envelope("psa-dlq-2", "TE-91", "corr-limit-2"))
        sqs.send_message(QueueUrl=queue, MessageBody='{"detail-type": "time_entry.approved", "detail": "oops"}')
        summary = stack.drain()
        assert summary.dead_lettered >= 1 or stack.dead_letters("actuals")
        stack.save(state)


def _workflow(name: str) -> Any:
    from billbridge import topology

    return next(w for w in topology.WORKFLOWS if w.name == name)


def entries_of(state: Path) -> set[str]:
    with LocalStack(state_file=state) as stack:
        ledger = DynamoLedger(stack.names.ledger_table, client=stack.client("dynamodb"))
        return set(ledger.load("SOW-200").book.entries)


def test_dlq_list_show_and_redrive_lose_nothing(state: Path, cli, cli_json) -> None:
    poison_the_actuals_workflow(state)

    listed = cli_json("dlq", "list", state=state)
    depths = {row["workflow"]: row["messages"] for row in listed if row["kind"] == "consumer"}
    assert depths == {"contracts": 0, "actuals": 3, "feedback": 0, "intake-files": 0, "intake-chunks": 0}
    assert {row["workflow"] for row in listed if row["kind"] != "consumer"} == {
        "contracts-delivery",
        "actuals-delivery",
        "feedback-delivery",
        "billing-start",
        "kpi-publisher",
        "poll-erp-netsuite",
        "poll-psa-kantata",
        "poll-crm-salesforce",
    }

    messages = cli_json("dlq", "show", "actuals", state=state)
    by_ref = {m["event_ref"]: m for m in messages}
    assert by_ref["psa:psa-dlq-1"]["error_type"] == "LedgerContentionError"
    assert by_ref["psa:psa-dlq-1"]["correlation_id"] == "corr-outage-1"
    assert by_ref["psa:psa-dlq-2"]["has_error_attributes"] is False
    assert by_ref["psa:psa-dlq-2"]["correlation_id"] == "corr-limit-2"  # from the body
    (consumer_made,) = [m for m in messages if not m["event_ref"]]
    assert consumer_made["has_error_attributes"] and consumer_made["error_type"]
    assert consumer_made["workflow"] == "actuals"
    assert len(cli_json("dlq", "show", "actuals", "--limit", "1", state=state)) == 1
    code, text = cli("dlq", "show", "actuals", state=state)
    assert code == 0 and "corr-outage-1" in text and "no error attributes" in text

    dry = cli_json("dlq", "redrive", "actuals", "--dry-run", state=state)
    assert dry["dry_run"] and dry["would_move"] == 3 and dry["moved"] == 0
    assert dry["remaining_in_dead_letter_queue"] == 3

    redriven = cli_json("dlq", "redrive", "actuals", state=state)
    assert redriven["method"] == "resend" and redriven["moved"] == 3
    assert redriven["drain"]["queues"]["actuals"]["processed"] >= 2
    # The two valid events were applied; the malformed one is back in the DLQ, not lost.
    assert {"TE-90", "TE-91"} <= entries_of(state)
    assert redriven["remaining_in_dead_letter_queue"] == 1
    (left,) = cli_json("dlq", "show", "actuals", state=state)
    assert left["has_error_attributes"] and not left["event_ref"]


def test_an_unknown_queue_is_refused_as_a_usage_error_naming_the_queues(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from billbridge.cli.main import main

    from tests.integration.operations.conftest import state_flag

    capsys.readouterr()
    code = main(["dlq", "show", "invoices", state_flag(), str(state)])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert "no dead-letter queue 'invoices'" in err and "billing-start" in err


def test_one_message_is_redriven_alone_and_another_deleted_for_good(state: Path, cli, cli_json) -> None:
    poison_the_actuals_workflow(state)
    by_ref = {m["event_ref"]: m for m in cli_json("dlq", "show", "actuals", state=state)}
    one = by_ref["psa:psa-dlq-1"]["message_id"]
    (malformed,) = [m["message_id"] for m in by_ref.values() if not m["event_ref"]]

    redriven = cli_json("dlq", "redrive", "actuals", "--message-id", one, state=state)
    assert redriven["moved"] == 1 and redriven["message_ids"] == [one]
    assert redriven["remaining_in_dead_letter_queue"] == 2
    assert "TE-90" in entries_of(state) and "TE-91" not in entries_of(state)

    deleted = cli_json("dlq", "delete", "actuals", "--message-id", malformed, state=state)
    assert deleted["deleted"]["message_id"] == malformed
    (left,) = cli_json("dlq", "show", "actuals", state=state)
    assert left["event_ref"] == "psa:psa-dlq-2"

    code, _ = cli("dlq", "delete", "actuals", "--message-id", malformed, state=state)
    assert code == 2  # already gone: said, not silently ignored


def test_a_delivery_dead_letter_goes_back_to_its_workflow_queue_and_is_applied(state: Path, cli_json) -> None:
    with LocalStack(state_file=state) as stack:
        sqs = stack.client("sqs")
        dlq = stack.queue_url(stack.names.delivery_dead_letter_queue(_workflow("actuals")))
        sqs.send_message(
            QueueUrl=dlq,
            MessageBody=canonical_envelope("psa-undelivered-1", "TE-95", "corr-undelivered"),
            MessageAttributes={
                "ERROR_CODE": string_attribute("SQS_PERMISSION_DENIED"),
                "ERROR_MESSAGE": string_attribute("the rule could not send to the queue"),
            },
        )
        stack.save(state)
    (message,) = cli_json("dlq", "show", "actuals-delivery", state=state)
    assert message["error"] == "the rule could not send to the queue"
    assert message["correlation_id"] == "corr-undelivered"
    redriven = cli_json("dlq", "redrive", "actuals-delivery", state=state)
    assert redriven["method"] == "resend" and redriven["moved"] == 1
    assert redriven["remaining_in_dead_letter_queue"] == 0
    assert "TE-95" in entries_of(state)


def test_a_scheduled_functions_failed_invocation_is_invoked_again_and_a_record_without_input_stays(
    state: Path, cli_json
) -> None:
    invocation_record = {
        "version": "1.0",
        "timestamp": "2026-05-01T02:00:03.000Z",
        "requestContext": {
            "requestId": "c2a6f2ae-7dbb-4d22-8782-d0485c9877e2",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:publisher:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": {
            "source": "aws.scheduler",
            "detail-type": "Scheduled Event",
            "time": "2026-05-01T02:00:00Z",
            "id": "exec-1",
            "detail": {},
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": "Task timed out after 300.00 seconds", "errorType": "TimeoutError"},
    }
    with LocalStack(state_file=state) as stack:
        sqs = stack.client("sqs")
        dlq = stack.queue_url(stack.names.scheduled_dead_letter_queue("kpi-publisher"))
        sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps(invocation_record))
        sqs.send_message(QueueUrl=dlq, MessageBody="not a record")
        stack.save(state)
    shown = {m["event_type"]: m for m in cli_json("dlq", "show", "kpi-publisher", state=state)}
    assert shown["lambda invocation record"]["error"] == "Task timed out after 300.00 seconds"
    assert shown["lambda invocation record"]["error_type"] == "TimeoutError"

    redriven = cli_json("dlq", "redrive", "kpi-publisher", state=state)
    assert redriven["method"] == "invoke" and redriven["moved"] == 1
    (left,) = redriven["not_redriven"]
    assert "holds no input" in left["reason"]
    assert redriven["remaining_in_dead_letter_queue"] == 1


def ledger_items(state: Path, *, ignore: tuple[str, ...] = (), skip_prefix: str | None = None) -> list[Any]:
    with LocalStore(state, create=False) as store:
        return sorted(
            json.dumps({k: v for k, v in encode_binary(item).items() if k not in ignore}, sort_keys=True)
            for item in store.items("ledger")
            if skip_prefix is None or not item["pk"]["S"].startswith(skip_prefix)
        )


def command_records(state: Path) -> dict[str, dict[str, Any]]:
    with LocalStore(state, create=False) as store:
        return {
            item["sk"]["S"]: json.loads(item["command"]["S"])
            for item in store.items("ledger")
            if item["pk"]["S"].startswith("COMMANDS#")
        }


def test_replay_archive_republishes_the_stored_payloads_and_bills_nothing_twice(state: Path, cli_json) -> None:
    """The consumers keep no deduplication records: the books absorb the replay (revisions, lines,
    invoices, exceptions and audit unchanged); the id map's `updated_at` is refreshed, and the
    downstream commands no system has answered yet are sent again under their idempotency keys
    (each record counts the attempt; an older version's commands and anything acknowledged are
    not sent again)."""
    with LocalStore(state, create=False) as store:
        assert store.forget_items("idempotency") == 0
    before = ledger_items(state, ignore=("updated_at",), skip_prefix="COMMANDS#")
    commands_before = command_records(state)
    assert commands_before and {c["state"] for c in commands_before.values()} == {"sent"}
    replayed = cli_json("replay-archive", "--from", "2000-01-01", "--to", "2100-12-31", state=state)
    assert replayed["method"] == "raw_payloads"
    assert replayed["payloads"] == 7 and len(replayed["events"]) == 7
    assert "psa:psa-0002" in replayed["events"] and "erp:erp-0007" in replayed["events"]
    # Events of one type replayed together travel as one packed record (docs/spec/events.md).
    assert 1 <= sum(q["processed"] for q in replayed["drain"]["queues"].values()) <= 7
    assert sum(q["dead_lettered"] for q in replayed["drain"]["queues"].values()) == 0
    assert ledger_items(state, ignore=("updated_at",), skip_prefix="COMMANDS#") == before
    commands_after = command_records(state)
    assert set(commands_after) == set(commands_before)
    for key, command in commands_after.items():
        assert (command["state"], command["payload"]) == ("sent", commands_before[key]["payload"])
    resent = {key for key, c in commands_after.items() if c["attempts"] == commands_before[key]["attempts"] + 1}
    unchanged = {key for key, c in commands_after.items() if c == commands_before[key]}
    assert resent and resent | unchanged == set(commands_after), "only the latest version's commands are re-sent"
    assert cli_json("replay-archive", "--from", "2000-01-01", "--to", "2000-01-02", state=state)["events"] == []
