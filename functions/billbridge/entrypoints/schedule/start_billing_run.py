"""Starts the monthly billing run for the month that just ended.

The execution name is deterministic per (period, run request): a duplicated
trigger of the same schedule tick finds the execution already started and
starts nothing new.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from billbridge.observability import lambda_entrypoint


@lambda_entrypoint
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    import boto3

    from billbridge.app.billing_requests import execution_name, previous_period
    from billbridge.settings import hub_settings

    fired_at = _fired_at(event)
    period = str(event.get("period") or previous_period(fired_at))
    request_id = str(event.get("id") or event.get("request_id") or fired_at.isoformat())
    name = execution_name(period, None, request_id)
    client = boto3.client("stepfunctions")
    state_machine_arn = hub_settings().billing_state_machine_arn
    execution_arn = state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"
    try:
        client.describe_execution(executionArn=execution_arn)
        return {"started": False, "name": name, "reason": "already started for this request"}
    except client.exceptions.ExecutionDoesNotExist:
        pass
    try:
        response = client.start_execution(
            stateMachineArn=state_machine_arn,
            name=name,
            input=_input(period, name),
        )
        return {"started": True, "execution_arn": response["executionArn"], "name": name}
    except client.exceptions.ExecutionAlreadyExists:
        return {"started": False, "name": name, "reason": "already started for this request"}


def _input(period: str, run_id: str) -> str:
    import json

    return json.dumps({"period": period, "contract_ids": None, "run_id": run_id})


def _fired_at(event: dict[str, Any]) -> date:
    text = event.get("time")
    if text:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).date()
    return datetime.now(UTC).date()
