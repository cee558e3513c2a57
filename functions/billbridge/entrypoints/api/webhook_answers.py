"""The webhook's answers as models, for the OpenAPI document.

`webhook_http` builds the answers as plain dictionaries from the use case's
outcomes (the webhook's hot path loads no more than it must); these models
describe the same bodies so the published document is generated from code,
and a test validates the answers the webhook really gives against them, so the
two cannot drift.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from billbridge.app.ingest_webhook import Outcome
from billbridge.entrypoints.api.webhook_http import MAX_LISTED_PROBLEMS


class WebhookEventOutcome(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    index: int = Field(description="Position of the event in the delivery (0 for a single event)")
    id: str | None = Field(description="The event's `id`, when it had one")
    outcome: Outcome
    correlationid: str | None = None
    error: str | None = Field(default=None, description="Why the event was refused")
    field: str | None = Field(default=None, description="The path of the offending field")


class WebhookProblemCount(BaseModel):
    model_config = ConfigDict(extra="forbid")

    total: int
    listed: int = Field(description=f"Only the first {MAX_LISTED_PROBLEMS} refused events are listed")


class WebhookOutcomes(BaseModel):
    """The answer to a delivery whose events were read: one outcome per event."""

    model_config = ConfigDict(extra="forbid")

    outcomes: list[WebhookEventOutcome]
    correlationid: str | None = None
    error: str | None = None
    field: str | None = Field(default=None, description="The offending field of a refused single event")
    problems: WebhookProblemCount | None = Field(
        default=None, description=f"Present when more than {MAX_LISTED_PROBLEMS} events were refused"
    )


class WebhookError(BaseModel):
    """The answer to a delivery refused as a whole (route, size, type, signature, JSON)."""

    model_config = ConfigDict(extra="allow")

    error: str
    field: str | None = None
