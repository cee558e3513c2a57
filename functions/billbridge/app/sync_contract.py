"""Contract-to-project: an approved contract or amendment updates the book and
the downstream systems (PSA project, ERP billing schedule).

The customer and contract sync is one workflow: customer master events go to
`SyncCustomerMaster`. Where the configuration enforces the customer master, a
contract whose customer is not in it yet is pending: its book is kept, its
downstream upserts wait until the customer arrives (docs/decisions/0009-customer-master.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

from billbridge import topology
from billbridge.app.customer_master import (
    MasterDataStore,
    MasterUpdate,
    SyncCustomerMaster,
    customer_id_map,
    customer_versions,
)
from billbridge.app.event_translation import IngestedEvent, contract_version_from, termination_from
from billbridge.app.ledger import Ledger, apply_to_book
from billbridge.app.personal_data_in_transit import PersonalDataVault, open_contract_data
from billbridge.app.ports import Connector, ConnectorCommand, EventPublisher
from billbridge.app.rollout import Rollout
from billbridge.domain.book_draft import RuleContext
from billbridge.domain.contract_changes import apply_contract_version, apply_termination
from billbridge.domain.customer_master import latest_of
from billbridge.domain.model import BookUpdate, ContractVersion


@dataclass
class SyncContract:
    ledger: Ledger
    publisher: EventPublisher
    psa: Connector | None = None
    erp: Connector | None = None
    personal_data: PersonalDataVault | None = None
    """Opens the billing contact sealed at the webhook edge (deployed stacks)."""
    master: MasterDataStore | None = None
    """Customer and legal-entity master data (None: customer master events are refused)."""
    rollout: Rollout = field(default_factory=Rollout)
    """In `shadow` the contract is recorded but no downstream upsert is sent."""

    def handle(self, event: IngestedEvent) -> BookUpdate | MasterUpdate:
        if event.event_type in topology.CUSTOMER_EVENT_TYPES:
            if self.master is None:
                raise LookupError(f"{event.event_type}: this hub keeps no customer master")
            return SyncCustomerMaster(self.master, release=self.release_contract).handle(event)
        context = RuleContext(correlation_id=event.correlation_id, source_ref=event.source_ref)
        if event.event_type == "contract.terminated":
            termination = termination_from(event.data)
            return apply_to_book(
                self.ledger,
                termination.contract_id,
                lambda book: apply_termination(book, termination, context),
                self.publisher,
            )
        version = contract_version_from(open_contract_data(event.data, self.personal_data))
        update = apply_to_book(
            self.ledger,
            version.contract_id,
            lambda book: apply_contract_version(book, version, context),
            self.publisher,
        )
        latest = update.book.latest_version
        if latest is not None and latest == version:
            if self._waits_for_customer(version):
                assert self.master is not None
                self.master.hold_pending_contract(version.customer_id, version.contract_id)
                self.ledger.record_mapping(
                    version.contract_id,
                    {"clm_contract_id": version.contract_id, "master_status": "pending_customer"},
                )
                return update
            if self.rollout.mode_for("contracts", event.source) == "shadow":
                self.ledger.record_mapping(
                    version.contract_id, {"clm_contract_id": version.contract_id, "rollout": "shadow"}
                )
                return update
            # Re-sent on every delivery of the latest version: the idempotency key
            # makes a repeat harmless, and a crash between save and send is healed.
            self._upsert_downstream(version, event.correlation_id)
        return update

    def _waits_for_customer(self, version: ContractVersion) -> bool:
        if self.master is None or not self.ledger.load_config().customer_master.enforced:
            return False
        return not customer_versions(self.master, version.customer_id)

    def release_contract(self, contract_id: str, correlation_id: str) -> None:
        """The contract's customer arrived: send the upserts that waited for it."""
        latest = self.ledger.load(contract_id).book.latest_version
        if latest is not None and self.rollout.mode_for("contracts", "clm") != "shadow":
            self._upsert_downstream(latest, correlation_id)

    def _upsert_downstream(self, version: ContractVersion, correlation_id: str) -> None:
        key = f"{version.contract_id}-v{version.version}"
        ids = {
            "clm_contract_id": version.contract_id,
            "contract_version": str(version.version),
            "erp_customer_id": version.customer_id,
            "legal_entity": version.legal_entity,
        }
        erp_instance = self.ledger.load_config().erp_instance_for(version.legal_entity) or "erp"
        customer = latest_of(customer_versions(self.master, version.customer_id)) if self.master else None
        if customer is not None:
            ids["master_status"] = "customer_known"
            ids.update({k: v for k, v in customer_id_map(customer).items() if k != "customer_id"})
            ids["erp_customer_id"] = customer.erp_customer_id(erp_instance) or version.customer_id
        if self.psa is not None:
            receipt = self.psa.send(
                ConnectorCommand(
                    target="psa",
                    name="UpsertProject",
                    idempotency_key=key,
                    correlation_id=correlation_id,
                    payload=project_payload(version),
                )
            )
            ids["psa_project_ref"] = receipt.reference or ""
        if self.erp is not None:
            receipt = self.erp.send(
                ConnectorCommand(
                    target=erp_instance,
                    name="UpsertBillingSchedule",
                    idempotency_key=key,
                    correlation_id=correlation_id,
                    payload=billing_schedule_payload(version),
                )
            )
            ids["erp_billing_schedule_ref"] = receipt.reference or ""
        self.ledger.record_mapping(version.contract_id, ids)


def project_payload(version: ContractVersion) -> dict[str, object]:
    return {
        "contract_id": version.contract_id,
        "contract_version": version.version,
        "customer_id": version.customer_id,
        "billing_method": _billing_method(version),
        "start_date": version.start_date.isoformat(),
        "end_date": version.end_date.isoformat(),
        "currency": version.currency,
        "rates": [
            {"role": line.role, "resource_id": line.resource_id, "rate": str(line.rate)} for line in version.rate_card
        ],
        "milestones": [
            {"milestone_id": m.milestone_id, "name": m.name, "amount": str(m.amount)} for m in version.milestones
        ],
        "cap_amount": None if version.cap_amount is None else str(version.cap_amount),
        "cost_centers": list(version.cost_centers),
    }


def billing_schedule_payload(version: ContractVersion) -> dict[str, object]:
    return {
        "contract_id": version.contract_id,
        "contract_version": version.version,
        "customer_id": version.customer_id,
        "legal_entity": version.legal_entity,
        "currency": version.currency,
        "recurring_fees": [
            {
                "fee_id": fee.fee_id,
                "amount": str(fee.amount),
                "frequency": fee.frequency,
                "start_date": fee.start_date.isoformat(),
                "end_date": fee.end_date.isoformat() if fee.end_date else None,
            }
            for fee in version.recurring_fees
        ],
        "milestones": [{"milestone_id": m.milestone_id, "amount": str(m.amount)} for m in version.milestones],
    }


def _billing_method(version: ContractVersion) -> str:
    methods = []
    if version.rate_card:
        methods.append("time_and_materials")
    if version.recurring_fees:
        methods.append("fixed_fee")
    if version.milestones:
        methods.append("milestones")
    return "+".join(methods) or "none"
