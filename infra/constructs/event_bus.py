"""The bus that carries the canonical events, with an archive for replay."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from constructs import Construct


class EventBus(Construct):
    """A custom bus; every event on it is archived for `archive_retention_days`."""

    def __init__(self, scope: Construct, construct_id: str, *, archive_retention_days: int) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(self, "Bus", description="Canonical Billbridge events")
        self.archive = self.bus.archive(
            "Archive",
            description="Every canonical event, for replay after a fix",
            event_pattern=events.EventPattern(account=[cdk.Stack.of(self).account]),
            retention=cdk.Duration.days(archive_retention_days),
        )
