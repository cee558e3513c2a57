"""A stand-in for the context object the Lambda runtime passes to a handler."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from billbridge.local.aws_environment import ACCOUNT_ID, REGION


@dataclass(slots=True)
class LocalLambdaContext:
    """What Powertools and the handlers read from `context`, with a fresh request id per invocation."""

    function_name: str
    memory_limit_in_mb: int = 512
    timeout_seconds: float = 30.0
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"{time.strftime('%Y/%m/%d')}/[{self.function_version}]{self.aws_request_id.replace('-', '')}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def new_context(function_name: str, *, timeout_seconds: float = 30.0) -> LocalLambdaContext:
    """A context for one invocation: new request id, deadline counted from now."""
    return LocalLambdaContext(function_name=function_name, timeout_seconds=timeout_seconds)
