"""Every log group of the stack encrypted with one customer-managed KMS key.

Logs hold correlation ids, contract and invoice ids and, on errors, parts of
the events: they are encrypted at rest with a key the account controls (and
can revoke), rotation on. The key policy lets CloudWatch Logs of this account
and region use the key for this account's log groups only (the
`aws:logs:arn` encryption context). An aspect sets the key on every
`AWS::Logs::LogGroup` of the stack, so a log group added later cannot ship
without it.
"""

from __future__ import annotations

import aws_cdk as cdk
import jsii
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct

LOGS_KEY_ACTIONS = ("kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*")


class LogEncryption(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.key = kms.Key(
            self,
            "LogsKey",
            description="Encrypts the stack's CloudWatch log groups",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsOfThisAccount",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=list(LOGS_KEY_ACTIONS),
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:*"
                        )
                    }
                },
            )
        )
        cdk.Aspects.of(stack).add(EncryptLogGroups(self.key.key_arn))


@jsii.implements(cdk.IAspect)
class EncryptLogGroups:
    """Sets the customer-managed key on every log group that has none."""

    def __init__(self, key_arn: str) -> None:
        self._key_arn = key_arn

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, logs.CfnLogGroup) and node.kms_key_id is None:
            node.kms_key_id = self._key_arn
