"""Contract-to-project: an approved contract or amendment updates the book and
the downstream systems (PSA project, ERP billing schedule); a termination ends
them. Each command's outcome is recorded by `DownstreamSync`
(billbridge.app.downstream_sync): the systems' own ids reach the id map from
their acknowledgements only.

The customer and contract sync is one workflow: customer master events go to
`SyncCustomerMaster`. Where the configuration enforces the customer master, a
contract whose customer is not in it yet is pending: its book is kept, its
downstream upserts wait until the customer arrives (docs/decisions/0009-customer-master.md).
In `shadow` rollout the contract is recorded and no downstream command is sent."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from billbridge import topology
from billbridge.app.amendment_pages import AmendmentInPages
from billbridge.app.canonical_events import AmendmentContinuedData, ContractSnapshotData, ContractTerminatedData
from billbridge.app.customer_master import (
    MasterDataStore,
    MasterUpdate,
    SyncCustomerMaster,
    customer_id_map,
    customer_versions,
)
from billbridge.app.downstream_payloads import (
    billing_method,
    billing_schedule_payload,
    project_payload,
    termination_payload,
)
from billbridge.app.downstream_sync import DownstreamSync, PlannedCommand
from billbridge.app.event_translation import (
    IngestedEvent,
    UntranslatableEventError,
    contract_version_from,
    termination_from,
)
from billbridge.app.ledger import Ledger, apply_to_book
from billbridge.app.personal_data_in_transit import PersonalDataVault, open_contract_data
from billbridge.app.ports import Connector, EventPublisher
from billbridge.app.rollout import Rollout, RolloutMode
from billbridge.domain.book_draft import RuleContext
from billbridge.domain.contract_changes import apply_termination
from billbridge.domain.customer_master import latest_of
from billbridge.domain.model import BillingConfig, BookUpdate, ContractVersion, Termination

__all__ = ["SyncContract", "billing_method", "billing_schedule_payload", "project_payload"]


@dataclass
class SyncContract:
    ledger: Ledger
    publisher: EventPublisher
    psa: Connector | None = None
    erp: Connector | None = None
    personal_data: PersonalDataVault | None = None
    """Opens the billing contact sealed at the webhook edge (deployed stacks), and
    seals it again in the commands' payloads."""
    downstream: DownstreamSync | None = None
    """Records each command's outcome; required when a connector is given."""
    master: MasterDataStore | None = None
    """Customer and legal-entity master data (None: customer master events are refused)."""
    rollout: Rollout = field(default_factory=Rollout)
    """In `shadow` the contract is recorded but no downstream command is sent."""
    amendments: AmendmentInPages | None = None
    """How a version reaches the contract's inputs: in pages (by default, this ledger's)."""

    def __post_init__(self) -> None:
        if (self.psa is not None or self.erp is not None) and self.downstream is None:
            raise ValueError("SyncContract needs `downstream` to record the outcome of its commands")
        if self.amendments is None:
            self.amendments = AmendmentInPages(self.ledger, self.publisher)

    def handle(self, event: IngestedEvent) -> BookUpdate | MasterUpdate:
        if event.event_type in topology.CUSTOMER_EVENT_TYPES:
            if self.master is None:
                raise LookupError(f"{event.event_type}: this hub keeps no customer master")
            return SyncCustomerMaster(self.master, release=self.release_contract).handle(event)
        context = RuleContext(correlation_id=event.correlation_id, source_ref=event.source_ref)
        data = event.data
        assert self.amendments is not None
        if isinstance(data, AmendmentContinuedData):
            return self.amendments.continue_pages(data.contract_id, context)
        if isinstance(data, ContractTerminatedData):
            termination = termination_from(data)
            update = apply_to_book(
                self.ledger,
                termination.contract_id,
                lambda book: apply_termination(book, termination, context),
                self.publisher,
            )
            if update.book.termination == termination and not self._in_shadow(event.source):
                self._terminate_downstream(termination, update.book.latest_version, event.correlation_id)
            return update
        if not isinstance(data, ContractSnapshotData):
            raise UntranslatableEventError(f"type: {event.event_type!r} is not a contract event")
        version = contract_version_from(open_contract_data(data, self.personal_data))
        update = self.amendments.apply_version(version, context)
        latest = update.book.latest_version
        if latest is not None and latest == version:
            # One approval is decided on one reading of the configuration (one read, not one per use).
            config = functools.cache(self.ledger.load_config)
            if self._waits_for_customer(version, config):
                assert self.master is not None
                self.master.hold_pending_contract(version.customer_id, version.contract_id)
                self.ledger.record_mapping(
                    version.contract_id,
                    {"clm_contract_id": version.contract_id, "master_status": "pending_customer"},
                )
                return update
            if self._in_shadow(event.source):
                self.ledger.record_mapping(
                    version.contract_id, {"clm_contract_id": version.contract_id, "rollout": "shadow"}
                )
                return update
            # Re-sent on every delivery of the latest version until acknowledged: the
            # idempotency key makes a repeat harmless, and a crash between save and send is healed.
            self._upsert_downstream(version, event.correlation_id, config)
        return update

    def _in_shadow(self, source: str) -> bool:
        return self.rollout.mode_for("contracts", source) == RolloutMode.SHADOW

    def _waits_for_customer(self, version: ContractVersion, config: Callable[[], BillingConfig]) -> bool:
        if self.master is None or not config().customer_master.enforced:
            return False
        return not customer_versions(self.master, version.customer_id)

    def release_contract(self, contract_id: str, correlation_id: str) -> None:
        """The contract's customer arrived: send the upserts that waited for it."""
        latest = self.ledger.load(contract_id).book.latest_version
        if latest is not None and not self._in_shadow("clm"):
            self._upsert_downstream(latest, correlation_id, functools.cache(self.ledger.load_config))

    def _upsert_downstream(
        self, version: ContractVersion, correlation_id: str, config: Callable[[], BillingConfig]
    ) -> None:
        ids = {
            "clm_contract_id": version.contract_id,
            "contract_version": str(version.version),
            "erp_customer_id": version.customer_id,
            "legal_entity": version.legal_entity,
        }
        customer = latest_of(customer_versions(self.master, version.customer_id)) if self.master else None
        if customer is not None:
            ids["master_status"] = "customer_known"
            ids.update({k: v for k, v in customer_id_map(customer).items() if k != "customer_id"})
            ids["erp_customer_id"] = (
                customer.erp_customer_id(self._erp_instance(version.legal_entity, config())) or version.customer_id
            )
        self.ledger.record_mapping(version.contract_id, ids)
        key = f"{version.contract_id}-v{version.version}"
        if self.psa is not None:
            self._send(self.psa, version, "psa", "psa", "UpsertProject", key, project_payload(version), correlation_id)
        if self.erp is not None:
            self._send(
                self.erp,
                version,
                "erp",
                self._erp_instance(version.legal_entity, config()),
                "UpsertBillingSchedule",
                key,
                billing_schedule_payload(version),
                correlation_id,
            )

    def _terminate_downstream(
        self, termination: Termination, latest: ContractVersion | None, correlation_id: str
    ) -> None:
        if self.downstream is None:
            return
        key = f"{termination.contract_id}-terminated-v{termination.version}"
        payload = termination_payload(termination, latest)
        targets = (
            (self.psa, "psa", "psa", "TerminateProject"),
            (
                self.erp,
                "erp",
                self._erp_instance(latest.legal_entity if latest else "", self.ledger.load_config()),
                "TerminateBillingSchedule",
            ),
        )
        for connector, system, target, name in targets:
            if connector is None:
                continue
            self.downstream.send(
                connector,
                PlannedCommand(
                    contract_id=termination.contract_id,
                    system=system,
                    target=target,
                    name=name,
                    idempotency_key=key,
                    correlation_id=correlation_id,
                    payload=payload,
                    contract_version=termination.version,
                ),
            )

    def _send(
        self,
        connector: Connector,
        version: ContractVersion,
        system: str,
        target: str,
        name: str,
        key: str,
        payload: dict[str, object],
        correlation_id: str,
    ) -> None:
        assert self.downstream is not None
        self.downstream.send(
            connector,
            PlannedCommand(
                contract_id=version.contract_id,
                system=system,
                target=target,
                name=name,
                idempotency_key=key,
                correlation_id=correlation_id,
                payload=self._sealed(version, payload),
                contract_version=version.version,
            ),
        )

    def _sealed(self, version: ContractVersion, payload: dict[str, object]) -> dict[str, object]:
        """The invoicing contacts sealed as on the bus (deployed stacks): the command
        log and the `event` connector carry tokens; the `http` connector opens them."""
        contacts = payload.get("invoicing_contacts")
        if self.personal_data is None or not isinstance(contacts, list) or not contacts:
            return payload
        sealed = [
            contact
            | self.personal_data.seal(
                version.contract_id, version.version, {k: contact[k] for k in ("name", "email") if contact.get(k)}
            )
            for contact in contacts
        ]
        return payload | {"invoicing_contacts": sealed}

    @staticmethod
    def _erp_instance(legal_entity: str, config: BillingConfig) -> str:
        return config.erp_instance_for(legal_entity) or "erp"
