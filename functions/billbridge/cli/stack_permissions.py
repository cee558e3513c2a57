"""What each command that acts on a deployed stack (`--stack`) calls in AWS, and which
human role runs it: the operator and approver roles (infra/constructs/security_controls.py)
carry exactly these actions, checked against the synthesized template.

`sts:GetCallerIdentity` (who is acting) needs no permission. `deployer` commands change the
ledger's layout or configuration: whoever deploys the stack runs them, not a human role.
"""

from __future__ import annotations

from collections.abc import Mapping

OPERATOR = "operator"
APPROVER = "approver"
DEPLOYER = "deployer"

STACK_OUTPUTS = frozenset({"cloudformation:DescribeStacks"})
LEDGER_READ = frozenset(
    {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:DescribeTable"}
)
LEDGER_WRITE = frozenset(
    {
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:ConditionCheckItem",
    }
)
READ = STACK_OUTPUTS | LEDGER_READ
DLQ_DEPTH = frozenset({"sqs:GetQueueAttributes"})
DLQ_PEEK = DLQ_DEPTH | {"sqs:ReceiveMessage", "sqs:ChangeMessageVisibility"}
DLQ_DELETE = DLQ_PEEK | {"sqs:DeleteMessage"}
DLQ_REDRIVE = DLQ_DELETE | {
    "sqs:StartMessageMoveTask",  # a consumer DLQ, whole: server side
    "sqs:ListMessageMoveTasks",  # its progress
    "sqs:SendMessage",  # one message, or a delivery DLQ's messages, back to the workflow queue
    "lambda:InvokeFunction",  # a scheduled function's failed invocation, invoked again
}

COMMANDS: Mapping[str, tuple[str, frozenset[str]]] = {
    "contracts list": (OPERATOR, READ),
    "contracts show": (OPERATOR, READ),
    "contracts propagation": (OPERATOR, READ),
    "customers list": (OPERATOR, READ),
    "customers show": (OPERATOR, READ),
    "config show": (OPERATOR, READ),
    "exceptions list": (OPERATOR, READ),
    "exceptions show": (OPERATOR, READ),
    "sync list": (OPERATOR, READ),
    "sync show": (OPERATOR, READ),
    "status": (OPERATOR, READ),
    "trace": (OPERATOR, READ),
    "report": (OPERATOR, READ | DLQ_DEPTH),
    "dlq list": (OPERATOR, STACK_OUTPUTS | DLQ_DEPTH),
    "dlq show": (OPERATOR, STACK_OUTPUTS | DLQ_PEEK),
    "dlq delete": (OPERATOR, STACK_OUTPUTS | DLQ_DELETE),
    "dlq redrive": (OPERATOR, STACK_OUTPUTS | DLQ_REDRIVE),
    "bill": (OPERATOR, READ | {"states:StartExecution", "states:DescribeExecution"}),
    # the archive and the bus by their ARNs in the stack's outputs
    "replay-archive": (OPERATOR, STACK_OUTPUTS | {"events:StartReplay"}),
    # publishes one `sync.retry_requested` event (source billbridge.ingest, that detail type only)
    "sync retry": (OPERATOR, READ | {"events:PutEvents"}),
    # writes the decision and publishes `billbridge.operations` events
    "exceptions approve": (APPROVER, READ | LEDGER_WRITE | {"events:PutEvents"}),
    "exceptions write-off": (APPROVER, READ | LEDGER_WRITE | {"events:PutEvents"}),
    "config load": (DEPLOYER, READ | LEDGER_WRITE),
    "migrate-ledger": (DEPLOYER, READ | LEDGER_WRITE),
}


READ_API_CALL = frozenset({"execute-api:Invoke"})
"""Operators and approvers also read the hub over HTTP: every route of the read API
(docs/decisions/0011-read-api.md), signed with the role's credentials."""


def actions_of_role(role: str) -> frozenset[str]:
    """Every action the role's commands call (an approver runs the operator's commands too),
    and the read API's routes for both."""
    roles = {OPERATOR: {OPERATOR}, APPROVER: {OPERATOR, APPROVER}}.get(role, {role})
    actions = frozenset(action for who, actions in COMMANDS.values() if who in roles for action in actions)
    return actions | READ_API_CALL if roles & {OPERATOR, APPROVER} else actions
