"""One scheduled poller per vendor without webhooks (`topology.VENDOR_POLLERS`), each with its failure path."""

from __future__ import annotations

import json

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from billbridge import topology
from constructs import Construct

from infra.constructs.function_defaults import BillbridgeFunction, FunctionDefaults
from infra.constructs.scheduled_function import ScheduledFunction

POLLER_TIMEOUT = cdk.Duration.minutes(5)
"""A poll reads at most its page budget (20 pages by default) at the vendor's pace."""
MAX_EVENT_AGE = cdk.Duration.minutes(30)
"""A poll older than this is superseded by a later one, which resumes from the same cursor."""
RETRY_ATTEMPTS = 2


class VendorPoller(Construct):
    """The schedule, function, dead-letter queue and alarm of one polling source.

    The function (`topology.POLL_VENDOR_HANDLER`, told which poller by `VENDOR_POLLER_NAME`)
    reads the vendor from the cursor it keeps in the ledger table and puts what it finds on
    the bus as the webhook does. A poll that cannot finish (the vendor or the hub unavailable)
    or whose events are refused fails into the dead-letter queue, which alarms; the cursor
    has not moved past anything unaccepted, so the next poll resumes there.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        poller: topology.VendorPoller,
        functions: FunctionDefaults,
        vendor_adapters: str,
    ) -> None:
        super().__init__(scope, construct_id)
        configured = poller.name in (json.loads(vendor_adapters) if vendor_adapters else {})
        self.poller = poller
        self.scheduled = ScheduledFunction(
            self,
            "Default",
            functions=functions,
            function_id="Poller",
            handler=topology.POLL_VENDOR_HANDLER,
            description=f"Polls {poller.name} from its cursor onto the event bus",
            purpose=f"the {poller.name} poller",
            timeout=POLLER_TIMEOUT,
            environment={topology.ENV_POLLER_NAME: poller.name, topology.ENV_VENDOR_ADAPTERS: vendor_adapters},
            schedule=scheduler.ScheduleExpression.expression(poller.schedule_expression),
            schedule_description=f"Poll {poller.name} (a vendor without webhooks)",
            max_event_age=MAX_EVENT_AGE,
            retry_attempts=RETRY_ATTEMPTS,
            dead_letter_recovery="it alarms with the reason; the next poll resumes from the saved cursor.",
            alarm_description=f"A poll of {poller.name} failed (vendor or hub unavailable, or events refused)",
        )
        if not configured:
            schedule = self.scheduled.schedule.node.default_child
            assert isinstance(schedule, scheduler.CfnSchedule)
            schedule.state = "DISABLED"
        self.function: BillbridgeFunction = self.scheduled.function
        self.schedule: scheduler.Schedule = self.scheduled.schedule
        self.dead_letter_queue: sqs.Queue = self.scheduled.dead_letter_queue
        self.dead_letter_alarm: cloudwatch.Alarm = self.scheduled.dead_letter_alarm
        self.enabled = configured
