"""The customer and contract sync workflow with the customer master, and shadow mode."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from billbridge.adapters.memory_command_log import InMemoryCommandLog
from billbridge.app.billing_config_document import billing_config_from
from billbridge.app.customer_master import MasterVersionConflictError, customer_summary
from billbridge.app.downstream_sync import DownstreamSync
from billbridge.app.event_translation import IngestedEvent
from billbridge.app.rollout import SHADOW_REFERENCE, Rollout
from billbridge.app.run_billing import ComposeInvoice, PostInvoice
from billbridge.app.sync_contract import SyncContract
from billbridge.domain.customer_master import MasterChange
from billbridge.domain.model import BillingConfig

from tests.fakes.edge import FixedClock
from tests.fakes.hub import RecordingConnector, RecordingPublisher
from tests.fakes.memory_ledger import InMemoryLedger
from tests.unit.app.test_canonical_events import CONTRACT, DATA_BY_TYPE

CONFIG: dict[str, Any] = {
    "tax_rates": [{"jurisdiction": "US-NY", "rate": "0.08875", "effective_from": "2020-01-01"}],
    "legal_entities": [{"legal_entity": "US01", "erp_instance": "erp-us"}],
    "customer_master": {"enforced": True, "grace_days": 30},
}


def ingested(event_type: str, data: dict[str, Any], event_id: str, source: str) -> IngestedEvent:
    return IngestedEvent(
        event_type=event_type, data=data, correlation_id=f"corr-{event_id}", source=source, event_id=event_id
    )


def contract(customer_id: str = "CUST-ACME") -> IngestedEvent:
    return ingested("contract.approved", CONTRACT | {"customer_id": customer_id}, "clm-1", "clm")


def customer(**changes: Any) -> IngestedEvent:
    return ingested("customer.upserted", copy.deepcopy(DATA_BY_TYPE["customer.upserted"]) | changes, "erp-1", "erp")


class Hub:
    def __init__(
        self, config: dict[str, Any] = CONFIG, rollout: Rollout | None = None, ledger: InMemoryLedger | None = None
    ) -> None:
        self.ledger = ledger or InMemoryLedger(billing_config_from(config))
        self.psa = RecordingConnector()
        self.erp = RecordingConnector()
        self.publisher = RecordingPublisher()
        self.sync = SyncContract(
            self.ledger,
            self.publisher,
            psa=self.psa,
            erp=self.erp,
            downstream=DownstreamSync(self.ledger, InMemoryCommandLog(), FixedClock(), self.publisher),
            master=self.ledger,
            rollout=rollout or Rollout(),
        )

    def commands(self) -> list[str]:
        return [c.name for c in self.psa.commands + self.erp.commands]


def test_a_contract_whose_customer_is_unknown_waits_without_downstream_upserts() -> None:
    hub = Hub()
    hub.sync.handle(contract())
    assert hub.commands() == []
    assert hub.ledger.mapping("SOW-1001")["master_status"] == "pending_customer"
    assert hub.ledger.pending_contracts("CUST-ACME") == ["SOW-1001"]
    assert hub.ledger.load("SOW-1001").book.latest_version is not None


def test_the_customers_arrival_releases_the_pending_contract_with_its_erp_customer_id() -> None:
    hub = Hub()
    hub.sync.handle(contract())
    update = hub.sync.handle(customer())
    assert update.released_contracts == ("SOW-1001",)  # type: ignore[union-attr]
    assert hub.commands() == ["UpsertProject", "UpsertBillingSchedule"]
    ids = hub.ledger.mapping("SOW-1001")
    assert ids["erp_customer_id"] == "C-100234"
    assert (ids["crm_account_id"], ids["psa_client_id"], ids["master_status"]) == (
        "001Dn00000ACME",
        "CLIENT-77",
        "customer_known",
    )
    assert hub.ledger.pending_contracts("CUST-ACME") == []


def test_a_contract_of_a_known_customer_is_upserted_at_once() -> None:
    hub = Hub()
    hub.sync.handle(customer())
    hub.sync.handle(contract())
    assert hub.commands() == ["UpsertProject", "UpsertBillingSchedule"]


def test_without_enforcement_a_contract_is_upserted_whatever_the_master_holds() -> None:
    hub = Hub(config={k: v for k, v in CONFIG.items() if k != "customer_master"})
    hub.sync.handle(contract("CUST-NOBODY"))
    assert hub.commands() == ["UpsertProject", "UpsertBillingSchedule"]
    assert "master_status" not in hub.ledger.mapping("SOW-1001")


def test_a_redelivered_version_changes_nothing_and_other_content_is_refused() -> None:
    hub = Hub()
    assert hub.sync.handle(customer()).change is MasterChange.NEW  # type: ignore[union-attr]
    assert hub.sync.handle(customer()).change is MasterChange.SAME  # type: ignore[union-attr]
    with pytest.raises(MasterVersionConflictError, match="CUST-ACME version 1"):
        hub.sync.handle(customer(status="inactive"))
    assert hub.ledger.master_versions("customer", "CUST-ACME")[0]["data"]["status"] == "active"
    hub.sync.handle(customer(version=2, effective_date="2026-07-01", status="inactive"))
    summary = customer_summary(hub.ledger, "CUST-ACME")
    assert summary is not None
    assert (summary["version"], summary["versions"], summary["status"]) == (2, [1, 2], "inactive")


def test_legal_entities_are_kept_as_versions() -> None:
    hub = Hub()
    event = ingested("legal_entity.upserted", DATA_BY_TYPE["legal_entity.upserted"], "erp-9", "erp")
    assert hub.sync.handle(event).change is MasterChange.NEW  # type: ignore[union-attr]
    assert hub.ledger.master_keys("legal_entity") == ["US01"]


def test_a_hub_without_a_customer_master_refuses_customer_events_permanently() -> None:
    hub = Hub()
    hub.sync.master = None
    with pytest.raises(LookupError, match="keeps no customer master"):
        hub.sync.handle(customer())


def test_shadow_contracts_are_recorded_without_downstream_commands() -> None:
    hub = Hub(rollout=Rollout.parse({"workflows": {"contracts": "shadow"}}))
    hub.sync.handle(customer())
    hub.sync.handle(contract())
    assert hub.commands() == []
    assert hub.ledger.load("SOW-1001").book.latest_version is not None
    assert hub.ledger.mapping("SOW-1001")["rollout"] == "shadow"


def test_shadow_billing_proposes_but_never_posts_even_after_switching_on() -> None:
    hub = Hub()
    hub.sync.handle(customer())
    hub.sync.handle(contract())
    time_entry = DATA_BY_TYPE["time_entry.approved"] | {"contract_id": "SOW-1001"}
    from billbridge.app.record_actuals import RecordActuals

    RecordActuals(hub.ledger, hub.publisher).handle(ingested("time_entry.approved", time_entry, "psa-1", "psa"))
    ComposeInvoice(hub.ledger, hub.publisher, master=hub.ledger).handle(
        contract_id="SOW-1001", period="2026-03", run_id="run-1", correlation_id="corr-run"
    )
    erp = RecordingConnector()
    shadow = PostInvoice(hub.ledger, hub.publisher, erp, rollout=Rollout.parse({"workflows": {"actuals": "shadow"}}))
    assert shadow.handle(contract_id="SOW-1001", correlation_id="corr-run") == []
    assert erp.commands == []
    (invoice,) = hub.ledger.load("SOW-1001").book.invoices.values()
    assert invoice.erp_reference == SHADOW_REFERENCE
    assert PostInvoice(hub.ledger, hub.publisher, erp).handle(contract_id="SOW-1001", correlation_id="c") == []
    assert erp.commands == []


class ConfigReadsCounted(InMemoryLedger):
    """The in-memory ledger, counting how often the billing configuration is read."""

    config_reads = 0

    def load_config(self) -> BillingConfig:
        self.config_reads += 1
        return super().load_config()


def test_an_approval_reads_the_configuration_once_for_the_master_check_the_customer_ids_and_the_erp() -> None:
    hub = Hub(ledger=ConfigReadsCounted(billing_config_from(CONFIG)))
    hub.sync.handle(customer())
    reads_before = hub.ledger.config_reads  # type: ignore[attr-defined]
    hub.sync.handle(contract())
    assert hub.commands() == ["UpsertProject", "UpsertBillingSchedule"]
    assert hub.ledger.mapping("SOW-1001")["master_status"] == "customer_known"
    assert hub.ledger.config_reads - reads_before == 1  # type: ignore[attr-defined]
