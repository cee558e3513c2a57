"""Names shared by the infrastructure and the embedded local stack.

The CDK constructs and the local stack both read these constants, so the routes,
rules, queues and key schemas of the deployed template and of the local run
cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from billbridge import event_names

# The sources, event types, data domains and workflows' event types (billbridge.event_names).
ACTUALS_EVENT_TYPES = event_names.ACTUALS_EVENT_TYPES
AMENDMENT_CONTINUED = event_names.AMENDMENT_CONTINUED
CONTRACT_EVENT_TYPES = event_names.CONTRACT_EVENT_TYPES
CUSTOMER_EVENT_TYPES = event_names.CUSTOMER_EVENT_TYPES
DEFAULT_SYSTEMS_OF_RECORD = event_names.DEFAULT_SYSTEMS_OF_RECORD
DOMAIN_OF_EVENT_TYPE = event_names.DOMAIN_OF_EVENT_TYPE
EVENT_TYPES_BY_SOURCE = event_names.EVENT_TYPES_BY_SOURCE
FEEDBACK_EVENT_TYPES = event_names.FEEDBACK_EVENT_TYPES
INVOICE_FEEDBACK_EVENT_TYPES = event_names.INVOICE_FEEDBACK_EVENT_TYPES
OPERATOR_EVENT_TYPES = event_names.OPERATOR_EVENT_TYPES
SYNC_ANSWER_EVENT_TYPES = event_names.SYNC_ANSWER_EVENT_TYPES
SYNC_RETRY_REQUESTED = event_names.SYNC_RETRY_REQUESTED
WEBHOOK_SOURCES = event_names.WEBHOOK_SOURCES
WORKFLOW_EVENT_TYPES = event_names.WORKFLOW_EVENT_TYPES

WEBHOOK_ROUTE = "/webhooks/{source}"
MAX_WEBHOOK_BODY_BYTES = 256 * 1024
VENDOR_WEBHOOK_ROUTE = "/webhooks/{source}/{vendor}"
"""A vendor's own webhook format for a source, translated by its adapter (docs/adapters.md)."""
VENDOR_WEBHOOKS: tuple[tuple[str, str], ...] = (("clm", "docusign"), ("erp", "xero"))
"""(source, vendor) pairs with a webhook adapter."""
VENDOR_SIGNATURE_HEADERS: tuple[str, ...] = ("x-docusign-signature-1", "x-xero-signature")
"""The headers the webhook vendors sign with (DocuSign Connect HMAC, Xero webhooks): a request
with none of them, and without the Standard Webhooks headers, cannot be a signed delivery."""

INGEST_EVENT_SOURCE = "billbridge.ingest"
"""Source of the canonical events the webhook receiver puts on the bus."""


@dataclass(frozen=True, slots=True)
class Workflow:
    """One asynchronous workflow: a bus rule feeding a queue drained by a consumer."""

    name: str
    construct_id: str
    event_types: tuple[str, ...]
    handler: str
    max_receive_count: int = 5
    batch_size: int = 10
    max_batching_window_seconds: int = 0
    """How long the event source mapping gathers records before invoking (0: at once)."""

    @property
    def event_pattern(self) -> dict[str, list[str]]:
        return {"source": [INGEST_EVENT_SOURCE], "detail-type": list(self.event_types)}


WORKFLOWS: tuple[Workflow, ...] = (
    Workflow(
        name="contracts",
        construct_id="Contracts",
        event_types=WORKFLOW_EVENT_TYPES["contracts"],
        handler="billbridge.entrypoints.queues.consume_contracts.lambda_handler",
    ),
    Workflow(
        name="actuals",
        construct_id="Actuals",
        event_types=WORKFLOW_EVENT_TYPES["actuals"],
        handler="billbridge.entrypoints.queues.consume_actuals.lambda_handler",
        # Timesheets arrive in bursts (a Friday afternoon): up to 100 records per invocation
        # instead of one or a few, for at most 5 s of added latency on a record nobody waits for.
        batch_size=100,
        max_batching_window_seconds=5,
    ),
    Workflow(
        name="feedback",
        construct_id="Feedback",
        event_types=WORKFLOW_EVENT_TYPES["feedback"],
        handler="billbridge.entrypoints.queues.consume_feedback.lambda_handler",
    ),
)

WEBHOOK_HANDLER = "billbridge.entrypoints.api.webhook.lambda_handler"
START_BILLING_RUN_HANDLER = "billbridge.entrypoints.schedule.start_billing_run.lambda_handler"


@dataclass(frozen=True, slots=True)
class WorkflowTask:
    """A Lambda task of the billing run state machine."""

    name: str
    construct_id: str
    handler: str


BILLING_TASKS: tuple[WorkflowTask, ...] = (
    WorkflowTask(
        name="select_contracts",
        construct_id="SelectContracts",
        handler="billbridge.entrypoints.workflow.select_contracts.lambda_handler",
    ),
    WorkflowTask(
        name="compose_invoice",
        construct_id="ComposeInvoice",
        handler="billbridge.entrypoints.workflow.compose_invoice.lambda_handler",
    ),
    WorkflowTask(
        name="post_invoice",
        construct_id="PostInvoice",
        handler="billbridge.entrypoints.workflow.post_invoice.lambda_handler",
    ),
    WorkflowTask(
        name="record_failure",
        construct_id="RecordFailure",
        handler="billbridge.entrypoints.workflow.record_failure.lambda_handler",
    ),
    WorkflowTask(
        name="conclude_batch",
        construct_id="ConcludeBatch",
        handler="billbridge.entrypoints.workflow.conclude_batch.lambda_handler",
    ),
    WorkflowTask(
        name="conclude_run",
        construct_id="ConcludeRun",
        handler="billbridge.entrypoints.workflow.conclude_run.lambda_handler",
    ),
)

BILLING_MAP_MAX_CONCURRENCY = 10
"""Child executions (batches of contracts) of one billing run running at once."""
BILLING_BATCH_MAX_CONCURRENCY = 5
"""Contracts of one batch billed at once inside its child execution."""
BILLING_BATCH_SIZE = 100
"""Contracts per child execution: about 17 history events each, so a child stays near 1,700
of the 25,000 events a Standard execution may record, whatever the size of the run."""


@dataclass(frozen=True, slots=True)
class KeySchema:
    partition_key: str
    sort_key: str | None = None
    ttl_attribute: str | None = None


LEDGER_TABLE = KeySchema(partition_key="pk", sort_key="sk", ttl_attribute="expires_at")
LEDGER_LOOKUP_INDEX = "lookup"
LEDGER_LOOKUP_KEYS = KeySchema(partition_key="gsi1pk", sort_key="gsi1sk")

IDEMPOTENCY_EXPIRY_SECONDS = 7 * 24 * 3600
"""Longer than any vendor's retry window (the longest seen is 3 days)."""
INLINE_RAW_PAYLOAD_MAX_BYTES = 2048
"""A single-event delivery at most this long keeps its raw body in its delivery claim
(one write paid anyway) instead of an S3 object of its own (docs/decisions/0005)."""
RAW_PAYLOAD_RETENTION_DAYS = 400
"""How long raw bodies are kept (the raw payload bucket's lifecycle, `infra.config`)."""

# Environment variable names read by settings.py and written by the stack.
ENV_LEDGER_TABLE = "LEDGER_TABLE_NAME"
ENV_RAW_BUCKET = "RAW_PAYLOAD_BUCKET_NAME"
ENV_RAW_RETENTION_DAYS = "RAW_PAYLOAD_RETENTION_DAYS"
ENV_EVENT_BUS = "EVENT_BUS_NAME"
ENV_WEBHOOK_SECRETS_ARN = "WEBHOOK_SECRETS_ARN"
ENV_STATE_MACHINE_ARN = "BILLING_STATE_MACHINE_ARN"
ENV_CONNECTOR_MODE = "CONNECTOR_MODE"
ENV_TIMESTAMP_TOLERANCE = "WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS"
ENV_DEAD_LETTER_QUEUE_URL = "DEAD_LETTER_QUEUE_URL"
ENV_MAX_RECEIVE_COUNT = "MAX_RECEIVE_COUNT"
ENV_BILLING_RUN_BUCKET = "BILLING_RUN_BUCKET_NAME"
ENV_BILLING_BATCH_SIZE = "BILLING_BATCH_SIZE"
ENV_PROPAGATION_STALE_AFTER_HOURS = "PROPAGATION_STALE_AFTER_HOURS"
"""How long a contract version may stay unacknowledged by a system before it counts as stale (KPIs, alarm)."""
ENV_ROLLOUT = event_names.ENV_ROLLOUT
ENV_SYSTEMS_OF_RECORD = event_names.ENV_SYSTEMS_OF_RECORD

ENV_VENDOR_ADAPTERS = "VENDOR_ADAPTERS_CONFIG"
"""JSON: per `source/vendor`, the tenant's vendor configuration (API base URL, field mapping, limits)."""
ENV_POLLER_NAME = "VENDOR_POLLER_NAME"

POLL_VENDOR_HANDLER = "billbridge.entrypoints.schedule.poll_vendor_source.lambda_handler"


@dataclass(frozen=True, slots=True)
class VendorPoller:
    """A vendor without webhooks, read on a schedule from a durable cursor."""

    name: str
    """`source/vendor`: the key of its configuration and of its cursor."""
    construct_id: str
    schedule_expression: str = "rate(5 minutes)"

    @property
    def source(self) -> str:
        return self.name.split("/", 1)[0]

    @property
    def vendor(self) -> str:
        return self.name.split("/", 1)[1]


VENDOR_POLLERS: tuple[VendorPoller, ...] = (
    VendorPoller(name="erp/netsuite", construct_id="NetSuiteInvoices"),
    VendorPoller(name="psa/kantata", construct_id="KantataActuals"),
    VendorPoller(name="crm/salesforce", construct_id="SalesforceAccounts"),
)

PUBLISH_KPIS_HANDLER = "billbridge.entrypoints.schedule.publish_kpis.lambda_handler"

BILLING_START_FUNCTION = "billing-start"
KPI_PUBLISHER_FUNCTION = "kpi-publisher"


def poller_function(poller: VendorPoller) -> str:
    """A vendor poller's scheduled function, as the operator commands name its DLQ (`poll-erp-netsuite`)."""
    return "poll-" + poller.name.replace("/", "-")


SCHEDULED_FUNCTIONS: tuple[str, ...] = (
    BILLING_START_FUNCTION,
    KPI_PUBLISHER_FUNCTION,
    *(poller_function(poller) for poller in VENDOR_POLLERS),
)
"""Functions invoked by EventBridge Scheduler, each with a DLQ of its failed invocations."""
SCHEDULED_HANDLERS: dict[str, str] = {
    BILLING_START_FUNCTION: START_BILLING_RUN_HANDLER,
    KPI_PUBLISHER_FUNCTION: PUBLISH_KPIS_HANDLER,
    **{poller_function(poller): POLL_VENDOR_HANDLER for poller in VENDOR_POLLERS},
}

READ_API_HANDLER = "billbridge.entrypoints.api.read_api.lambda_handler"
READ_API_ROUTES: tuple[str, ...] = (
    "/contracts",
    "/contracts/{contract_id}",
    "/invoices",
    "/invoices/{proposal_id}",
    "/exceptions",
    "/exceptions/{exception_id}",
    "/lineage/{identifier}",
    "/kpis",
    "/unbilled",
)
"""The read API's `GET` routes (entrypoints/api/read_api.py), on their own REST API (infra/constructs/read_api.py)."""
READ_API_DASHBOARD_ROUTES: tuple[str, ...] = (
    "/contracts",
    "/contracts/{contract_id}",
    "/invoices",
    "/invoices/{proposal_id}",
    "/kpis",
    "/unbilled",
)
"""What a read-only principal (finance dashboards, portals) may call: not the exceptions or the
lineage, which carry audit trails, actors and raw delivery references (operators and approvers only)."""

# --- bulk intake (docs/decisions/0012-feed-and-bulk-intake.md) --------------------------------------

INTAKE_PREFIX = "intake/"
"""Files are dropped at `intake/{source}/NAME.csv` or `.jsonl` in the intake bucket."""
INTAKE_WORK_PREFIX = "work/"
"""Per-chunk results of a file being processed (`work/{run_id}/...`), expired after a week."""
INTAKE_RESULT_SUFFIX = ".result.json"
"""The per-file result is written beside the file: `intake/psa/NAME.csv.result.json`."""
INTAKE_FILE_SUFFIXES: Mapping[str, str] = MappingProxyType({".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"})
"""The file formats by the file name's ending."""
INTAKE_ROW_TYPES: tuple[str, ...] = ACTUALS_EVENT_TYPES
"""What a row of a file may be: the actuals events (time entries, withdrawals, expenses, milestones)."""
INTAKE_WORK_QUEUES: Mapping[str, str] = MappingProxyType(
    {"intake-files": "intake-files", "intake-chunks": "intake-chunks"}
)
"""Bulk intake's two work queues, by the name the operator commands give them (`dlq list`), to the
local stack's queue name after its prefix; each has a DLQ (`{queue}-dlq`)."""
RATING_EVENT_SOURCE = "billbridge.rating"
"""Where `EntryRated` comes from (the rating context's events)."""
INTAKE_CHUNK_ROWS = 500
"""Rows per chunk: one chunk worker invocation claims and publishes at most this many events."""
INTAKE_EVENT_SOURCE = "billbridge.intake"
INTAKE_COMPLETED = "intake.completed"
"""Published when every row of a file has an outcome (docs/spec/events.md)."""
INTAKE_RETENTION_DAYS = 90
"""How long dropped files and their results stay in the intake bucket (the rows' raw text is kept
as long as webhook bodies, RAW_PAYLOAD_RETENTION_DAYS, in the raw payload bucket)."""
INTAKE_WORK_RETENTION_DAYS = 7

ENV_INTAKE_BUCKET = "INTAKE_BUCKET_NAME"
ENV_INTAKE_CHUNK_QUEUE_URL = "INTAKE_CHUNK_QUEUE_URL"
ENV_FEED_ENTRIES_RATED = "FEED_ENTRIES_RATED"
"""`true`: the hub publishes one `EntryRated` per rated time entry, for the data feed's
`entry.rated` records (cdk.json `billbridge:feed_entries_rated`; decision 12). Unset: nothing
consumes one, and it is not published (one EventBridge event per entry, about USD 1 per million)."""
SPLIT_INTAKE_FILE_HANDLER = "billbridge.entrypoints.queues.split_intake_file.lambda_handler"
INGEST_INTAKE_CHUNK_HANDLER = "billbridge.entrypoints.queues.ingest_intake_chunk.lambda_handler"


# --- the data-platform feed (docs/feed.md) ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """One type of record of the feed: the bus events (source, detail-types) it is made of."""

    feed_type: str
    """The `type=` partition of the feed's files and the record's `feed_type`."""
    construct_id: str
    source: str
    detail_types: tuple[str, ...] = ()
    """Empty: every detail-type of `source` (the connectors' `{command}Requested`)."""

    @property
    def event_pattern(self) -> dict[str, Any]:
        pattern: dict[str, Any] = {"source": [self.source]}
        if self.detail_types:
            pattern["detail-type"] = list(self.detail_types)
        return pattern


FEED_EVENTS: tuple[FeedEvent, ...] = (
    FeedEvent("entry.rated", "EntryRated", RATING_EVENT_SOURCE, ("EntryRated",)),
    FeedEvent("invoice.proposed", "InvoiceProposed", "billbridge.billing", ("InvoiceProposed",)),
    FeedEvent("invoice.status_changed", "InvoiceStatusChanged", "billbridge.billing", ("InvoiceStatusChanged",)),
    FeedEvent("invoice.posted", "InvoicePosted", INGEST_EVENT_SOURCE, ("invoice.posted",)),
    FeedEvent("invoice.rejected", "InvoiceRejected", INGEST_EVENT_SOURCE, ("invoice.rejected",)),
    FeedEvent("payment.applied", "PaymentApplied", INGEST_EVENT_SOURCE, ("payment.applied",)),
    FeedEvent("exception.raised", "ExceptionRaised", "billbridge.operations", ("ExceptionRaised",)),
    FeedEvent(
        "exception.closed",
        "ExceptionClosed",
        "billbridge.operations",
        ("ExceptionResolved", "ExceptionWithdrawn", "ExceptionDecided"),
    ),
    FeedEvent("contract.synced", "ContractSynced", "billbridge.contracts", ("ContractSynced", "ContractTerminated")),
    FeedEvent("command.requested", "CommandRequested", "billbridge.connectors"),
    FeedEvent("sync.outcome", "SyncOutcome", INGEST_EVENT_SOURCE, SYNC_ANSWER_EVENT_TYPES),
    FeedEvent("intake.completed", "IntakeCompleted", INTAKE_EVENT_SOURCE, (INTAKE_COMPLETED,)),
)
"""What the feed carries, by the bus events it is made of (one bus rule each)."""
FEED_PREFIX = "feed/"
FEED_ERROR_PREFIX = "feed-errors/"
FEED_RECORD_FIELDS: tuple[str, ...] = ("feed_type", "event_id", "occurred_at", "source", "detail_type", "detail")
"""Every feed record is one JSON line with these fields (docs/feed.md)."""
FEED_RETENTION_DAYS = 730

PACKED_DETAIL_KEY = "batch"
"""Canonical events of one type delivered together travel as one bus entry whose detail is
`{"schema_version": 1, "batch": [detail, ...]}` (docs/spec/events.md, "Packed bus entries"):
written by the EventBridge publisher, read by the queue consumers."""

ENV_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"
"""The CloudWatch namespace of the hub's metrics (Powertools reads it too; the KPI publisher
reads it through `HubSettings.metrics_namespace`)."""
DEFAULT_METRICS_NAMESPACE = "Billbridge"

# --- environment and key names the stack writes and the functions read (settings.py) -------------
# The stack (infra/) takes them from here, never from a Lambda adapter.

DEFAULT_MAX_RECEIVE_COUNT = 5
"""A queue consumer's receive limit where the function is not told its queue's (`ENV_MAX_RECEIVE_COUNT`)."""
ENV_AUDIT_RETENTION_DAYS = "AUDIT_RETENTION_DAYS"
"""How long audit records are kept (cdk.json `billbridge:audit_retention_days`)."""
AUDIT_RETENTION_DAYS = 2557
"""Seven years, where the function is not told otherwise."""
ENV_FIELD_ENCRYPTION_KEY_ARN = "FIELD_ENCRYPTION_KEY_ARN"
"""The KMS key of personal data; set only on the functions that write contract versions."""
ENV_FIELD_DECRYPTION = "FIELD_DECRYPTION"
"""`enabled` where the role may decrypt (the contracts consumer); any other value: encrypt only."""
FIELD_ENCRYPTION_PURPOSE = "ledger-personal-data"
"""The encryption context's purpose on every sealed field: the key policy allows no other."""
FIELD_ENCRYPTION_CONTEXT_PURPOSE = "billbridge:purpose"
ENV_CONNECTOR_TARGETS = "CONNECTOR_TARGETS"
"""JSON: the `http` connectors' endpoints by target (cdk.json `billbridge:connectors`)."""
ENV_CONNECTOR_SECRETS_ARN = "CONNECTOR_SECRETS_ARN"
ENV_CONNECTOR_RETRY_POLICY = "CONNECTOR_RETRY_POLICY"
DELIVERY_PARTITION_PREFIX = "DELIVERY#"
"""The ledger partitions of webhook delivery claims: the only ones the webhook function may write."""
