"""What the read API answers: one pydantic model per document.

Amounts are decimal strings at the currency's minor unit (as in every other
document the hub writes), never JSON numbers: a dashboard that sums them must
parse them as decimals. The nested documents (a contract's versions, an
invoice's lines, a lineage tree, the KPI sections) are those the CLI prints
with `--json`, typed here as far as a reader needs to rely on their fields.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from billbridge.domain.model import ExceptionState, ExceptionType, InvoiceStatus

AgeBucket = Literal["0-30", "31-60", "61-90", "90+"]


class _ReadModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReadError(_ReadModel):
    """Every refusal of the read API: what is wrong and, for a bad parameter, which one."""

    message: str
    field: str | None = Field(default=None, description="The query or path parameter at fault, when one is.")


class ContractSummary(_ReadModel):
    contract_id: str
    state: str = Field(description="active, terminated on DATE, or pending (actuals arrived before the contract)")
    version: int | None = Field(description="The latest version, None while pending")
    customer_id: str | None
    legal_entity: str | None
    currency: str | None
    invoices: int
    open_exceptions: int


class ContractPage(_ReadModel):
    items: list[ContractSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; absent on the last page")


class ContractDetail(_ReadModel):
    """What `billbridge contracts show ID --json` prints."""

    contract_id: str
    state: str
    versions: list[dict[str, Any]]
    ids: dict[str, str] = Field(description="The id map: this contract's ids in the PSA, the ERP and the CRM")
    propagation: list[dict[str, Any]] = Field(description="The version each system holds, and since when")
    commands: list[dict[str, Any]] = Field(description="Commands sent to the PSA and the ERP, with their outcome")
    lines: list[dict[str, Any]]
    invoices: list[dict[str, Any]]
    exceptions: list[dict[str, Any]]


class _InvoiceHeading(_ReadModel):
    proposal_id: str
    contract_id: str
    period: str
    status: InvoiceStatus
    erp_invoice_number: str | None
    erp_instance: str
    legal_entity: str
    currency: str


class InvoiceSummary(_InvoiceHeading):
    subtotal: str
    tax: str
    total: str
    paid: str
    lines: int


class InvoicePage(_ReadModel):
    items: list[InvoiceSummary]
    next_cursor: str | None


class InvoiceLine(_ReadModel):
    """One line with its explanation: the contract version, rate rule and rules that priced it,
    and the inputs (entries, expenses, milestones) it came from."""

    line_id: str
    kind: str
    ref: str
    contract_version: int | None
    quantity: str
    rate: str | None
    amount: str
    currency: str
    description: str
    rate_rule: str | None
    rules: list[str]
    source_refs: list[str]
    correlation_id: str | None


class InvoiceDetail(_InvoiceHeading):
    lines: list[InvoiceLine]
    subtotal: str
    tax: str
    total: str
    paid: str
    tax_exemption_certificate: str | None = None
    correlation_id: str


class ExceptionSummary(_ReadModel):
    exception_id: str
    contract_id: str
    type: ExceptionType
    state: ExceptionState
    amount: str
    currency: str
    refs: list[str]
    detail: str
    period: str | None
    raised_at: str | None = Field(description="When the hub raised it (from the audit trail), ISO 8601")
    age_days: int | None = Field(description="Whole days from raised_at to as_of")


class ExceptionPage(_ReadModel):
    as_of: str
    items: list[ExceptionSummary]
    next_cursor: str | None


class ExceptionDetail(_ReadModel):
    """What `billbridge exceptions show ID --json` prints: the lines and inputs, terms, cap, audit trail."""

    model_config = ConfigDict(frozen=True, extra="allow")

    exception_id: str
    type: ExceptionType
    state: ExceptionState


class Lineage(_ReadModel):
    """What `billbridge trace ID --json` prints."""

    model_config = ConfigDict(frozen=True, extra="allow")

    query: str = Field(description="The identifier asked for")
    matched: str = Field(description="What the identifier turned out to be (invoice number, proposal, entry, ...)")
    tree: dict[str, Any]
    audit: list[dict[str, Any]]


class Kpis(_ReadModel):
    """What `billbridge report --json` prints (dead-letter depths excepted: see the decision record)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    as_of: str
    contracts: int
    unbilled: dict[str, Any]
    held_work: dict[str, Any]
    approval_to_invoice: dict[str, Any]
    corrections: dict[str, Any]
    exceptions: dict[str, Any]
    cap_burn: list[dict[str, Any]]
    integration_failures: dict[str, Any] = Field(
        description="Billing failures from the ledger; dead-letter depths are in CloudWatch and `billbridge dlq list`"
    )
    propagation: dict[str, Any]


class UnbilledLine(_ReadModel):
    contract_id: str
    line_id: str
    kind: str
    ref: str
    line_date: str
    age_days: int
    age_bucket: AgeBucket
    legal_entity: str
    quantity: str
    amount: str
    currency: str
    description: str


class UnbilledPage(_ReadModel):
    as_of: str
    items: list[UnbilledLine]
    next_cursor: str | None
