"""Security controls in the synthesized template: no unexplained wildcard, who may decrypt
personal data, what the operator and approver roles may do, retention settings, optional WAF.

(Template tests without AWS; they live with the other security tests so that each control
and its test are found together.)"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from billbridge.topology import ENV_AUDIT_RETENTION_DAYS, ENV_FIELD_DECRYPTION, ENV_FIELD_ENCRYPTION_KEY_ARN

from infra.stack import BillbridgeStack
from infra.synth import build_app


@dataclass(frozen=True)
class Allowed:
    """One acknowledged wildcard: the actions it may cover, the resources it may name, and why."""

    actions: frozenset[str]
    resource: str
    """A regex over the flattened resource (`<LogicalId.Arn>` for GetAtt)."""
    reason: str


WILDCARD_ALLOW_LIST: tuple[Allowed, ...] = (
    Allowed(
        frozenset({"xray:PutTraceSegments", "xray:PutTelemetryRecords"}),
        r"\*",
        "X-Ray has no resource-level permissions.",
    ),
    Allowed(
        frozenset(
            {
                "logs:CreateLogDelivery",
                "logs:GetLogDelivery",
                "logs:UpdateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:DescribeResourcePolicies",
                "logs:DescribeLogGroups",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
                "xray:PutTelemetryRecords",
                "xray:PutTraceSegments",
            }
        ),
        r"\*",
        "The state machine's log delivery and tracing: these actions have no resource-level permissions.",
    ),
    Allowed(
        frozenset({"lambda:InvokeFunction"}),
        r"<[A-Za-z0-9]+Function[A-Z0-9]+\.Arn>:\*",
        "Invoking one function's versions and aliases (state machine tasks, scheduler target).",
    ),
    Allowed(
        frozenset({"s3:PutObject"}),
        r"<RawPayloadsBucket[A-Z0-9]+\.Arn>/\*",
        "The webhook writes new objects (one key per delivery) into the raw payload bucket only.",
    ),
    Allowed(
        frozenset(
            {
                "dynamodb:BatchGetItem",
                "dynamodb:BatchWriteItem",
                "dynamodb:ConditionCheckItem",
                "dynamodb:DeleteItem",
                "dynamodb:DescribeTable",
                "dynamodb:GetItem",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:PutItem",
                "dynamodb:Query",
                "dynamodb:Scan",
                "dynamodb:UpdateItem",
            }
        ),
        r"<TablesLedger[A-Z0-9]+\.Arn>/index/\*",
        "The ledger's lookup index (exceptions, contracts, audit by correlation id).",
    ),
    Allowed(
        frozenset({"execute-api:Invoke"}),
        r"arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<ReadApi[A-Za-z0-9]+>/v1/GET/[a-z]+/\*",
        "One read route with a path parameter (GET /contracts/{contract_id}, ...): the wildcard is its value.",
    ),
    Allowed(
        frozenset({"states:DescribeExecution"}),
        r"arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:.*:\*",
        "The starter reads the executions of its own state machine (deterministic run names).",
    ),
    Allowed(
        frozenset({"s3:PutObject", "s3:GetObject"}),
        r"<BillingWorkflowRunWorkspace[A-Z0-9]+\.Arn>/runs/\*",
        "Billing run tasks write and read their run's batches and summaries; each run has a new prefix.",
    ),
    Allowed(
        frozenset({"s3:PutObject"}),
        r"<BillingWorkflowRunWorkspace[A-Z0-9]+\.Arn>/commands/\*",
        "PostInvoice writes the claim check of an ERP command too large for an event, one object per command identity.",
    ),
    Allowed(
        frozenset({"s3:AbortMultipartUpload", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:PutObject"}),
        r"arn:<AWS::Partition>:s3:::<BillingWorkflowRunWorkspace[A-Z0-9]+>/\*",
        "The Distributed Map's item reader and result writer, on the run workspace bucket only.",
    ),
    Allowed(
        frozenset({"s3:GetObject", "s3:PutObject"}),
        r"<(BulkIntakeBucket|RawPayloadsBucket)[A-Z0-9]+\.Arn>/\*",
        "Bulk intake reads and writes the intake bucket's files and results by key; the chunk workers "
        "read the chunks the splitter kept in the raw payload bucket (decision 12).",
    ),
    Allowed(
        frozenset(
            {
                "s3:Abort*",
                "s3:DeleteObject*",
                "s3:GetBucket*",
                "s3:GetObject*",
                "s3:List*",
                "s3:PutObject",
                "s3:PutObjectLegalHold",
                "s3:PutObjectRetention",
                "s3:PutObjectTagging",
                "s3:PutObjectVersionTagging",
            }
        ),
        r"<DataFeedBucket[A-Z0-9]+\.Arn>/\*",
        "Firehose's S3 destination role as CDK grants it, on the feed bucket's objects only.",
    ),
    Allowed(
        frozenset({"states:DescribeExecution", "states:StopExecution", "states:RedriveExecution"}),
        r"arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:.*BillingWorkflowStateMachine.*:\*",
        "The Distributed Map describes, stops and redrives its own child executions.",
    ),
)

KEY_POLICY_ALLOW_LIST: tuple[Allowed, ...] = (
    Allowed(
        frozenset({"kms:*"}),
        r"\*",
        "The account administers its keys (CDK's default key policy); `*` in a key policy is the key itself.",
    ),
    Allowed(
        frozenset({"kms:Decrypt", "kms:GenerateDataKey*"}),
        r"\*",
        "CloudWatch publishes alarms to the encrypted SNS topic.",
    ),
    Allowed(
        frozenset({"kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"}),
        r"\*",
        "CloudWatch Logs encrypts this account's log groups with the logs key (bounded by the "
        "aws:logs:arn encryption context).",
    ),
)


def _flat(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "Fn::Join" in value:
            return "".join(_flat(part) for part in value["Fn::Join"][1])
        if "Fn::GetAtt" in value:
            return f"<{value['Fn::GetAtt'][0]}.{value['Fn::GetAtt'][1]}>"
        if "Ref" in value:
            return f"<{value['Ref']}>"
    return repr(value)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Synth:
    stack: BillbridgeStack
    template: dict[str, Any]

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == kind}

    def logical_id(self, construct: Any) -> str:
        return self.stack.resolve(construct.node.default_child.logical_id)  # type: ignore[no-any-return]

    def identity_statements(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for logical_id, policy in self.resources("AWS::IAM::Policy").items():
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                yield logical_id, statement
        for logical_id, role in self.resources("AWS::IAM::Role").items():
            for inline in role["Properties"].get("Policies", []):
                for statement in inline["PolicyDocument"]["Statement"]:
                    yield logical_id, statement

    def role_actions(self, role: Any) -> dict[str, list[str]]:
        role_id = self.logical_id(role)
        actions: dict[str, list[str]] = {}
        for policy in self.resources("AWS::IAM::Policy").values():
            if {"Ref": role_id} not in policy["Properties"]["Roles"]:
                continue
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                for action in _as_list(statement["Action"]):
                    actions.setdefault(action, []).extend(_flat(r) for r in _as_list(statement["Resource"]))
        return actions


def _synth(context: dict[str, Any] | None = None) -> Synth:
    with tempfile.TemporaryDirectory(prefix="billbridge-security-") as outdir:
        app, stack = build_app(outdir=outdir, context=context)
        assembly = app.synth()
        return Synth(stack=stack, template=assembly.get_stack_artifact(stack.artifact_id).template)


@pytest.fixture(scope="module")
def synth() -> Synth:
    return _synth()


def _unacknowledged(statements: Iterator[tuple[str, dict[str, Any]]], allowed: tuple[Allowed, ...]) -> list[Any]:
    findings = []
    for logical_id, statement in statements:
        if statement.get("Effect") != "Allow":
            continue  # a Deny with a wildcard only takes rights away
        actions = {str(a) for a in _as_list(statement.get("Action", []))}
        resources = [_flat(r) for r in _as_list(statement.get("Resource", []))]
        wild_resources = [r for r in resources if "*" in r]
        if not wild_resources and not any("*" in a for a in actions):
            continue
        if not any(
            actions <= entry.actions and all(re.fullmatch(entry.resource, r) for r in wild_resources)
            for entry in allowed
        ):
            findings.append((logical_id, sorted(actions), wild_resources))
    return findings


def test_every_wildcard_in_an_identity_policy_is_acknowledged_with_a_reason(synth: Synth) -> None:
    assert _unacknowledged(synth.identity_statements(), WILDCARD_ALLOW_LIST) == []
    assert all(entry.reason for entry in WILDCARD_ALLOW_LIST)


def test_every_wildcard_in_a_key_policy_is_acknowledged_with_a_reason(synth: Synth) -> None:
    statements = (
        (logical_id, statement)
        for logical_id, key in synth.resources("AWS::KMS::Key").items()
        for statement in key["Properties"]["KeyPolicy"]["Statement"]
    )
    assert _unacknowledged(statements, KEY_POLICY_ALLOW_LIST) == []


def test_the_walk_finds_a_new_wildcard() -> None:
    """The check is live: a statement outside the allow-list is reported."""
    statement = {"Effect": "Allow", "Action": ["dynamodb:*"], "Resource": "*"}
    assert _unacknowledged(iter([("Probe", statement)]), WILDCARD_ALLOW_LIST) == [("Probe", ["dynamodb:*"], ["*"])]


def test_only_the_contracts_consumer_and_the_reader_role_may_decrypt_personal_data(synth: Synth) -> None:
    stack = synth.stack
    key = synth.resources("AWS::KMS::Key")[synth.logical_id(stack.security.personal_data_key)]
    assert key["Properties"]["EnableKeyRotation"] is True
    (deny,) = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s["Effect"] == "Deny"]
    assert deny["Action"] == "kms:Decrypt"
    excepted = {r["Fn::GetAtt"][0] for r in deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]}
    contracts = next(c for c in stack.consumers if c.workflow.name == "contracts")
    assert excepted == {
        synth.logical_id(contracts.consumer.role),
        synth.logical_id(stack.security.personal_data_reader_role),
    }
    key_arn = f"<{synth.logical_id(stack.security.personal_data_key)}.Arn>"
    decryptors = {
        policy_id
        for policy_id, statement in synth.identity_statements()
        if "kms:Decrypt" in _as_list(statement["Action"])
        and key_arn in [_flat(r) for r in _as_list(statement["Resource"])]
    }
    assert len(decryptors) == 2
    for role in (stack.security.operator_role, stack.security.approver_role):
        assert not any(a.startswith("kms:") for a in synth.role_actions(role))


def test_only_the_webhook_seals_and_only_the_contracts_consumer_opens_contacts(synth: Synth) -> None:
    contracts = next(c for c in synth.stack.consumers if c.workflow.name == "contracts")
    contracts_id = synth.logical_id(contracts.consumer.function)
    webhook_id = synth.logical_id(synth.stack.webhook.function)
    for logical_id, function in synth.resources("AWS::Lambda::Function").items():
        variables = function["Properties"]["Environment"]["Variables"]
        sealed = ENV_FIELD_ENCRYPTION_KEY_ARN in variables
        assert sealed == (logical_id in (contracts_id, webhook_id)), logical_id
        assert (variables.get(ENV_FIELD_DECRYPTION) == "enabled") == (logical_id == contracts_id)
        assert variables[ENV_AUDIT_RETENTION_DAYS] == "2557"


def test_the_operator_reads_and_redrives_and_only_the_approver_writes_the_ledger(synth: Synth) -> None:
    security = synth.stack.security
    operator = synth.role_actions(security.operator_role)
    approver = synth.role_actions(security.approver_role)
    writes = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
    assert {"dynamodb:GetItem", "dynamodb:Query", "sqs:ReceiveMessage", "sqs:StartMessageMoveTask"} <= set(operator)
    assert "sqs:SendMessage" in operator  # redrive to the workflow queues
    assert not writes & set(operator)
    # the operator's only event: a retry request (`sync retry`); the approver's: decisions too
    assert "events:PutEvents" in operator and "events:PutEvents" in approver
    assert writes <= set(approver)
    assert set(operator) <= set(approver)
    ledger_arn = f"<{synth.logical_id(synth.stack.tables.ledger)}.Arn>"
    assert set(approver["dynamodb:PutItem"]) == {ledger_arn}


def test_human_roles_need_mfa_and_short_sessions(synth: Synth) -> None:
    security = synth.stack.security
    roles = synth.resources("AWS::IAM::Role")
    for role in (security.operator_role, security.approver_role, security.personal_data_reader_role):
        properties = roles[synth.logical_id(role)]["Properties"]
        (statement,) = properties["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
        assert properties["MaxSessionDuration"] == 3600


def test_retention_of_logs_raw_payloads_and_ttl_of_records(synth: Synth) -> None:
    for log_group in synth.resources("AWS::Logs::LogGroup").values():
        assert log_group["Properties"]["RetentionInDays"] == 90
    bucket = synth.resources("AWS::S3::Bucket")[synth.logical_id(synth.stack.raw_payloads.bucket)]
    (rule,) = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == 400
    for table in synth.resources("AWS::DynamoDB::Table").values():
        assert table["Properties"]["TimeToLiveSpecification"]["Enabled"] is True


def test_a_waf_web_acl_is_attached_to_the_stage_when_configured() -> None:
    acl = "arn:aws:wafv2:us-east-1:111111111111:regional/webacl/billbridge/abc"
    configured = _synth({"billbridge:waf_web_acl_arn": acl})
    (association,) = configured.resources("AWS::WAFv2::WebACLAssociation").values()
    assert association["Properties"]["WebACLArn"] == acl
    stage_id = configured.logical_id(configured.stack.webhook_api.api.deployment_stage)
    assert _flat(association["Properties"]["ResourceArn"]).endswith(f"/stages/<{stage_id}>")


def test_the_stacks_own_web_acl_guards_the_stage_by_default(synth: Synth) -> None:
    """Changed deliberately: the edge has a WAF by default (it had none)."""
    (association,) = synth.resources("AWS::WAFv2::WebACLAssociation").values()
    stage_id = synth.logical_id(synth.stack.webhook_api.api.deployment_stage)
    assert _flat(association["Properties"]["ResourceArn"]).endswith(f"/stages/<{stage_id}>")
    (acl_id,) = synth.resources("AWS::WAFv2::WebACL")
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}


def test_an_organisations_web_acl_replaces_the_stacks_own() -> None:
    acl = "arn:aws:wafv2:us-east-1:111111111111:regional/webacl/billbridge/abc"
    configured = _synth({"billbridge:waf_web_acl_arn": acl})
    assert configured.resources("AWS::WAFv2::WebACL") == {}
    assert [a["Properties"]["WebACLArn"] for a in configured.resources("AWS::WAFv2::WebACLAssociation").values()] == [
        acl
    ]
