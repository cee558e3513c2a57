"""The billing state machine's definition, read from the synthesized CloudFormation template.

The local stack runs the same Amazon States Language document as the deployed
stack. The template's `DefinitionString` holds CloudFormation intrinsics
(`Fn::Join`, `Fn::GetAtt`, `Ref`) that are resolved here against the local
resources: a Lambda function is matched to a billing task by its `Handler`,
tables by their key schema, queues by the workflow construct id in their
logical id.

One field is translated for moto's interpreter, and only that one: a Distributed
Map's `ProcessorConfig.ExecutionType` of `EXPRESS` is given as `STANDARD`
(`for_the_local_interpreter`). moto's ASL grammar accepts only `STANDARD` there,
and it evaluates a Distributed Map's children inline whatever their type, so
the type changes how AWS bills and bounds a child (per request and duration, at
most 5 minutes; docs/decisions/0005-cost-per-entry.md), not what the local
stack does.

Synthesizing takes seconds, so the part of the template the definition needs
is cached in `.build/billing-definition.json`, keyed by a hash of the infra
code, `topology.py` and this module.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from billbridge import topology
from billbridge.local.aws_environment import ACCOUNT_ID, PARTITION, REGION
from billbridge.local.resources import LocalNames

STATE_MACHINE_TYPE = "AWS::StepFunctions::StateMachine"
CACHE_RELATIVE_PATH = Path(".build") / "billing-definition.json"
PSEUDO_PARAMETERS: Mapping[str, str] = {
    "AWS::Partition": PARTITION,
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "billbridge-local",
    "AWS::NoValue": "",
}
RUN_WORKSPACE_ID = "RunWorkspace"
"""The billing workflow's bucket (batches and summaries of runs); any other bucket is the raw payloads'."""
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


INTERPRETER_PARSER_LOGGER = "moto.stepfunctions.parser.asl.parse.preprocessor"


def quiet_interpreter_notices() -> None:
    """moto's ASL parser warns, on every execution, that it does not enforce
    `ToleratedFailureCount`; the run does not rely on it (ConcludeRun counts the batches)."""
    logging.getLogger(INTERPRETER_PARSER_LOGGER).setLevel(logging.ERROR)


LOCAL_CHILD_EXECUTION_TYPE = "STANDARD"
"""The only Distributed Map child execution type moto's ASL grammar parses."""


def for_the_local_interpreter(definition: Any) -> Any:
    """The definition with every Distributed Map's child `ExecutionType` given as moto's
    grammar needs it; everything else is returned as it is."""
    if isinstance(definition, list):
        return [for_the_local_interpreter(item) for item in definition]
    if not isinstance(definition, dict):
        return definition
    translated = {key: for_the_local_interpreter(value) for key, value in definition.items()}
    config = translated.get("ProcessorConfig")
    if isinstance(config, dict) and config.get("Mode") == "DISTRIBUTED" and "ExecutionType" in config:
        translated["ProcessorConfig"] = {**config, "ExecutionType": LOCAL_CHILD_EXECUTION_TYPE}
    return translated


class DefinitionUnavailableError(RuntimeError):
    """The synthesized template cannot be produced or holds no usable state machine."""


class UnresolvableReferenceError(DefinitionUnavailableError):
    """The definition refers to a template resource the local stack has no stand-in for."""


def find_repo_root(start: Path | None = None) -> Path:
    """The nearest directory (from `start`, default the current one) holding `infra/`, else the checkout."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / "infra").is_dir() and (directory / "functions").is_dir():
            return directory
    return Path(__file__).resolve().parents[3]


def _state_machine(template: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    machines = {
        logical_id: resource
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") == STATE_MACHINE_TYPE
    }
    if len(machines) > 1:
        machines = {k: v for k, v in machines.items() if "billing" in k.lower()} or machines
    if len(machines) != 1:
        raise DefinitionUnavailableError(
            f"expected one {STATE_MACHINE_TYPE} in the template, found {sorted(machines) or 'none'}"
        )
    return next(iter(machines.items()))


def _referenced_ids(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str) and not value.startswith("AWS::"):
                found.add(value)
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) else str(value).split(".", 1)[0]
                found.add(target)
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                for name in _SUB_VARIABLE.findall(text):
                    if not name.startswith("AWS::"):
                        found.add(name.split(".", 1)[0])
                found |= _referenced_ids(value[1] if isinstance(value, list) else None)
            else:
                found |= _referenced_ids(value)
    elif isinstance(node, list):
        for item in node:
            found |= _referenced_ids(item)
    return found


def prune_template(template: Mapping[str, Any]) -> dict[str, Any]:
    """The state machine and the resources its definition refers to: all the local stack needs."""
    logical_id, machine = _state_machine(template)
    properties = machine.get("Properties", {})
    definition_part = {k: properties[k] for k in ("DefinitionString", "Definition") if k in properties}
    resources = template.get("Resources", {})
    kept: dict[str, Any] = {logical_id: {"Type": STATE_MACHINE_TYPE, "Properties": definition_part}}
    for referenced in sorted(_referenced_ids(definition_part)):
        if referenced in resources:
            kept[referenced] = resources[referenced]
    return {"Resources": kept}


class TemplateResolver:
    """Resolves the intrinsics of a template against the local resources."""

    def __init__(self, template: Mapping[str, Any], names: LocalNames, *, secret_arn: str = "") -> None:
        self._resources: Mapping[str, Any] = template.get("Resources", {})
        self._names = names
        self._secret_arn = secret_arn

    def definition(self) -> str:
        _, machine = _state_machine({"Resources": self._resources})
        properties = machine.get("Properties", {})
        if "DefinitionString" in properties:
            resolved = self.resolve(properties["DefinitionString"])
            document = json.loads(resolved) if isinstance(resolved, str) else resolved
            return json.dumps(for_the_local_interpreter(document))
        if "Definition" in properties:
            return json.dumps(for_the_local_interpreter(self.resolve(properties["Definition"])))
        raise DefinitionUnavailableError("the state machine has neither DefinitionString nor Definition")

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, value),) = node.items()
            intrinsic = self._intrinsics().get(key)
            if intrinsic is not None:
                return intrinsic(value)
        return {key: self.resolve(value) for key, value in node.items()}

    def _intrinsics(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "Ref": self._ref,
            "Fn::GetAtt": self._get_att,
            "Fn::Join": lambda v: str(self.resolve(v[0])).join(str(self.resolve(p)) for p in self.resolve(v[1])),
            "Fn::Sub": self._sub,
            "Fn::Select": lambda v: self.resolve(v[1])[int(self.resolve(v[0]))],
            "Fn::Split": lambda v: str(self.resolve(v[1])).split(str(self.resolve(v[0]))),
        }

    def _ref(self, name: str) -> str:
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        return self._attribute(name, "Ref")

    def _get_att(self, value: Any) -> str:
        logical_id, attribute = value if isinstance(value, list) else str(value).split(".", 1)
        return self._attribute(str(logical_id), str(self.resolve(attribute)))

    def _sub(self, value: Any) -> str:
        text, variables = (value[0], value[1]) if isinstance(value, list) else (value, {})
        resolved_variables = {name: str(self.resolve(node)) for name, node in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in resolved_variables:
                return resolved_variables[name]
            if name in PSEUDO_PARAMETERS:
                return PSEUDO_PARAMETERS[name]
            logical_id, _, attribute = name.partition(".")
            return self._attribute(logical_id, attribute or "Ref")

        return _SUB_VARIABLE.sub(replace, text)

    def _attribute(self, logical_id: str, attribute: str) -> str:
        resource = self._resources.get(logical_id)
        if resource is None:
            raise UnresolvableReferenceError(f"the definition refers to {logical_id!r}, absent from the template")
        kind = resource.get("Type", "")
        properties = resource.get("Properties", {})
        names = self._names
        values: dict[str, str]
        if kind == "AWS::Lambda::Function":
            task = self._task(logical_id, properties)
            values = {"Ref": names.function(task), "Arn": names.function_arn(task)}
        elif kind in ("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable"):
            table = self._table(logical_id, properties)
            values = {"Ref": table, "Arn": names.table_arn(table)}
        elif kind == "AWS::SQS::Queue":
            queue = self._queue(logical_id)
            url = names.queue_url(queue)
            values = {"Ref": url, "QueueUrl": url, "Arn": names.queue_arn(queue), "QueueName": queue}
        elif kind == "AWS::S3::Bucket":
            bucket = names.billing_run_bucket if RUN_WORKSPACE_ID in logical_id else names.raw_bucket
            values = {"Ref": bucket, "Arn": f"arn:{PARTITION}:s3:::{bucket}"}
        elif kind == "AWS::Events::EventBus":
            values = {"Ref": names.event_bus, "Name": names.event_bus, "Arn": names.event_bus_arn}
        elif kind == "AWS::SecretsManager::Secret":
            values = {"Ref": self._secret_arn, "Id": self._secret_arn}
        else:
            values = {}
        if attribute not in values:
            raise UnresolvableReferenceError(
                f"no local stand-in for {attribute} of {logical_id} ({kind or 'unknown type'})"
            )
        return values[attribute]

    @staticmethod
    def _task(logical_id: str, properties: Mapping[str, Any]) -> topology.WorkflowTask:
        handler = properties.get("Handler")
        for task in topology.BILLING_TASKS:
            if task.handler == handler:
                return task
        for task in topology.BILLING_TASKS:
            if logical_id.startswith(task.construct_id) or f"{task.construct_id}Function" in logical_id:
                return task
        raise UnresolvableReferenceError(
            f"Lambda {logical_id} (Handler {handler!r}) matches no topology.BILLING_TASKS handler"
        )

    def _table(self, logical_id: str, properties: Mapping[str, Any]) -> str:
        hash_keys = [k["AttributeName"] for k in properties.get("KeySchema", []) if k.get("KeyType") == "HASH"]
        if hash_keys == [topology.LEDGER_TABLE.partition_key]:
            return self._names.ledger_table
        raise UnresolvableReferenceError(f"table {logical_id} has key schema {hash_keys}, not a topology table")

    def _queue(self, logical_id: str) -> str:
        lowered = logical_id.lower()
        for workflow in topology.WORKFLOWS:
            if workflow.construct_id.lower() in lowered:
                dead_letter = "dlq" in lowered or "deadletter" in lowered
                return self._names.dead_letter_queue(workflow) if dead_letter else self._names.queue(workflow)
        raise UnresolvableReferenceError(f"queue {logical_id} names no topology workflow")


def _source_files(repo_root: Path) -> Iterable[Path]:
    infra = repo_root / "infra"
    if infra.is_dir():
        yield from sorted(p for p in infra.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for extra in ("app.py", "cdk.json"):
        if (repo_root / extra).is_file():
            yield repo_root / extra
    yield Path(topology.__file__)
    yield Path(__file__)


def source_hash(repo_root: Path) -> str:
    digest = hashlib.sha256()
    for path in _source_files(repo_root):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def synthesize(repo_root: Path) -> dict[str, Any]:
    """The deployed stack's template, from `infra.synth.synthesize_template()` of the checkout."""
    root = str(repo_root)
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        synth = importlib.import_module("infra.synth")
    except ImportError as missing:
        raise DefinitionUnavailableError(
            f"cannot import infra.synth from {repo_root} ({missing}); run from the repository root "
            "with the development dependencies installed"
        ) from missing
    origin = Path(getattr(synth, "__file__", "") or ".").resolve()
    if repo_root.resolve() not in origin.parents:
        raise DefinitionUnavailableError(f"infra.synth was already imported from {origin}, not {repo_root}")
    template = synth.synthesize_template()
    return dict(template)


def load_billing_template(repo_root: Path | None = None) -> dict[str, Any]:
    """The pruned template of the billing state machine, from the cache when the sources are unchanged."""
    root = repo_root or find_repo_root()
    cache = root / CACHE_RELATIVE_PATH
    key = source_hash(root)
    if cache.is_file():
        try:
            cached = json.loads(cache.read_text(encoding="utf-8"))
        except ValueError:
            cached = {}
        if cached.get("key") == key:
            return dict(cached["template"])
    pruned = prune_template(synthesize(root))
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"key": key, "template": pruned}, indent=1, sort_keys=True), encoding="utf-8")
    return pruned
