"""The embedded local stack: the hub's handlers and state machine, with moto standing in for AWS.

    with LocalStack(secrets={"clm": ["whsec_..."]}) as stack:
        status, headers, body = stack.invoke_webhook("clm", signed_headers, raw_body)
        stack.drain()
        stack.observed_events()
        stack.start_billing_run({"period": "2026-03"}, name="billing-2026-03")

Everything runs in this process: moto in-process (`mock_aws`), handlers called
directly. Every call into moto is serialized (`StandInBoundary`), so threads (the
Map's iterations, the HTTP front's requests) may use one stack. With a
`state_file`, the state lives in an SQLite store that other processes share;
`unit_of_work()` makes a group of calls one transaction of that store.
"""

from __future__ import annotations

import base64
import json
import logging
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.config import DefaultConfig

from billbridge import topology
from billbridge.app.ports import RunStatus
from billbridge.local import data_feed_stand_in, intake_pipeline, resources, snapshot
from billbridge.local import definition as definitions
from billbridge.local.aws_environment import (
    ACCOUNT_ID,
    BASE_ENVIRONMENT,
    REGION,
    PatchedEnvironment,
    local_configuration,
)
from billbridge.local.deferred_imports import defer_batch_models
from billbridge.local.handler_resolver import HandlerResolver, LambdaHandler
from billbridge.local.interpreter_cache import ParsedDefinitions
from billbridge.local.lambda_context import new_context
from billbridge.local.lambda_dispatch import LambdaDispatcher
from billbridge.local.queue_pump import DrainSummary, QueuePump
from billbridge.local.stand_in_boundary import StandInBoundary
from billbridge.local.store import LocalStore
from billbridge.local.store_sync import StoreSync, table_keys

LOGGER = logging.getLogger(__name__)
MOTO_CONFIG: DefaultConfig = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
WEBHOOK_FUNCTION_NAME = "billbridge-local-webhook"
POLLER_FUNCTION_NAME = "billbridge-local-vendor-poller"
READ_API_FUNCTION_NAME = "billbridge-local-read-api"
API_STAGE = "local"

Response = tuple[int, dict[str, str], bytes]
CORE_SERVICES = ("dynamodb", "s3", "sqs", "events", "secretsmanager")
"""Clients the stack needs from the start; lambda, iam and stepfunctions come with the billing workflow."""
SERVICES = (*CORE_SERVICES, "lambda", "iam", "stepfunctions")
_CLIENTS: dict[str, Any] = {}


def _shared_client(service: str) -> Any:
    """Clients are reused by the stacks started in one process: building one costs ~50 ms.

    Created on first use, inside a running stack (fake credentials, moto hooks in place).
    """
    if service not in _CLIENTS:
        _CLIENTS[service] = boto3.session.Session(region_name=REGION).client(service)
    return _CLIENTS[service]


class LocalStack:
    """Context manager: creates the local resources on enter, tears moto down and restores the env on exit.

    `handlers` maps topology handler paths to stand-in callables (tests); other
    paths are imported when first called. The state machine definition comes
    from `definition` (an ASL document), else from `template` (a CloudFormation
    template dict), else from the synthesized stack (cached under `.build/`).
    `state_file` is the SQLite store the stack reads on enter and writes at the
    end of each `unit_of_work()` (created when absent; `reset_state=True` empties
    it first, as a fresh replay does). `save(path)` copies the whole state to another store.
    """

    def __init__(
        self,
        *,
        secrets: Mapping[str, Sequence[str]] | None = None,
        state_file: str | Path | None = None,
        handlers: Mapping[str, LambdaHandler] | None = None,
        definition: str | Mapping[str, Any] | None = None,
        template: Mapping[str, Any] | None = None,
        repo_root: Path | None = None,
        extra_env: Mapping[str, str] | None = None,
        names: resources.LocalNames | None = None,
        reset_state: bool = False,
        lazy_billing: bool = False,
    ) -> None:
        self.names = names or resources.LocalNames()
        self.state_file = Path(state_file) if state_file is not None else None
        self.resolver = HandlerResolver(handlers)
        self._secrets = resources.webhook_secrets_document(secrets)
        self._definition = definition
        self._template = template
        self._repo_root = repo_root
        # Local configuration of the system-of-record rules and rollout switches: the same
        # variables as the deployed functions', taken from the calling environment.
        self._extra_env = {**local_configuration(), **dict(extra_env or {})}
        self._env: PatchedEnvironment | None = None
        self._mock: Any = None
        self._dispatcher: LambdaDispatcher | None = None
        self._clients: dict[str, Any] = {}
        self._pump: QueuePump | None = None
        self.secret_arn = ""
        self.environment: dict[str, str] = {}
        self.started_in_seconds = 0.0
        self._reset_state = reset_state
        self._lazy_billing = lazy_billing
        self._billing_created = False
        self._parsed_definitions: ParsedDefinitions | None = None
        self.definition = ""
        self._boundary: StandInBoundary | None = None
        self._store: LocalStore | None = None
        self._sync: StoreSync | None = None
        self._unit_lock = threading.RLock()

    # -- lifecycle ---------------------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        started = time.perf_counter()
        definition = None if self._lazy_billing else self._load_definition_source()
        if self.state_file is not None:
            self._store = LocalStore(self.state_file)
        self._env = PatchedEnvironment(BASE_ENVIRONMENT)
        self._env.__enter__()
        try:
            # The items a request writes are recorded only where a store saves them.
            self._boundary = StandInBoundary(
                {
                    physical: (schema.partition_key, schema.sort_key)
                    for physical, (_, schema) in table_keys(self.names).items()
                }
                if self._store is not None
                else None
            )
            self._boundary.__enter__()
            self._mock = mock_aws(config=MOTO_CONFIG)
            self._mock.start()
            self._dispatcher = LambdaDispatcher(self.resolver)
            self._dispatcher.__enter__()
            self._create(definition)
            if self._store is not None:
                self._sync = StoreSync(self._store, self.names, self._clients, self._boundary)
                if self._reset_state:
                    self._store.begin()
                    self._store.tombstone_everything(self._store.generation() + 1)
                    self._store.set_generation(self._store.generation() + 1)
                    self._store.commit()
                with self._sync.unit_of_work():
                    pass
        except BaseException:
            self.__exit__(None, None, None)
            raise
        self.started_in_seconds = time.perf_counter() - started
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._dispatcher is not None and self._mock is not None:
            self._finish_running_executions()
        if self._dispatcher is not None:
            self._dispatcher.__exit__(None, None, None)
            self._dispatcher = None
        if self._parsed_definitions is not None:
            self._parsed_definitions.__exit__(None, None, None)
            self._parsed_definitions = None
        shutdown_error: BaseException | None = None
        if self._sync is not None:
            sync, self._sync = self._sync, None
            try:
                with sync.unit_of_work():
                    pass  # what the finished executions wrote
            except Exception as error:  # the rest must still be torn down
                LOGGER.error("the local state could not be committed at shutdown", exc_info=True)
                shutdown_error = error
        if self._store is not None:
            self._store.close()
            self._store = None
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        if self._boundary is not None:
            self._boundary.__exit__(None, None, None)
            self._boundary = None
        if self._env is not None:
            self._env.__exit__(None, None, None)
            self._env = None
        self._clients = {}
        self._pump = None
        self._reset_settings()
        if shutdown_error is not None and exc_type is None:
            raise shutdown_error

    def _load_definition_source(self) -> str | Mapping[str, Any]:
        if self._definition is not None:
            return self._definition
        if self._template is not None:
            return self._template
        return definitions.load_billing_template(self._repo_root)

    def _create(self, definition_source: str | Mapping[str, Any] | None) -> None:
        for service in CORE_SERVICES:
            self._clients[service] = _shared_client(service)
        c = self._clients
        resources.create_tables(c["dynamodb"], self.names)
        resources.create_bucket(c["s3"], self.names)
        resources.create_queues_and_rules(c["sqs"], c["events"], self.names)
        data_feed_stand_in.create_feed(c["s3"], c["sqs"], c["events"], self.names)
        intake_pipeline.create_intake(c["s3"], c["sqs"], self.names)
        self.secret_arn = resources.create_secret(c["secretsmanager"], self.names, self._secrets)
        if definition_source is not None:
            self._create_billing(definition_source)
        self.environment = {
            topology.ENV_LEDGER_TABLE: self.names.ledger_table,
            topology.ENV_RAW_BUCKET: self.names.raw_bucket,
            topology.ENV_EVENT_BUS: self.names.event_bus,
            topology.ENV_WEBHOOK_SECRETS_ARN: self.secret_arn,
            topology.ENV_STATE_MACHINE_ARN: self.names.state_machine_arn,
            topology.ENV_BILLING_RUN_BUCKET: self.names.billing_run_bucket,
            topology.ENV_CONNECTOR_MODE: "event",
            **self._extra_env,
        }
        assert self._env is not None
        self._env.update(self.environment)
        self._reset_settings()
        self._pump = QueuePump(c["sqs"], self.names, self.resolver)

    def _create_billing(self, definition_source: str | Mapping[str, Any]) -> None:
        """The billing task functions and the state machine (moto's ASL interpreter costs ~1 s to load,
        without the Batch integration's EC2 models: `deferred_imports`)."""
        defer_batch_models()
        resources.create_task_functions(self.client("iam"), self.client("lambda"), self.names)
        if isinstance(definition_source, str):
            asl = definition_source
        elif "Resources" in definition_source:
            asl = definitions.TemplateResolver(definition_source, self.names, secret_arn=self.secret_arn).definition()
        else:
            asl = json.dumps(definition_source)
        definitions.quiet_interpreter_notices()
        if self._parsed_definitions is None:
            root = self._repo_root or definitions.find_repo_root()
            self._parsed_definitions = ParsedDefinitions(root / definitions.CACHE_RELATIVE_PATH.parent)
            self._parsed_definitions.__enter__()
        resources.create_state_machine(self.client("stepfunctions"), self.names, asl)
        self.definition = asl
        self._billing_created = True

    def ensure_billing(self) -> None:
        """Create the billing workflow now if the stack was started with `lazy_billing`."""
        with self._unit_lock:
            if not self._billing_created:
                self._create_billing(self._load_definition_source())

    @staticmethod
    def _reset_settings() -> None:
        """Forget settings and adapters built from an earlier environment."""
        from billbridge import settings

        reset = getattr(settings, "reset_settings_cache", None)
        if callable(reset):
            reset()
        bootstrap = sys.modules.get("billbridge.bootstrap")
        reset_adapters = getattr(bootstrap, "reset", None)
        if callable(reset_adapters):
            reset_adapters()

    @contextmanager
    def unit_of_work(self) -> Iterator[None]:
        """One step for the outside world: with a store, one transaction of it (see `store_sync`);
        in this process, one caller at a time."""
        if self._sync is None:
            with self._unit_lock:
                yield
            return
        with self._sync.unit_of_work():
            yield

    @property
    def webhook_secrets(self) -> dict[str, list[str]]:
        """The webhook secrets per source the stack was started with."""
        return {source: list(values) for source, values in self._secrets.items()}

    def client(self, service: str) -> Any:
        """A boto3 client of the running stack (same mock, same region)."""
        if service not in self._clients:
            self._clients[service] = _shared_client(service)
        return self._clients[service]

    @property
    def pump(self) -> QueuePump:
        if self._pump is None:
            raise RuntimeError("the local stack is not running: use it as a context manager")
        return self._pump

    # -- webhook -----------------------------------------------------------------------------------

    @staticmethod
    def webhook_sources() -> tuple[str, ...]:
        return topology.WEBHOOK_SOURCES

    @staticmethod
    def webhook_path(source: str) -> str:
        return topology.WEBHOOK_ROUTE.replace("{source}", source)

    def api_gateway_event(self, source: str, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        """An API Gateway REST proxy event for `POST /webhooks/{source}`."""
        try:
            text, encoded = body.decode("utf-8"), False
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode("ascii"), True
        now = datetime.now(UTC)
        path = self.webhook_path(source)
        request_id = str(uuid.uuid4())
        header_map = dict(headers)
        return {
            "resource": topology.WEBHOOK_ROUTE,
            "path": path,
            "httpMethod": "POST",
            "headers": header_map,
            "multiValueHeaders": {k: [v] for k, v in header_map.items()},
            "queryStringParameters": None,
            "multiValueQueryStringParameters": None,
            "pathParameters": {"source": source},
            "stageVariables": None,
            "requestContext": {
                "accountId": ACCOUNT_ID,
                "apiId": "local",
                "domainName": "localhost",
                "domainPrefix": "localhost",
                "extendedRequestId": request_id,
                "httpMethod": "POST",
                "identity": {
                    "sourceIp": "127.0.0.1",
                    "userAgent": header_map.get("User-Agent", header_map.get("user-agent", "")),
                },
                "path": f"/{API_STAGE}{path}",
                "protocol": "HTTP/1.1",
                "requestId": request_id,
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "requestTimeEpoch": int(now.timestamp() * 1000),
                "resourceId": "local",
                "resourcePath": topology.WEBHOOK_ROUTE,
                "stage": API_STAGE,
            },
            "body": text,
            "isBase64Encoded": encoded,
        }

    def invoke_webhook(
        self, source: str, headers: Mapping[str, str], body: bytes, *, vendor: str | None = None
    ) -> Response:
        """Call the webhook handler as API Gateway would; returns (status, headers, body bytes).

        With `vendor`, the route is `POST /webhooks/{source}/{vendor}` (the vendor's adapter)."""
        event = self.api_gateway_event(source, headers, body)
        if vendor is not None:
            path = topology.VENDOR_WEBHOOK_ROUTE.replace("{source}", source).replace("{vendor}", vendor)
            event["path"] = path
            event["resource"] = topology.VENDOR_WEBHOOK_ROUTE
            event["pathParameters"] = {"source": source, "vendor": vendor}
            event["requestContext"]["path"] = f"/{API_STAGE}{path}"
            event["requestContext"]["resourcePath"] = topology.VENDOR_WEBHOOK_ROUTE
        handler = self.resolver.resolve(topology.WEBHOOK_HANDLER)
        response = handler(event, new_context(WEBHOOK_FUNCTION_NAME))
        if not isinstance(response, Mapping):
            raise TypeError(f"the webhook handler returned {type(response).__name__}, not a proxy response")
        response_headers = {str(k): str(v) for k, v in (response.get("headers") or {}).items()}
        for name, values in (response.get("multiValueHeaders") or {}).items():
            if name not in response_headers and values:
                response_headers[str(name)] = ", ".join(str(v) for v in values)
        raw = response.get("body") or ""
        payload = base64.b64decode(raw) if response.get("isBase64Encoded") else str(raw).encode("utf-8")
        return int(response.get("statusCode", 200)), response_headers, payload

    def invoke_read_api(self, path: str, query: Mapping[str, Sequence[str]], *, caller: str) -> Response:
        """Call the read API's handler as API Gateway would once IAM has authorized `caller`
        (locally, the HTTP server checks its read token first); returns (status, headers, body bytes)."""
        request_id = str(uuid.uuid4())
        last = {name: values[-1] for name, values in query.items() if values}
        event = {
            "resource": path,
            "path": path,
            "httpMethod": "GET",
            "headers": {"Accept": "application/json"},
            "multiValueHeaders": {"Accept": ["application/json"]},
            "queryStringParameters": last or None,
            "multiValueQueryStringParameters": {name: list(values) for name, values in query.items()} or None,
            "pathParameters": None,
            "stageVariables": None,
            "requestContext": {
                "accountId": ACCOUNT_ID,
                "apiId": "local-read",
                "httpMethod": "GET",
                "identity": {"sourceIp": "127.0.0.1", "userArn": caller, "caller": caller},
                "path": f"/{API_STAGE}{path}",
                "protocol": "HTTP/1.1",
                "requestId": request_id,
                "resourcePath": path,
                "stage": API_STAGE,
            },
            "body": None,
            "isBase64Encoded": False,
        }
        handler = self.resolver.resolve(topology.READ_API_HANDLER)
        response = handler(event, new_context(READ_API_FUNCTION_NAME))
        if not isinstance(response, Mapping):
            raise TypeError(f"the read API handler returned {type(response).__name__}, not a proxy response")
        headers = {str(k): str(v) for k, v in (response.get("headers") or {}).items()}
        for name, values in (response.get("multiValueHeaders") or {}).items():
            if name not in headers and values:
                headers[str(name)] = ", ".join(str(v) for v in values)
        raw = response.get("body") or ""
        payload = base64.b64decode(raw) if response.get("isBase64Encoded") else str(raw).encode("utf-8")
        return int(response.get("statusCode", 200)), headers, payload

    def poll_vendor(self, poller: str) -> dict[str, Any]:
        """One run of a vendor poller's scheduled function, as EventBridge Scheduler would start it.

        Returns the poll report; a poll that ended with refused events or stopped early
        raises the function's error (the deployed function's invocation would fail into its DLQ)."""
        handler = self.resolver.resolve(topology.POLL_VENDOR_HANDLER)
        report: dict[str, Any] = handler({"poller": poller}, new_context(POLLER_FUNCTION_NAME, timeout_seconds=300))
        return report

    # -- queues ------------------------------------------------------------------------------------

    def drain(self, max_rounds: int = 100) -> DrainSummary:
        return self.pump.drain(max_rounds=max_rounds)

    def queue_url(self, queue_name: str) -> str:
        return self.pump.queue_url(queue_name)

    def observed_events(self) -> list[dict[str, Any]]:
        """The hub's own published events seen since the last call (EventBridge envelopes), oldest first."""
        sqs = self.client("sqs")
        url = self.queue_url(self.names.observer_queue)
        events: list[dict[str, Any]] = []
        while True:
            messages = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300, AttributeNames=["SentTimestamp"]
            ).get("Messages", [])
            if not messages:
                break
            for message in messages:
                events.append(json.loads(message["Body"]))
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
        events.sort(key=lambda e: str(e.get("time", "")))
        return events

    def dead_letters(self, workflow: str) -> list[dict[str, Any]]:
        """The messages in a workflow's DLQ (body, attributes), left in place."""
        queue = self.names.dead_letter_queue(self._workflow(workflow))
        return snapshot.read_messages(self.client("sqs"), self.queue_url(queue))

    def redrive(self, workflow: str) -> int:
        """Move a workflow's DLQ messages back to its queue (moto has no StartMessageMoveTask)."""
        found = self._workflow(workflow)
        sqs = self.client("sqs")
        dlq_url = self.queue_url(self.names.dead_letter_queue(found))
        queue_url = self.queue_url(self.names.queue(found))
        moved = 0
        while True:
            messages = sqs.receive_message(
                QueueUrl=dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=300, MessageAttributeNames=["All"]
            ).get("Messages", [])
            if not messages:
                return moved
            for message in messages:
                attributes = {
                    name: {k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")}
                    for name, value in message.get("MessageAttributes", {}).items()
                }
                if attributes:
                    sqs.send_message(QueueUrl=queue_url, MessageBody=message["Body"], MessageAttributes=attributes)
                else:
                    sqs.send_message(QueueUrl=queue_url, MessageBody=message["Body"])
                sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
                moved += 1

    @staticmethod
    def _workflow(name: str) -> topology.Workflow:
        for workflow in topology.WORKFLOWS:
            if workflow.name == name:
                return workflow
        raise KeyError(f"no workflow {name!r}; workflows: {[w.name for w in topology.WORKFLOWS]}")

    # -- billing workflow --------------------------------------------------------------------------

    def _finish_running_executions(self, timeout_seconds: float = 60.0) -> None:
        """Executions run on moto's threads: let them end here, so none of them
        reaches the handlers of a stack started after this one."""
        if not self._billing_created:
            return
        try:
            running = self.client("stepfunctions").list_executions(
                stateMachineArn=self.names.state_machine_arn, statusFilter=RunStatus.RUNNING
            )["executions"]
        except ClientError:
            return
        for execution in running:
            try:
                self.wait_for_execution(execution["executionArn"], timeout_seconds=timeout_seconds)
            except TimeoutError:
                LOGGER.warning("execution %s still running at shutdown", execution["executionArn"])

    def start_billing_run(
        self, input: Mapping[str, Any], name: str, *, timeout_seconds: float = 120.0
    ) -> dict[str, Any]:
        """Start (or find, if `name` was already used) a billing run and wait until it stops running.

        Besides the execution's `status`, the result lists `failed_steps` (contracts whose
        step failed after its retries: the state machine records them and still succeeds)
        and `function_errors` (every exception a task function raised during the run, each
        logged with its traceback); `succeeded` is True only when the execution SUCCEEDED
        and no step failed."""
        self.ensure_billing()
        sfn = self.client("stepfunctions")
        dispatcher = self._dispatcher
        raised_before = len(dispatcher.raised) if dispatcher else 0
        failed_before = len(dispatcher.failed_steps) if dispatcher else 0
        result = self._start_and_wait(sfn, input, name, timeout_seconds)
        if dispatcher is not None:
            result["failed_steps"] = [f.line() for f in dispatcher.failed_steps[failed_before:]]
            result["function_errors"] = [f.line() for f in dispatcher.raised[raised_before:]]
        else:
            result["failed_steps"], result["function_errors"] = [], []
        result["succeeded"] = result["status"] == RunStatus.SUCCEEDED and not result["failed_steps"]
        return result

    def _start_and_wait(self, sfn: Any, input: Mapping[str, Any], name: str, timeout_seconds: float) -> dict[str, Any]:
        from billbridge.adapters.step_functions_billing_runs import StepFunctionsBillingRuns

        run = StepFunctionsBillingRuns(state_machine_arn=self.names.state_machine_arn, client=sfn).start_or_find(
            name, input
        )
        return self.wait_for_execution(run.execution_id, timeout_seconds=timeout_seconds)

    def wait_for_execution(self, execution_arn: str, *, timeout_seconds: float = 120.0) -> dict[str, Any]:
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout_seconds
        delay = 0.005
        while True:
            described = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != RunStatus.RUNNING:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {execution_arn} still RUNNING after {timeout_seconds} s")
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
        output = described.get("output")
        return {
            "executionArn": execution_arn,
            "name": described.get("name"),
            "status": described["status"],
            "output": json.loads(output) if output else None,
            "error": described.get("error"),
            "cause": described.get("cause"),
        }

    def execution_history(self, execution_arn: str) -> list[dict[str, Any]]:
        sfn = self.client("stepfunctions")
        events: list[dict[str, Any]] = []
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            events.extend(page["events"])
        return events

    # -- persistence -------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return snapshot.capture(self._clients, self.names)

    def save(self, path: str | Path | None = None) -> Path:
        """Commit to the stack's own store (`path` None or the `state_file`), or replace what the
        store at `path` holds by this stack's whole state."""
        target = Path(path) if path is not None else self.state_file
        if target is None:
            raise ValueError("no state path: pass one or construct LocalStack(state_file=...)")
        if self._sync is not None and self.state_file is not None and target.resolve() == self.state_file.resolve():
            with self.unit_of_work():
                pass
            return target
        store = LocalStore(target)
        try:
            sync = StoreSync(store, self.names, self._clients, self._boundary or StandInBoundary())
            sync.copy_everything(store)
        finally:
            store.close()
        return target
