"""The names of the hub's webhook sources, event types, data domains and workflows, and the
environment variables that configure the rules over them.

The part of `billbridge.topology` that the edge's rules read (the phased-rollout switches,
the systems of record): standard library only, so that `billbridge status` parses its
configuration without topology's dataclasses (decision 27). `topology` imports every name
from here: there is one set of names.
"""

from __future__ import annotations

from types import MappingProxyType

TYPE_CHECKING = False  # `typing` costs ~4 ms to import: its names serve annotations only
if TYPE_CHECKING:
    from collections.abc import Mapping

WEBHOOK_SOURCES: tuple[str, ...] = ("clm", "psa", "erp", "crm")

CONTRACT_EVENT_TYPES = ("contract.approved", "contract.amended", "contract.terminated")
ACTUALS_EVENT_TYPES = (
    "time_entry.approved",
    "time_entry.rejected",
    "expense.approved",
    "milestone.completed",
)
INVOICE_FEEDBACK_EVENT_TYPES = ("invoice.posted", "invoice.rejected", "payment.applied")
SYNC_ANSWER_EVENT_TYPES = ("sync.acknowledged", "sync.refused")
"""A downstream system's asynchronous answer to one of the hub's commands (psa and erp sources)."""
FEEDBACK_EVENT_TYPES = (*INVOICE_FEEDBACK_EVENT_TYPES, *SYNC_ANSWER_EVENT_TYPES)
SYNC_RETRY_REQUESTED = "sync.retry_requested"
"""An operator asks the hub to send a held downstream command again (`billbridge sync retry`):
put on the bus by the CLI, never accepted from a webhook source."""
AMENDMENT_CONTINUED = "contract.amendment_continued"
"""The contracts consumer asks for the next pages of an amendment applied in pages
(docs/decisions/0024-amendments-in-pages.md): put on the bus by the hub, never accepted from a
webhook source."""
OPERATOR_EVENT_TYPES = (SYNC_RETRY_REQUESTED,)
"""Requests the operators' tools put on the bus (never a webhook's): checked by their use case
against what the hub holds (the command must exist), not against the webhook contract."""
CUSTOMER_EVENT_TYPES = ("customer.upserted", "legal_entity.upserted")
"""Customer master data: from the ERP or the CRM, whichever is the customer's system of record."""

EVENT_TYPES_BY_SOURCE: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "clm": CONTRACT_EVENT_TYPES,
        "psa": (*ACTUALS_EVENT_TYPES, *SYNC_ANSWER_EVENT_TYPES),
        "erp": FEEDBACK_EVENT_TYPES + CUSTOMER_EVENT_TYPES,
        "crm": CUSTOMER_EVENT_TYPES,
    }
)

DOMAIN_OF_EVENT_TYPE: Mapping[str, str] = MappingProxyType(
    {
        **{event_type: "customer" for event_type in CUSTOMER_EVENT_TYPES},
        **{event_type: "contract" for event_type in CONTRACT_EVENT_TYPES},
        **{event_type: "project" for event_type in ACTUALS_EVENT_TYPES},
        **{event_type: "invoice" for event_type in INVOICE_FEEDBACK_EVENT_TYPES},
    }
)
"""The data domain each event type writes (the unit of the system-of-record rules). The
systems' answers to the hub's own commands (`sync.*`) write no domain: each is accepted
from the sources that receive commands (psa, erp) and matched to the command it names."""

DEFAULT_SYSTEMS_OF_RECORD: Mapping[str, str] = MappingProxyType(
    {"customer": "erp", "contract": "clm", "project": "psa", "invoice": "erp"}
)
"""Which source may write each domain unless configured otherwise (`customer` may be `erp` or `crm`)."""

WORKFLOW_EVENT_TYPES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        # Customer and contract synchronisation is one workflow: a contract waits for its customer.
        "contracts": (*CUSTOMER_EVENT_TYPES, *CONTRACT_EVENT_TYPES, AMENDMENT_CONTINUED),
        "actuals": ACTUALS_EVENT_TYPES,
        "feedback": (*FEEDBACK_EVENT_TYPES, SYNC_RETRY_REQUESTED),
    }
)
"""Each workflow's name (`topology.WORKFLOWS`, in order) and the event types its queue receives."""

# The environment variables that configure the rules over these names.
ENV_ROLLOUT = "ROLLOUT"
"""JSON object of phased-rollout switches (cdk.json context `billbridge:rollout`)."""
ENV_SYSTEMS_OF_RECORD = "SYSTEMS_OF_RECORD"
"""JSON object domain -> source (cdk.json context `billbridge:systems_of_record`)."""
