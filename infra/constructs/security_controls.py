"""Security controls: the personal-data key, the human roles, and the optional WAF association.

- `personal_data_key`: a customer-managed KMS key (rotation on) for field-level
  encryption of personal data in the ledger. Its key policy denies
  `kms:Decrypt` to every principal except the roles named in `decryptors`
  (the contracts consumer and `PersonalDataReaderRole`), whatever IAM policies
  elsewhere in the account say.
- `OperatorRole`: exactly what the operator's commands call
  (`billbridge.cli.stack_permissions`): reads the ledger (books, exceptions,
  audit) and the stack's outputs; inspects, deletes and redrives every
  dead-letter queue (moving a consumer DLQ server side, sending one message
  back to its workflow queue, invoking a scheduled function again); starts a
  billing run (`bill`); replays the bus's archive (`replay-archive`); requests
  a downstream command's retry (one event type of one source).
- `ApproverRole`: the operator's permissions plus writing the ledger and
  putting `billbridge.operations` events on the bus (and no other source):
  approving or writing off an exception.
- `PersonalDataReaderRole`: reads the ledger and may decrypt personal fields.
All three are assumed by principals of this account that signed in with MFA
(the account's IAM policies decide which users may assume which role).
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_wafv2 as wafv2
from billbridge import topology
from constructs import Construct

ROLE_SESSION_DURATION = cdk.Duration.hours(1)
APPROVER_EVENT_SOURCES = ("billbridge.operations",)
"""The sources an approver may put on the bus: what deciding an exception publishes."""
PURPOSE_CONDITION = {
    "StringEquals": {
        f"kms:EncryptionContext:{topology.FIELD_ENCRYPTION_CONTEXT_PURPOSE}": topology.FIELD_ENCRYPTION_PURPOSE
    }
}
DLQ_ACTIONS = (
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:StartMessageMoveTask",
    "sqs:ListMessageMoveTasks",
)
"""`dlq list|show|delete|redrive` on the dead-letter queues themselves."""
LEDGER_READ_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:DescribeTable",
)
LEDGER_WRITE_ACTIONS = (
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
)


class SecurityControls(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        ledger: dynamodb.ITable,
        bus: events.IEventBus,
        dead_letter_queues: Sequence[sqs.IQueue],
        redrive_queues: Sequence[sqs.IQueue],
        redrive_functions: Sequence[lambda_.IFunction] = (),
        state_machine: sfn.StateMachine | None = None,
        archive: events.Archive | None = None,
        waf_web_acl_arn: str = "",
        api_stage_arn: str = "",
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self._ledger = ledger
        self._decryptors: list[iam.IRole] = []

        self.personal_data_key = kms.Key(
            self,
            "PersonalDataKey",
            description="Field-level encryption of personal data (billing contacts) in the ledger",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )

        self.operator_role = self._human_role("OperatorRole", "Billbridge operator: reads, inspects, redrives")
        self.approver_role = self._human_role(
            "ApproverRole", "Billbridge approver: the operator's rights plus deciding exceptions"
        )
        self.personal_data_reader_role = self._human_role(
            "PersonalDataReaderRole", "Reads billing contacts (personal data) in the ledger"
        )

        for role in (self.operator_role, self.approver_role, self.personal_data_reader_role):
            self._read_ledger(role)
        for role in (self.operator_role, self.approver_role):
            self._operate(
                role,
                stack=stack,
                bus=bus,
                dead_letter_queues=dead_letter_queues,
                redrive_queues=redrive_queues,
                redrive_functions=redrive_functions,
                state_machine=state_machine,
                archive=archive,
            )
        self.approver_role.add_to_policy(
            iam.PolicyStatement(
                actions=list(LEDGER_WRITE_ACTIONS),  # transactions are authorised per item action
                resources=[ledger.table_arn],
            )
        )
        self.approver_role.add_to_policy(
            iam.PolicyStatement(
                actions=["events:PutEvents"],
                resources=[bus.event_bus_arn],
                # An approver publishes what deciding an exception publishes, never what a vendor
                # sends: `billbridge.ingest` events skip the signature and the raw-payload record.
                conditions={"StringEquals": {"events:source": list(APPROVER_EVENT_SOURCES)}},
            )
        )
        self.allow_decrypt(self.personal_data_reader_role)

        if waf_web_acl_arn:
            if not api_stage_arn:
                raise ValueError("a WAF web ACL needs the API stage to attach to")
            self.waf_association: wafv2.CfnWebACLAssociation | None = wafv2.CfnWebACLAssociation(
                self, "WebAclAssociation", resource_arn=api_stage_arn, web_acl_arn=waf_web_acl_arn
            )
        else:
            self.waf_association = None

    def _operate(
        self,
        role: iam.Role,
        *,
        stack: cdk.Stack,
        bus: events.IEventBus,
        dead_letter_queues: Sequence[sqs.IQueue],
        redrive_queues: Sequence[sqs.IQueue],
        redrive_functions: Sequence[lambda_.IFunction],
        state_machine: sfn.StateMachine | None,
        archive: events.Archive | None,
    ) -> None:
        """The operator's commands (billbridge.cli.stack_permissions), each on its own resources."""
        role.add_to_policy(iam.PolicyStatement(actions=["cloudformation:DescribeStacks"], resources=[stack.stack_id]))
        role.add_to_policy(
            iam.PolicyStatement(actions=list(DLQ_ACTIONS), resources=[q.queue_arn for q in dead_letter_queues])
        )
        # One message back to its workflow queue, and the destination of a message move task.
        role.add_to_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[q.queue_arn for q in redrive_queues])
        )
        if redrive_functions:
            # A scheduled function's failed invocation (billing start, KPIs, a poll) invoked again.
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["lambda:InvokeFunction"], resources=[f.function_arn for f in redrive_functions]
                )
            )
        if state_machine is not None:
            role.add_to_policy(
                iam.PolicyStatement(actions=["states:StartExecution"], resources=[state_machine.state_machine_arn])
            )
            executions = stack.format_arn(
                service="states",
                resource="execution",
                resource_name=f"{state_machine.state_machine_name}:*",
                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
            )
            role.add_to_policy(iam.PolicyStatement(actions=["states:DescribeExecution"], resources=[executions]))
            cdk.Validations.of(role).acknowledge(
                cdk.Acknowledgment(
                    id="AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<"
                    f"{_logical_id(state_machine)}.Name>:*]",
                    reason="`bill` follows the execution it started: DescribeExecution on the billing "
                    "state machine's executions only.",
                )
            )
        if archive is not None:
            # `replay-archive`: the archive and the bus are named by the stack's outputs.
            role.add_to_policy(iam.PolicyStatement(actions=["events:StartReplay"], resources=[archive.archive_arn]))
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["events:PutEvents"],
                resources=[bus.event_bus_arn],
                # `sync retry`: the retry request and nothing else of the ingest source.
                conditions={
                    "StringEquals": {
                        "events:source": [topology.INGEST_EVENT_SOURCE],
                        "events:detail-type": [topology.SYNC_RETRY_REQUESTED],
                    }
                },
            )
        )

    def _human_role(self, construct_id: str, description: str) -> iam.Role:
        role = iam.Role(
            self,
            construct_id,
            description=description,
            assumed_by=iam.AccountRootPrincipal().with_conditions({"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
            max_session_duration=ROLE_SESSION_DURATION,
        )
        return role

    def _read_ledger(self, role: iam.Role) -> None:
        role.add_to_policy(
            iam.PolicyStatement(
                actions=list(LEDGER_READ_ACTIONS),
                resources=[self._ledger.table_arn, f"{self._ledger.table_arn}/index/*"],
            )
        )
        cdk.Validations.of(role).acknowledge(
            cdk.Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::<{_logical_id(self._ledger)}.Arn>/index/*]",
                reason="Queries on the ledger's lookup index (exceptions, audit by correlation id); "
                "the wildcard covers only this table's indexes.",
            )
        )

    def allow_encrypt(self, role: iam.IRole) -> None:
        """New data keys for personal fields (the functions that store contract versions)."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey"],
                resources=[self.personal_data_key.key_arn],
                conditions=PURPOSE_CONDITION,
            )
        )

    def allow_decrypt(self, role: iam.IRole) -> None:
        """Reading personal fields: granted in IAM, and the role is excepted from the key policy's deny."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[self.personal_data_key.key_arn],
                conditions=PURPOSE_CONDITION,
            )
        )
        self._decryptors.append(role)

    def seal_key_policy(self) -> None:
        """Deny kms:Decrypt to everyone but the decryptors (call once, after every `allow_decrypt`)."""
        self.personal_data_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlyNamedRolesDecryptPersonalData",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["kms:Decrypt"],
                resources=["*"],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": [r.role_arn for r in self._decryptors]}},
            )
        )


def _logical_id(construct: Construct) -> str:
    return cdk.Stack.of(construct).get_logical_id(construct.node.default_child)  # type: ignore[arg-type]
