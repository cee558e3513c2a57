"""The billing state machine's parsed program is kept between processes; answers are moto's."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from billbridge.local.interpreter_cache import ParsedDefinitions
from botocore.exceptions import ClientError
from moto import mock_aws

pytestmark = pytest.mark.usefixtures("fake_aws_credentials")

DEFINITION = json.dumps(
    {
        "StartAt": "Choose",
        "States": {
            "Choose": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Many"}],
                "Default": "One",
            },
            "Many": {"Type": "Pass", "Result": "many", "End": True},
            "One": {"Type": "Pass", "Result": "one", "End": True},
        },
    }
)
ROLE = "arn:aws:iam::123456789012:role/local"


def run_twice(cache_dir: Path) -> tuple[list[str], int]:
    outputs = []
    with (
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        ParsedDefinitions(cache_dir) as parsed,
    ):
        sfn = boto3.client("stepfunctions")
        arn = sfn.create_state_machine(name="m", definition=DEFINITION, roleArn=ROLE)["stateMachineArn"]
        for n in (1, 5):
            execution = sfn.start_execution(stateMachineArn=arn, name=f"n-{n}", input=json.dumps({"n": n}))[
                "executionArn"
            ]
            while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
                pass
            outputs.append(f"{described['status']}:{described.get('output')}")
    return outputs, parsed.parsed


def test_a_second_process_runs_the_kept_program_with_the_same_results(tmp_path: Path) -> None:
    first, parsed_first = run_twice(tmp_path)
    again, parsed_again = run_twice(tmp_path)
    assert first == again == ["SUCCEEDED:one", "SUCCEEDED:many"]
    assert (parsed_first, parsed_again) == (1, 0)
    assert len(list(tmp_path.glob("state-machine-*.pickle"))) == 1


def test_each_execution_gets_its_own_copy_of_the_program(tmp_path: Path) -> None:
    cache = ParsedDefinitions(tmp_path)
    assert cache.program(DEFINITION) is not cache.program(DEFINITION)


def refusal_of_an_invalid_definition(cache_dir: Path | None) -> str:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sfn = boto3.client("stepfunctions")
        try:
            if cache_dir is None:
                sfn.create_state_machine(name="bad", definition='{"StartAt": 1}', roleArn=ROLE)
            else:
                with ParsedDefinitions(cache_dir):
                    sfn.create_state_machine(name="bad", definition='{"StartAt": 1}', roleArn=ROLE)
        except ClientError as error:
            return str(error)
    return "accepted"


def test_an_invalid_definition_is_refused_as_moto_refuses_it_and_not_kept(tmp_path: Path) -> None:
    refused = refusal_of_an_invalid_definition(tmp_path)
    assert refused == refusal_of_an_invalid_definition(None)
    assert "ASLParserException" in refused
    assert not list(tmp_path.glob("state-machine-*.pickle"))


def test_moto_parses_as_before_once_left(tmp_path: Path) -> None:
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    before = (
        StepFunctionsParserBackend.__dict__["_validate_definition"],
        ExecutionWorker.__dict__["_get_evaluation_entrypoint"],
    )
    with ParsedDefinitions(tmp_path):
        assert ExecutionWorker.__dict__["_get_evaluation_entrypoint"] is not before[1]
    after = (
        StepFunctionsParserBackend.__dict__["_validate_definition"],
        ExecutionWorker.__dict__["_get_evaluation_entrypoint"],
    )
    assert after == before
