"""Least privilege and protection at the edge, read from the synthesized template.
Each test fails if the grant or the gap it guards against comes back."""

from __future__ import annotations

from typing import Any

import pytest
from billbridge import topology
from billbridge.topology import DELIVERY_PARTITION_PREFIX

from tests.integration.security.test_security_template import Synth, _as_list, _flat, _synth

LEDGER_READS_BEYOND_CLAIMS = {"dynamodb:Scan", "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"}


@pytest.fixture(scope="module")
def synth() -> Synth:
    return _synth()


def statements_of(synth: Synth, role: Any) -> list[dict[str, Any]]:
    role_id = synth.logical_id(role)
    return [
        statement
        for policy in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_the_public_webhook_reaches_only_its_delivery_claims_in_the_ledger(synth: Synth) -> None:
    ledger = f"<{synth.logical_id(synth.stack.tables.ledger)}.Arn>"
    ledger_statements = [
        s
        for s in statements_of(synth, synth.stack.webhook.role)
        if any(_flat(r).startswith(ledger) for r in _as_list(s["Resource"]))
    ]
    assert ledger_statements, "the webhook claims deliveries in the ledger"
    for statement in ledger_statements:
        actions = set(_as_list(statement["Action"]))
        assert actions <= {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
        assert not actions & LEDGER_READS_BEYOND_CLAIMS
        assert [_flat(r) for r in _as_list(statement["Resource"])] == [ledger], "no index, no other table"
        assert statement["Condition"] == {
            "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{DELIVERY_PARTITION_PREFIX}*"]}
        }


def test_delivery_claims_are_the_partition_the_condition_names() -> None:
    from billbridge.adapters.dynamo_delivery_registry import delivery_partition_key

    assert delivery_partition_key("psa", "evt-1").startswith(DELIVERY_PARTITION_PREFIX)


def test_the_approver_may_put_operations_events_and_of_the_ingest_source_only_retry_requests(
    synth: Synth,
) -> None:
    """Deciding exceptions publishes `billbridge.operations` events; `sync retry` publishes one
    `sync.retry_requested`: no human role may put any other event of the ingest source (those
    skip the signature and the raw-payload record)."""
    approver = statements_of(synth, synth.stack.security.approver_role)
    put_events = [s for s in approver if "events:PutEvents" in _as_list(s["Action"])]
    conditions = sorted(
        (
            tuple(s["Condition"]["StringEquals"]["events:source"]),
            tuple(s["Condition"]["StringEquals"].get("events:detail-type", ())),
        )
        for s in put_events
    )
    assert conditions == [
        (("billbridge.ingest",), (topology.SYNC_RETRY_REQUESTED,)),
        (("billbridge.operations",), ()),
    ]


def test_no_human_role_may_put_events_without_a_source_condition(synth: Synth) -> None:
    """Unconditioned events:PutEvents grants belong to functions of the stack, never to a human role."""
    security = synth.stack.security
    for role in (security.operator_role, security.approver_role, security.personal_data_reader_role):
        for statement in statements_of(synth, role):
            if "events:PutEvents" in _as_list(statement["Action"]):
                assert "events:source" in str(statement.get("Condition")), synth.logical_id(role)


def web_acl(synth: Synth) -> dict[str, Any]:
    (acl,) = synth.resources("AWS::WAFv2::WebACL").values()
    return acl["Properties"]  # type: ignore[no-any-return]


def test_unsigned_requests_are_refused_by_the_web_acl_first(synth: Synth) -> None:
    rules = sorted(web_acl(synth)["Rules"], key=lambda r: r["Priority"])
    first = rules[0]
    assert first["Name"] == "RefuseUnsignedDeliveries"
    assert first["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 401
    standard, *vendors = first["Statement"]["NotStatement"]["Statement"]["OrStatement"]["Statements"]

    def header_of(statement: dict[str, Any]) -> str:
        matched = statement.get("SizeConstraintStatement") or statement.get("ByteMatchStatement")
        return str(matched["FieldToMatch"]["SingleHeader"]["Name"])

    assert {header_of(s) for s in standard["AndStatement"]["Statements"]} == {
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
    # The vendor routes are signed with the vendors' own headers; nothing else passes.
    assert {header_of(s) for s in vendors} == {"x-docusign-signature-1", "x-xero-signature"}


def test_the_web_acl_limits_each_source_route_and_each_address(synth: Synth) -> None:
    rules = {r["Name"]: r for r in web_acl(synth)["Rules"]}
    per_source = rules["LimitPerSource"]["Statement"]["RateBasedStatement"]
    assert per_source["AggregateKeyType"] == "CUSTOM_KEYS"
    assert [list(k) for k in per_source["CustomKeys"]] == [["UriPath"]]
    assert per_source["Limit"] == 15000
    per_address = rules["LimitPerAddress"]["Statement"]["RateBasedStatement"]
    assert per_address["AggregateKeyType"] == "IP"
    assert per_address["Limit"] == 6000
    assert "Block" in rules["LimitPerSource"]["Action"] and "Block" in rules["LimitPerAddress"]["Action"]


def test_api_gateway_answers_requests_without_signature_headers_without_invoking_the_function(synth: Synth) -> None:
    # the webhook routes are the POST methods (the read API's are GET, IAM-authorized: tests/infra/test_read_api.py)
    methods = [
        m for m in synth.resources("AWS::ApiGateway::Method").values() if m["Properties"]["HttpMethod"] == "POST"
    ]
    (method,) = [m for m in methods if "method.request.path.vendor" not in m["Properties"]["RequestParameters"]]
    required = {k for k, v in method["Properties"]["RequestParameters"].items() if v is True}
    assert {f"method.request.header.{h}" for h in ("webhook-id", "webhook-timestamp", "webhook-signature")} <= required
    validator = synth.resources("AWS::ApiGateway::RequestValidator")[method["Properties"]["RequestValidatorId"]["Ref"]]
    assert validator["Properties"]["ValidateRequestParameters"] is True
    responses = [
        r["Properties"]
        for r in synth.resources("AWS::ApiGateway::GatewayResponse").values()
        if r["Properties"]["ResponseType"] == "BAD_REQUEST_PARAMETERS"
    ]
    assert [r["StatusCode"] for r in responses] == ["401"]


def test_the_web_acl_can_be_switched_off_only_by_name() -> None:
    off = _synth({"billbridge:edge_firewall": "off"})
    assert off.resources("AWS::WAFv2::WebACL") == {}
    with pytest.raises(ValueError, match="edge_firewall"):
        _synth({"billbridge:edge_firewall": "false"})


def test_step_functions_logs_errors_without_execution_data(synth: Synth) -> None:
    (machine,) = synth.resources("AWS::StepFunctions::StateMachine").values()
    logging = machine["Properties"]["LoggingConfiguration"]
    assert logging["Level"] in ("ERROR", "FATAL", "OFF")
    assert logging["IncludeExecutionData"] is False


def test_every_log_group_is_encrypted_with_the_customer_managed_logs_key(synth: Synth) -> None:
    key_id = synth.logical_id(synth.stack.log_encryption.key)
    log_groups = synth.resources("AWS::Logs::LogGroup")
    assert len(log_groups) >= 3  # functions, API access logs, state machine
    for logical_id, log_group in log_groups.items():
        assert log_group["Properties"].get("KmsKeyId") == {"Fn::GetAtt": [key_id, "Arn"]}, logical_id
    key = synth.resources("AWS::KMS::Key")[key_id]["Properties"]
    assert key["EnableKeyRotation"] is True
    logs_statement = next(s for s in key["KeyPolicy"]["Statement"] if s.get("Sid") == "CloudWatchLogsOfThisAccount")
    assert "kms:EncryptionContext:aws:logs:arn" in logs_statement["Condition"]["ArnLike"]


def test_a_refused_delivery_is_recorded_in_a_partition_the_webhook_may_write() -> None:
    from billbridge.adapters.dynamo_refusal_log import DynamoRefusalLog

    class RecordingClient:
        def __init__(self) -> None:
            self.keys: list[str] = []

        def update_item(self, **request: Any) -> None:
            self.keys.append(request["Key"]["pk"]["S"])

    client = RecordingClient()
    DynamoRefusalLog(table_name="ledger", client=client).record_refusal(
        source="crm",
        event_id="evt-1",
        event_type="customer.upserted",
        rule="customer=erp",
        correlation_id="c",
        raw_key="k",
    )
    assert client.keys and all(key.startswith(DELIVERY_PARTITION_PREFIX) for key in client.keys)
