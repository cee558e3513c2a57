"""The stack outputs the operator CLI reads."""

from __future__ import annotations

from billbridge import topology

from tests.infra.conftest import Synthesized


def test_outputs_name_every_resource_an_operator_needs(synthesized: Synthesized) -> None:
    expected = {
        "ApiUrl",
        "EventBusName",
        "LedgerTableName",
        "RawPayloadBucketName",
        "WebhookSecretsArn",
        "BillingStateMachineArn",
        "AlarmTopicArn",
        "BillingStartDeadLetterQueueUrl",
    }
    for workflow in topology.WORKFLOWS:
        prefix = workflow.construct_id
        expected |= {
            f"{prefix}QueueUrl",
            f"{prefix}DeadLetterQueueUrl",
            f"{prefix}DeliveryDeadLetterQueueUrl",
        }
    assert expected <= set(synthesized.template["Outputs"])
