"""The billing state machine runs from the template's definition, its Lambda tasks in-process."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from billbridge import topology
from billbridge.local import definition
from billbridge.local.resources import LocalNames
from billbridge.local.stack import LocalStack
from conftest import FAILED_TASK_INPUTS, STANDINS, billing_template

TASKS = {task.name: task for task in topology.BILLING_TASKS}


@pytest.fixture
def fresh_infra_imports() -> Iterator[None]:
    """Lets a test import another `infra` package; the checkout's modules are back afterwards."""
    saved = {m: sys.modules.pop(m) for m in list(sys.modules) if m == "infra" or m.startswith("infra.")}
    path = list(sys.path)
    yield
    for module in [m for m in sys.modules if m == "infra" or m.startswith("infra.")]:
        del sys.modules[module]
    sys.modules.update(saved)
    sys.path[:] = path


def forget_infra_imports() -> None:
    for module in [m for m in sys.modules if m == "infra" or m.startswith("infra.")]:
        del sys.modules[module]


def test_lambda_tasks_run_in_process_and_a_raised_exception_is_caught_by_its_name(stack: LocalStack) -> None:
    FAILED_TASK_INPUTS.clear()  # recorded by the stand-in across the session
    result = stack.start_billing_run({"period": "2026-03", "contracts": ["SOW-1", "BAD-2"]}, name="run-2026-03")

    assert result["status"] == "SUCCEEDED", result
    assert result["output"]["invoices"] == [
        {"contract_id": "SOW-1", "total": "100.00", "posted": True},
        {"contract_id": "BAD-2", "failed": "ComposeRejectedError"},
    ]
    (failure,) = FAILED_TASK_INPUTS
    cause = json.loads(failure["error"]["Cause"])
    assert (cause["errorType"], cause["errorMessage"]) == ("ComposeRejectedError", "no rate for BAD-2")


def test_an_uncaught_task_error_fails_the_execution_with_the_exception_name(stack: LocalStack) -> None:
    def select_fails(event: dict[str, Any], context: Any) -> None:
        raise KeyError("period")

    stack.resolver.override(TASKS["select_contracts"].handler, select_fails)

    result = stack.start_billing_run({"period": "2026-03", "contracts": []}, name="run-fails")

    assert (result["status"], result["error"]) == ("FAILED", "KeyError")


def test_starting_a_run_twice_with_one_name_returns_the_first_execution(stack: LocalStack) -> None:
    first = stack.start_billing_run({"period": "2026-03", "contracts": ["SOW-1"]}, name="run-once")
    same_input = stack.start_billing_run({"period": "2026-03", "contracts": ["SOW-1"]}, name="run-once")
    other_input = stack.start_billing_run({"period": "2026-04", "contracts": []}, name="run-once")

    assert first == same_input == other_input
    sfn = stack.client("stepfunctions")
    assert len(sfn.list_executions(stateMachineArn=stack.names.state_machine_arn)["executions"]) == 1


def test_the_definition_references_are_resolved_to_the_local_resources() -> None:
    names = LocalNames()

    resolved = json.loads(definition.TemplateResolver(billing_template(), names).definition())

    select = resolved["States"]["Select"]
    assert select["Resource"] == "arn:aws:states:::lambda:invoke"
    assert select["Parameters"]["FunctionName"] == names.function_arn(TASKS["select_contracts"])
    post = resolved["States"]["EachContract"]["Iterator"]["States"]["Post"]
    assert post["Resource"] == names.function_arn(TASKS["post_invoice"])


def test_a_reference_without_local_stand_in_is_an_error_naming_it() -> None:
    template = billing_template()
    machine = template["Resources"]["BillingRunStateMachine0F1E2D3C"]
    machine["Properties"]["DefinitionString"]["Fn::Join"][1].append({"Fn::GetAtt": ["UnrelatedTopic", "Arn"]})

    with pytest.raises(definition.UnresolvableReferenceError, match="UnrelatedTopic"):
        definition.TemplateResolver(template, LocalNames()).definition()


def test_the_pruned_template_keeps_only_what_the_definition_needs() -> None:
    pruned = definition.prune_template(billing_template())

    assert "UnrelatedTopic" not in pruned["Resources"]
    assert (
        definition.TemplateResolver(pruned, LocalNames()).definition()
        == definition.TemplateResolver(billing_template(), LocalNames()).definition()
    )


@pytest.mark.usefixtures("fresh_infra_imports")
def test_the_synthesized_template_is_cached_until_the_infra_code_changes(tmp_path: Path) -> None:
    (tmp_path / "functions").mkdir()
    infra = tmp_path / "infra"
    infra.mkdir()
    (infra / "__init__.py").write_text("")
    (infra / "synth.py").write_text(
        "import json, pathlib\n"
        "CALLS = pathlib.Path(__file__).parents[1] / 'calls'\n"
        "def synthesize_template():\n"
        "    CALLS.write_text(CALLS.read_text() + 'x' if CALLS.exists() else 'x')\n"
        f"    return json.loads({json.dumps(json.dumps(billing_template()))})\n"
    )

    first = definition.load_billing_template(tmp_path)
    second = definition.load_billing_template(tmp_path)
    (infra / "stack.py").write_text("# changed\n")
    forget_infra_imports()
    third = definition.load_billing_template(tmp_path)

    assert first == second == third == definition.prune_template(billing_template())
    assert (tmp_path / "calls").read_text() == "xx"
    assert (tmp_path / definition.CACHE_RELATIVE_PATH).is_file()


@pytest.mark.usefixtures("fresh_infra_imports")
def test_a_missing_synth_module_is_reported_clearly(tmp_path: Path) -> None:
    (tmp_path / "functions").mkdir()
    (tmp_path / "infra").mkdir()
    sys.path[:] = [p for p in sys.path if not (Path(p or ".") / "infra").is_dir()]

    with pytest.raises(definition.DefinitionUnavailableError, match=r"cannot import infra\.synth"):
        LocalStack(handlers=STANDINS, repo_root=tmp_path).__enter__()
