"""BillingRuns on Step Functions: the billing run state machine, one execution per run name.

The execution name is the run's identity: a name already used finds that
execution instead of starting another (a repeated schedule tick, a retried
`billbridge bill`). The execution is looked up before it is started because
`StartExecution` answers a running execution's name and input with the same
execution (not an error) and would read as a new start.

The same adapter serves the scheduled start function (its boto3 client), the
operator's command (its profile's client) and the embedded local stack (its
client of the in-process mock).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from billbridge.adapters.aws_client import LazyClient
from billbridge.app.ports import BillingRunStart

EXECUTION_DOES_NOT_EXIST = "ExecutionDoesNotExist"
EXECUTION_ALREADY_EXISTS = "ExecutionAlreadyExists"


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN Step Functions gives the execution `name` of `state_machine_arn`."""
    return state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"


class StepFunctionsBillingRuns:
    def __init__(self, *, state_machine_arn: str, client: Any | None = None) -> None:
        self._state_machine_arn = state_machine_arn
        self._stepfunctions = LazyClient("stepfunctions", client)

    def start_or_find(self, name: str, run_input: Mapping[str, Any]) -> BillingRunStart:
        from botocore.exceptions import ClientError

        arn = execution_arn(self._state_machine_arn, name)
        try:
            self._stepfunctions().describe_execution(executionArn=arn)
            return BillingRunStart(name=name, execution_id=arn, started=False)
        except ClientError as error:
            if _code(error) != EXECUTION_DOES_NOT_EXIST:
                raise
        try:
            response = self._stepfunctions().start_execution(
                stateMachineArn=self._state_machine_arn, name=name, input=json.dumps(dict(run_input))
            )
        except ClientError as error:
            if _code(error) != EXECUTION_ALREADY_EXISTS:
                raise
            return BillingRunStart(name=name, execution_id=arn, started=False)
        return BillingRunStart(name=name, execution_id=str(response["executionArn"]), started=True)


def _code(error: Any) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
