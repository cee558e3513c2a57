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
from types import TracebackType
from typing import Any

from moto.awslambda_simple.models import LambdaSimpleBackend

from billbridge.localstack.handler_resolver import HandlerResolver
from billbridge.localstack.lambda_context import new_context

LOGGER = logging.getLogger(__name__)
HANDLER_LOCK = threading.RLock()
"""Serializes in-process handler runs (re-entrant: a handler may invoke another)."""


class LambdaDispatcher:
    """Replaces moto's no-Docker Lambda invoke for the lifetime of the context."""

    _installed: LambdaDispatcher | None = None

    def __init__(self, resolver: HandlerResolver) -> None:
        self._resolver = resolver
        self._original: Any = None

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
        try:
            handler = self._resolver.resolve(handler_path)
            with HANDLER_LOCK:
                result = handler(event, new_context(function_name))
        except Exception as error:
            LOGGER.info("function %s raised %s: %s", function_name, type(error).__name__, error)
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(
                {
                    "errorType": type(error).__name__,
                    "errorMessage": str(error),
                    "stackTrace": traceback.format_tb(error.__traceback__),
                }
            ).encode("utf-8")
        return json.dumps(result).encode("utf-8")
