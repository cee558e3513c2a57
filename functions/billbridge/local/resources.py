"""The local stand-ins of the deployed resources, created from the topology constants."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from billbridge import topology
from billbridge.local.aws_environment import ACCOUNT_ID, PARTITION, REGION

OBSERVER_PATTERN: dict[str, Any] = {
    "source": [{"prefix": "billbridge."}],
    "$or": [{"source": [{"anything-but": [topology.INGEST_EVENT_SOURCE]}]}],
}
"""Every event the hub publishes itself (`billbridge.*` but not the ingested ones). Local only."""


@dataclass(frozen=True, slots=True)
class LocalNames:
    """Physical names and ARNs of the local resources; deterministic, so ARNs can be cached."""

    prefix: str = "billbridge-local"

    @property
    def ledger_table(self) -> str:
        return f"{self.prefix}-ledger"

    @property
    def raw_bucket(self) -> str:
        return f"{self.prefix}-raw-payloads"

    @property
    def billing_run_bucket(self) -> str:
        return f"{self.prefix}-billing-runs"

    @property
    def event_bus(self) -> str:
        return f"{self.prefix}-bus"

    @property
    def event_bus_arn(self) -> str:
        return f"arn:{PARTITION}:events:{REGION}:{ACCOUNT_ID}:event-bus/{self.event_bus}"

    @property
    def secret(self) -> str:
        return f"{self.prefix}/webhook-secrets"

    @property
    def state_machine(self) -> str:
        return f"{self.prefix}-billing-run"

    @property
    def state_machine_arn(self) -> str:
        return f"arn:{PARTITION}:states:{REGION}:{ACCOUNT_ID}:stateMachine:{self.state_machine}"

    @property
    def role_arn(self) -> str:
        return f"arn:{PARTITION}:iam::{ACCOUNT_ID}:role/{self.prefix}-role"

    @property
    def observer_queue(self) -> str:
        return f"{self.prefix}-observer"

    def queue(self, workflow: topology.Workflow) -> str:
        return f"{self.prefix}-{workflow.name}"

    def dead_letter_queue(self, workflow: topology.Workflow) -> str:
        return f"{self.prefix}-{workflow.name}-dlq"

    def delivery_dead_letter_queue(self, workflow: topology.Workflow) -> str:
        """The DLQ of the bus rule's target that feeds the workflow's queue (as deployed)."""
        return f"{self.prefix}-{workflow.name}-delivery-dlq"

    def scheduled_dead_letter_queue(self, function: str) -> str:
        """The DLQ of a scheduled function (`billing-start`, `kpi-publisher`, `poll-erp-netsuite`)."""
        return f"{self.prefix}-{function}-dlq"

    def queue_arn(self, queue_name: str) -> str:
        return f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT_ID}:{queue_name}"

    def queue_url(self, queue_name: str) -> str:
        return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{queue_name}"

    def table_arn(self, table_name: str) -> str:
        return f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT_ID}:table/{table_name}"

    def function(self, task: topology.WorkflowTask) -> str:
        return f"{self.prefix}-{task.name}"

    def function_arn(self, task: topology.WorkflowTask) -> str:
        return f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function(task)}"

    def queue_names(self) -> dict[str, str]:
        """Snapshot key -> physical name of every queue: each workflow's, its DLQ's, the observer's."""
        names: dict[str, str] = {}
        for workflow in topology.WORKFLOWS:
            names[workflow.name] = self.queue(workflow)
            names[f"{workflow.name}-dlq"] = self.dead_letter_queue(workflow)
            names[f"{workflow.name}-delivery-dlq"] = self.delivery_dead_letter_queue(workflow)
        for function in topology.SCHEDULED_FUNCTIONS:
            names[f"{function}-dlq"] = self.scheduled_dead_letter_queue(function)
        for queue in topology.INTAKE_WORK_QUEUES.values():
            names[queue] = f"{self.prefix}-{queue}"
            names[f"{queue}-dlq"] = f"{self.prefix}-{queue}-dlq"
        names["observer"] = self.observer_queue
        return names


def _key_schema(keys: topology.KeySchema) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    schema = [{"AttributeName": keys.partition_key, "KeyType": "HASH"}]
    attributes = [{"AttributeName": keys.partition_key, "AttributeType": "S"}]
    if keys.sort_key:
        schema.append({"AttributeName": keys.sort_key, "KeyType": "RANGE"})
        attributes.append({"AttributeName": keys.sort_key, "AttributeType": "S"})
    return schema, attributes


def create_ledger_table(dynamodb: Any, name: str) -> None:
    """The ledger table and its lookup index, from the key-schema constants the stack uses."""
    ledger_schema, ledger_attributes = _key_schema(topology.LEDGER_TABLE)
    lookup_schema, lookup_attributes = _key_schema(topology.LEDGER_LOOKUP_KEYS)
    dynamodb.create_table(
        TableName=name,
        KeySchema=ledger_schema,
        AttributeDefinitions=ledger_attributes + lookup_attributes,
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[
            {
                "IndexName": topology.LEDGER_LOOKUP_INDEX,
                "KeySchema": lookup_schema,
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )


def create_tables(dynamodb: Any, names: LocalNames) -> None:
    create_ledger_table(dynamodb, names.ledger_table)
    for table, keys in ((names.ledger_table, topology.LEDGER_TABLE),):
        if keys.ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=table,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": keys.ttl_attribute},
            )


def create_queues_and_rules(sqs: Any, events: Any, names: LocalNames) -> None:
    events.create_event_bus(Name=names.event_bus)
    for workflow in topology.WORKFLOWS:
        dlq_name = names.dead_letter_queue(workflow)
        sqs.create_queue(QueueName=dlq_name)
        sqs.create_queue(QueueName=names.delivery_dead_letter_queue(workflow))
        sqs.create_queue(
            QueueName=names.queue(workflow),
            Attributes={
                "RedrivePolicy": json.dumps(
                    {
                        "deadLetterTargetArn": names.queue_arn(dlq_name),
                        "maxReceiveCount": workflow.max_receive_count,
                    }
                ),
                "VisibilityTimeout": "30",
            },
        )
        _route(
            events,
            names,
            rule=names.queue(workflow),
            pattern=workflow.event_pattern,
            queue=names.queue(workflow),
        )
    for function in topology.SCHEDULED_FUNCTIONS:
        sqs.create_queue(QueueName=names.scheduled_dead_letter_queue(function))
    sqs.create_queue(QueueName=names.observer_queue)
    _route(events, names, rule=names.observer_queue, pattern=OBSERVER_PATTERN, queue=names.observer_queue)


def _route(events: Any, names: LocalNames, *, rule: str, pattern: Mapping[str, Any], queue: str) -> None:
    events.put_rule(Name=rule, EventBusName=names.event_bus, EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(
        Rule=rule,
        EventBusName=names.event_bus,
        Targets=[{"Id": "queue", "Arn": names.queue_arn(queue)}],
    )


def create_bucket(s3: Any, names: LocalNames) -> None:
    s3.create_bucket(Bucket=names.raw_bucket)
    s3.create_bucket(Bucket=names.billing_run_bucket)


def webhook_secrets_document(secrets: Mapping[str, Sequence[str]] | None) -> dict[str, list[str]]:
    """The secret's JSON: every webhook source present, unknown sources rejected.

    Vendor adapters keep their keys beside them: `"{source}/{vendor}"` (webhook signing
    keys) and `"api:{source}/{vendor}"` (API credentials), for a known source."""
    given = dict(secrets or {})
    unknown = sorted(key for key in given if _secret_source(key) not in topology.WEBHOOK_SOURCES)
    if unknown:
        raise ValueError(f"webhook secrets for unknown source(s) {unknown}; sources: {topology.WEBHOOK_SOURCES}")
    document = {source: list(given.get(source, ())) for source in topology.WEBHOOK_SOURCES}
    document.update({key: list(values) for key, values in given.items() if key not in document})
    return document


def _secret_source(key: str) -> str:
    return key.removeprefix("api:").split("/", 1)[0]


def create_secret(secretsmanager: Any, names: LocalNames, secrets: Mapping[str, Sequence[str]] | None) -> str:
    response = secretsmanager.create_secret(
        Name=names.secret, SecretString=json.dumps(webhook_secrets_document(secrets))
    )
    return str(response["ARN"])


def _placeholder_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("placeholder.py", "# the local stack runs the handler in-process\n")
    return buffer.getvalue()


def create_task_functions(iam: Any, awslambda: Any, names: LocalNames) -> None:
    """One function per billing task; its `Handler` is the topology handler path the dispatcher runs."""
    iam.create_role(
        RoleName=names.role_arn.rsplit("/", 1)[1],
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )
    code = _placeholder_zip()
    for task in topology.BILLING_TASKS:
        awslambda.create_function(
            FunctionName=names.function(task),
            Runtime="python3.13",
            Role=names.role_arn,
            Handler=task.handler,
            Code={"ZipFile": code},
            Timeout=60,
            MemorySize=512,
        )


def create_state_machine(stepfunctions: Any, names: LocalNames, definition: str) -> None:
    stepfunctions.create_state_machine(
        name=names.state_machine, definition=definition, roleArn=names.role_arn, type="STANDARD"
    )
