"""Runs the Python handler behind a moto Lambda function when something invokes it.

moto without Docker only echoes Lambda payloads. While a dispatcher is installed,
an Invoke (from a state machine task or from boto3) of a function created by the
local stack runs that function's configured handler in-process. An exception
raised by the handler becomes an unhandled function error whose `errorType` is
the exception's class name, as the Lambda runtime reports it, so a state
machine's Retry and Catch match on it. Handlers run one at a time: the Map's
parallel branches would otherwise call moto's DynamoDB backend concurrently,
which it does not survive (a transaction copies tables other threads write).
"""

from __future__ import annotations

import json
import logging
import threading
import traceback
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from moto.awslambda_simple.models import LambdaSimpleBackend

from billbridge import topology
from billbridge.local.handler_resolver import HandlerResolver
from billbridge.local.lambda_context import new_context
from billbridge.local.stand_in_boundary import STAND_IN_LOCK

LOGGER = logging.getLogger(__name__)
HANDLER_LOCK = STAND_IN_LOCK
"""Serializes in-process handler runs (re-entrant: a handler may invoke another). The same lock
as every call into moto, so the two can never be taken in opposite orders."""
RECORD_FAILURE_HANDLERS = frozenset(t.handler for t in topology.BILLING_TASKS if t.name == "record_failure")
"""The task the state machine runs when a contract's step failed after its retries."""


@dataclass(frozen=True, slots=True)
class FunctionFailure:
    """A task function that raised (logged with its traceback), or a billing step the run gave up on."""

    function: str
    error_type: str
    message: str
    run_id: str | None
    contract_id: str | None
    traceback: str

    def line(self) -> str:
        where = f" (contract {self.contract_id})" if self.contract_id else ""
        return f"{self.function}{where}: {self.error_type}: {self.message}"


class LambdaDispatcher:
    """Replaces moto's no-Docker Lambda invoke for the lifetime of the context."""

    _installed: LambdaDispatcher | None = None

    def __init__(self, resolver: HandlerResolver) -> None:
        self._resolver = resolver
        self._original: Any = None
        self._lock = threading.Lock()
        self.raised: list[FunctionFailure] = []
        """Every exception a task function raised (retried or not)."""
        self.failed_steps: list[FunctionFailure] = []
        """Every billing step given up on: the record_failure task's inputs."""

    def __enter__(self) -> LambdaDispatcher:
        if LambdaDispatcher._installed is not None:
            raise RuntimeError("another local stack is already running in this process")
        self._original = LambdaSimpleBackend.invoke
        dispatcher = self

        def invoke(
            backend: LambdaSimpleBackend,
            function_name: str,
            qualifier: str | None,
            body: Any,
            headers: Any,
            response_headers: Any,
        ) -> str | bytes | None:
            function = backend.get_function(function_name, qualifier)
            return dispatcher.run(function.function_name, str(function.handler), body, response_headers)

        LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign,assignment]
        LambdaDispatcher._installed = self
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        LambdaSimpleBackend.invoke = self._original  # type: ignore[method-assign]
        LambdaDispatcher._installed = None

    def run(self, function_name: str, handler_path: str, body: Any, response_headers: dict[str, str]) -> bytes:
        raw = body.decode("utf-8") if isinstance(body, bytes) else (body or "")
        event = json.loads(raw) if raw else {}
        if handler_path in RECORD_FAILURE_HANDLERS and isinstance(event, dict):
            self._record_failed_step(function_name, event)
        try:
            handler = self._resolver.resolve(handler_path)
            with HANDLER_LOCK:
                result = handler(event, new_context(function_name))
        except Exception as error:
            LOGGER.error("function %s raised %s: %s", function_name, type(error).__name__, error, exc_info=True)
            with self._lock:
                self.raised.append(
                    FunctionFailure(
                        function=function_name,
                        error_type=type(error).__name__,
                        message=str(error),
                        run_id=_text(event, "run_id"),
                        contract_id=_text(event, "contract_id"),
                        traceback="".join(traceback.format_exception(error)),
                    )
                )
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(
                {
                    "errorType": type(error).__name__,
                    "errorMessage": str(error),
                    "stackTrace": traceback.format_tb(error.__traceback__),
                }
            ).encode("utf-8")
        return json.dumps(result).encode("utf-8")

    def _record_failed_step(self, function_name: str, event: dict[str, Any]) -> None:
        """The state machine caught a step's error (after its retries) and hands it to record_failure."""
        error = event.get("error") if isinstance(event.get("error"), dict) else {}
        cause = str(error.get("Cause", ""))
        try:
            parsed = json.loads(cause)
        except ValueError:
            parsed = None
        trace = parsed.get("stackTrace") if isinstance(parsed, dict) else None
        message = parsed.get("errorMessage") if isinstance(parsed, dict) else cause
        failure = FunctionFailure(
            function="billing step",
            error_type=str(error.get("Error", "UnknownError")),
            message=str(message or ""),
            run_id=_text(event, "run_id"),
            contract_id=_text(event, "contract_id"),
            traceback="".join(trace) if isinstance(trace, list) else "",
        )
        LOGGER.error("billing step failed after its retries: %s", failure.line())
        with self._lock:
            self.failed_steps.append(failure)


def _text(event: Any, name: str) -> str | None:
    if isinstance(event, dict) and event.get(name) is not None:
        return str(event[name])
    return None
