"""One scheduled poller per vendor without webhooks: schedule, function, cursor in the ledger, DLQ, alarm."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from billbridge import topology

from infra.config import BillbridgeConfig
from infra.synth import build_app
from tests.infra.conftest import Synthesized

NETSUITE = {"erp/netsuite": {"api_base_url": "https://1234567.suitetalk.api.netsuite.com/services/rest"}}


def _schedule_of(template: dict[str, Any], function_id: str) -> dict[str, Any]:
    (schedule,) = (
        resource["Properties"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Scheduler::Schedule"
        and resource["Properties"]["Target"]["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    )
    return schedule


def test_each_poller_has_a_schedule_with_retries_and_a_dead_letter_queue_that_alarms(
    synthesized: Synthesized,
) -> None:
    assert [p.poller for p in synthesized.stack.vendor_pollers] == list(topology.VENDOR_POLLERS)
    alarms = synthesized.properties("AWS::CloudWatch::Alarm")
    for poller in synthesized.stack.vendor_pollers:
        function_id = synthesized.logical_id(poller.function.function)
        dlq_id = synthesized.logical_id(poller.dead_letter_queue)
        schedule = _schedule_of(synthesized.template, function_id)
        assert schedule["ScheduleExpression"] == poller.poller.schedule_expression
        target = schedule["Target"]
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq_id, "Arn"]}}
        assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
        function = synthesized.resources("AWS::Lambda::Function")[function_id]["Properties"]
        assert function["Handler"] == topology.POLL_VENDOR_HANDLER
        env = function["Environment"]["Variables"]
        assert env[topology.ENV_POLLER_NAME] == poller.poller.name
        assert topology.ENV_LEDGER_TABLE in env and topology.ENV_WEBHOOK_SECRETS_ARN in env
        assert any(
            dimension["Value"] == {"Fn::GetAtt": [dlq_id, "QueueName"]}
            for alarm in alarms
            if alarm.get("MetricName") == "ApproximateNumberOfMessagesVisible"
            for dimension in alarm.get("Dimensions", [])
        )
        assert f"{poller.poller.construct_id}PollerDeadLetterQueueUrl" in synthesized.template["Outputs"]


def test_a_poller_whose_vendor_is_not_configured_is_deployed_disabled(synthesized: Synthesized) -> None:
    for poller in synthesized.stack.vendor_pollers:
        schedule = _schedule_of(synthesized.template, synthesized.logical_id(poller.function.function))
        assert schedule["State"] == "DISABLED"


def test_a_configured_vendor_enables_its_poller_and_reaches_the_webhook_and_poller_functions(tmp_path: Path) -> None:
    configuration = json.dumps(NETSUITE)
    app, stack = build_app(outdir=str(tmp_path), context={"billbridge:vendor_adapters": configuration})
    template = app.synth().get_stack_artifact(stack.artifact_id).template
    states = {
        p.poller.name: _schedule_of(template, stack.resolve(p.function.function.node.default_child.logical_id))["State"]
        for p in stack.vendor_pollers
    }
    assert states == {"erp/netsuite": "ENABLED", "psa/kantata": "DISABLED", "crm/salesforce": "DISABLED"}
    functions = {
        r["Properties"]["Handler"]: r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
    }
    for handler in (topology.WEBHOOK_HANDLER, topology.POLL_VENDOR_HANDLER):
        assert functions[handler]["Environment"]["Variables"][topology.ENV_VENDOR_ADAPTERS] == configuration


@pytest.mark.parametrize("text", ["not json", "[]", '{"erp/netsuite": "x"}'])
def test_a_vendor_configuration_that_is_not_an_object_of_objects_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="vendor adapters configuration"):
        BillbridgeConfig(vendor_adapters=text)
