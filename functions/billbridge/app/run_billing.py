"""The billing run's steps, one use case per state-machine task.

plan the run (select the contracts, write them in batches to the run's
workspace) -> per batch, in a child execution: per contract, compose and
reserve -> post to the ERP instance that owns the legal entity -> record the
outcome; then conclude the batch -> conclude the run from the batches'
summaries. Reservation is the conditional save of the contract's book: two
runs of the same period race on it, and the loser finds the lines already
billed, so nothing is billed twice.

The state machine carries only small documents: the contract ids live in the
workspace (`RunWorkspace`), each task returns a summary, never an invoice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

from billbridge.app.customer_master import MasterDataStore, master_facts
from billbridge.app.ledger import Ledger, apply_to_book
from billbridge.app.ports import Connector, ConnectorCommand, EventPublisher, TransientConnectorError
from billbridge.app.rollout import BILLING_WORKFLOW, SHADOW_REFERENCE, Rollout, RolloutMode
from billbridge.domain.billing_run import Period, compose_invoice
from billbridge.domain.book_draft import RuleContext
from billbridge.domain.customer_master import MasterFacts
from billbridge.domain.invoice_feedback import mark_invoice_submitted, record_billing_failure
from billbridge.domain.model import BillingConfig, BookUpdate, ContractBook, Invoice, InvoiceStatus


class TransientError(Exception):
    """A step may succeed if retried (the state machine retries this error name)."""


class ErpRejectedCommandError(Exception):
    """The ERP connector refused the invoice proposal outright."""


@dataclass
class SelectContracts:
    ledger: Ledger

    def handle(self, *, period: str, contract_ids: list[str] | None) -> list[str]:
        Period.parse(period)
        known = self.ledger.contract_ids()
        if contract_ids:
            wanted = set(contract_ids)
            return [contract_id for contract_id in known if contract_id in wanted]
        return known


class RunWorkspace(Protocol):
    """Where a billing run keeps its batches and the batches' summaries (S3 when deployed)."""

    @property
    def location(self) -> str:
        """The store's name (the bucket), which the state machine's item reader reads from."""
        ...

    def write(self, key: str, document: Any) -> None: ...

    def read(self, key: str) -> Any: ...

    def keys(self, prefix: str) -> Iterator[str]: ...


OUTCOME_INVOICED = "invoiced"
OUTCOME_NOTHING = "nothing_to_invoice"
OUTCOME_FAILED = "failed"
OUTCOMES = (OUTCOME_INVOICED, OUTCOME_NOTHING, OUTCOME_FAILED)
LISTED_FAILURES = 20
"""How many failed contract ids a run's summary names (the count is always complete)."""


def workspace_prefix(run_id: str, attempt: str) -> str:
    """`runs/<run id>/<attempt>/`: each planning attempt writes under its own prefix, so
    a summary left by an earlier execution of the same run is never counted again."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "-", run_id)[:100] or "run"
    return f"runs/{safe}/{re.sub(r'[^A-Za-z0-9_-]', '-', attempt)[:64]}/"


def batches_of(contract_ids: Sequence[str], size: int) -> list[dict[str, Any]]:
    if size < 1:
        raise ValueError(f"batch size must be at least 1, not {size}")
    return [
        {"batch": number, "contract_ids": list(contract_ids[start : start + size])}
        for number, start in enumerate(range(0, len(contract_ids), size))
    ]


@dataclass
class PlanBillingRun:
    """Selects the contracts and writes them, in batches, as the item list of the run's Distributed Map."""

    select: SelectContracts
    workspace: RunWorkspace
    batch_size: int

    def handle(self, *, period: str, contract_ids: list[str] | None, run_id: str, attempt: str) -> dict[str, Any]:
        selected = self.select.handle(period=period, contract_ids=contract_ids)
        batches = batches_of(selected, self.batch_size)
        prefix = workspace_prefix(run_id, attempt)
        items_key = f"{prefix}batches.json"
        self.workspace.write(items_key, batches)
        return {
            "contract_count": len(selected),
            "batch_count": len(batches),
            "bucket": self.workspace.location,
            "items_key": items_key,
            "workspace": prefix,
        }


@dataclass(frozen=True)
class BatchSummary:
    batch: int
    contracts: int
    invoiced: int
    nothing_to_invoice: int
    failed_contract_ids: tuple[str, ...]

    def document(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "contracts": self.contracts,
            "invoiced": self.invoiced,
            "nothing_to_invoice": self.nothing_to_invoice,
            "failed_contract_ids": list(self.failed_contract_ids),
        }

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> BatchSummary:
        return cls(
            batch=int(document["batch"]),
            contracts=int(document["contracts"]),
            invoiced=int(document["invoiced"]),
            nothing_to_invoice=int(document["nothing_to_invoice"]),
            failed_contract_ids=tuple(str(c) for c in document["failed_contract_ids"]),
        )


def summary_key(prefix: str, batch: int) -> str:
    return f"{prefix}batch-summaries/{batch:07d}.json"


class IncompleteBatchError(Exception):
    """A batch's outcomes do not cover its contracts (the child execution lost some)."""


@dataclass
class ConcludeBatch:
    """Counts a batch's per-contract outcomes and writes the batch's summary to the workspace."""

    workspace: RunWorkspace

    def handle(
        self, *, workspace: str, batch: int, contract_ids: Sequence[str], outcomes: Iterable[dict[str, Any]]
    ) -> BatchSummary:
        by_contract = {str(o["contract_id"]): str(o["outcome"]) for o in outcomes}
        unknown = sorted(set(by_contract.values()) - set(OUTCOMES))
        missing = [c for c in contract_ids if c not in by_contract]
        if unknown or missing:
            raise IncompleteBatchError(
                f"batch {batch}: outcomes {unknown or 'known'}, "
                f"contracts without an outcome {missing[:LISTED_FAILURES]}"
            )
        outcomes_of = [by_contract[c] for c in contract_ids]
        summary = BatchSummary(
            batch=batch,
            contracts=len(contract_ids),
            invoiced=outcomes_of.count(OUTCOME_INVOICED),
            nothing_to_invoice=outcomes_of.count(OUTCOME_NOTHING),
            failed_contract_ids=tuple(c for c in contract_ids if by_contract[c] == OUTCOME_FAILED),
        )
        self.workspace.write(summary_key(workspace, batch), summary.document())
        return summary


@dataclass(frozen=True)
class RunSummary:
    contracts: int
    batches: int
    invoiced: int
    nothing_to_invoice: int
    failed_contracts: int
    failed_contract_ids: tuple[str, ...]
    missing_batches: tuple[int, ...]
    contracts_without_outcome: int = field(default=0)

    @property
    def complete(self) -> bool:
        """Every contract was billed or had nothing to bill: the run may succeed."""
        return not self.failed_contracts and not self.missing_batches and not self.contracts_without_outcome

    @property
    def cause(self) -> str:
        if self.complete:
            return ""
        parts = []
        if self.failed_contracts:
            named = ", ".join(self.failed_contract_ids)
            more = self.failed_contracts - len(self.failed_contract_ids)
            parts.append(
                f"{self.failed_contracts} contract(s) failed and are held as exceptions: {named}"
                + (f" and {more} more" if more > 0 else "")
            )
        if self.missing_batches:
            parts.append(
                f"{len(self.missing_batches)} batch(es) reported no summary (first: "
                f"{', '.join(str(b) for b in self.missing_batches[:LISTED_FAILURES])}), "
                f"{self.contracts_without_outcome} contract(s) without an outcome"
            )
        return "; ".join(parts)

    def document(self) -> dict[str, Any]:
        return {
            "complete": self.complete,
            "contracts": self.contracts,
            "batches": self.batches,
            "invoiced": self.invoiced,
            "nothing_to_invoice": self.nothing_to_invoice,
            "failed_contracts": self.failed_contracts,
            "failed_contract_ids": list(self.failed_contract_ids),
            "missing_batches": list(self.missing_batches[:LISTED_FAILURES]),
            "contracts_without_outcome": self.contracts_without_outcome,
            "cause": self.cause,
        }


@dataclass
class ConcludeRun:
    """Adds up the batches' summaries; a missing summary counts as failure, never as success."""

    workspace: RunWorkspace

    def handle(self, *, workspace: str, contract_count: int, batch_count: int) -> RunSummary:
        summaries: dict[int, BatchSummary] = {}
        for key in self.workspace.keys(f"{workspace}batch-summaries/"):
            summary = BatchSummary.from_document(self.workspace.read(key))
            summaries[summary.batch] = summary
        missing = tuple(b for b in range(batch_count) if b not in summaries)
        counted = sum(s.contracts for s in summaries.values())
        failed = [c for b in sorted(summaries) for c in summaries[b].failed_contract_ids]
        return RunSummary(
            contracts=contract_count,
            batches=batch_count,
            invoiced=sum(s.invoiced for s in summaries.values()),
            nothing_to_invoice=sum(s.nothing_to_invoice for s in summaries.values()),
            failed_contracts=len(failed),
            failed_contract_ids=tuple(failed[:LISTED_FAILURES]),
            missing_batches=missing,
            contracts_without_outcome=max(contract_count - counted, 0) if missing else 0,
        )


@dataclass
class ComposeInvoice:
    ledger: Ledger
    publisher: EventPublisher
    master: MasterDataStore | None = None
    """Customer master data, read only where the configuration enforces it."""

    def handle(self, *, contract_id: str, period: str, run_id: str, correlation_id: str) -> dict[str, Any]:
        config = self.ledger.load_config()
        context = RuleContext(correlation_id=correlation_id, source_ref=f"billing-run:{run_id}")
        update = apply_to_book(
            self.ledger,
            contract_id,
            lambda book: (
                compose_invoice(
                    book,
                    period=period,
                    config=config,
                    run_id=run_id,
                    context=context,
                    master=self._master_facts(config, book),
                ).update
            ),
            self.publisher,
        )
        pending = unsubmitted_invoices(update.book)
        return {
            "contract_id": contract_id,
            "period": period,
            "run_id": run_id,
            "proposal_id": pending[0].proposal_id if pending else None,
        }

    def _master_facts(self, config: BillingConfig, book: ContractBook) -> MasterFacts | None:
        """Read from the master for the book being composed (not enforced: nothing is read)."""
        if self.master is None or not config.customer_master.enforced:
            return None
        latest = book.latest_version
        if latest is None:
            return None
        return master_facts(
            self.master, config.customer_master, customer_id=latest.customer_id, legal_entity=latest.legal_entity
        )


def unsubmitted_invoices(book: ContractBook) -> list[Invoice]:
    return sorted(
        (
            invoice
            for invoice in book.invoices.values()
            if invoice.status is InvoiceStatus.PROPOSED and not invoice.submitted_to_erp
        ),
        key=lambda invoice: (invoice.period, invoice.seq),
    )


@dataclass
class PostInvoice:
    ledger: Ledger
    publisher: EventPublisher
    erp: Connector
    rollout: Rollout = field(default_factory=Rollout)
    """In `shadow` (workflow `actuals`) proposals are recorded as not posted and never sent."""

    def handle(self, *, contract_id: str, correlation_id: str) -> list[str]:
        """Post every proposed invoice of the contract not yet accepted by the ERP
        connector; the proposal id is the idempotency key, so a retried post
        cannot create a second invoice."""
        posted = []
        shadow = self.rollout.mode_for(BILLING_WORKFLOW) == RolloutMode.SHADOW
        for invoice in unsubmitted_invoices(self.ledger.load(contract_id).book):
            if shadow:
                # Settled as "not posted" for good: switching the workflow on later
                # does not send the parallel period's proposals to the ERP.
                context = RuleContext(correlation_id=invoice.correlation_id or correlation_id, source_ref="rollout")
                apply_to_book(
                    self.ledger,
                    contract_id,
                    partial(
                        _mark_submitted, proposal_id=invoice.proposal_id, reference=SHADOW_REFERENCE, context=context
                    ),
                    self.publisher,
                )
                continue
            try:
                receipt = self.erp.send(
                    ConnectorCommand(
                        target=invoice.erp_instance,
                        name="CreateInvoice",
                        idempotency_key=invoice.proposal_id,
                        correlation_id=invoice.correlation_id or correlation_id,
                        payload=invoice_payload(invoice),
                    )
                )
            except TransientConnectorError as error:
                raise TransientError(str(error)) from error
            if not receipt.accepted:
                raise ErpRejectedCommandError(f"{invoice.proposal_id}: {receipt.detail}")
            context = RuleContext(correlation_id=invoice.correlation_id or correlation_id, source_ref="erp-connector")
            apply_to_book(
                self.ledger,
                contract_id,
                partial(_mark_submitted, proposal_id=invoice.proposal_id, reference=receipt.reference, context=context),
                self.publisher,
            )
            posted.append(invoice.proposal_id)
        return posted


def _mark_submitted(book: ContractBook, *, proposal_id: str, reference: str | None, context: RuleContext) -> BookUpdate:
    return mark_invoice_submitted(book, proposal_id=proposal_id, reference=reference, context=context)


@dataclass
class RecordBillingFailure:
    ledger: Ledger
    publisher: EventPublisher

    def handle(self, *, contract_id: str, period: str, error: str, cause: str, correlation_id: str) -> None:
        context = RuleContext(correlation_id=correlation_id, source_ref="billing-run")
        apply_to_book(
            self.ledger,
            contract_id,
            lambda book: record_billing_failure(book, period=period, error=error, cause=cause, context=context),
            self.publisher,
        )


def invoice_payload(invoice: Invoice) -> dict[str, Any]:
    return {
        "proposal_id": invoice.proposal_id,
        "contract_id": invoice.contract_id,
        "customer_id": invoice.customer_id,
        "legal_entity": invoice.legal_entity,
        "period": invoice.period,
        "currency": invoice.currency,
        "tax_jurisdiction": invoice.tax_jurisdiction,
        "lines": [
            {
                "kind": line.kind,
                "ref": line.ref,
                "description": line.description,
                "quantity": str(line.quantity),
                "rate": None if line.rate is None else str(line.rate),
                "amount": str(line.amount),
                "contract_version": line.contract_version,
            }
            for line in invoice.lines
        ],
        "subtotal": str(invoice.subtotal),
        "tax": str(invoice.tax),
        "total": str(invoice.total),
        **(
            {"tax_exemption_certificate": invoice.tax_exemption_certificate}
            if invoice.tax_exemption_certificate
            else {}
        ),
    }
