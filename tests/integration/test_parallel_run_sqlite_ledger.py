"""The SQLite ledger keeps the Ledger port's contract: optimistic concurrency, books
read back equal (dictionary order included), and in write-back mode exactly what
a checkpoint committed survives the process."""

from __future__ import annotations

from pathlib import Path

import pytest
from billbridge.adapters.sqlite_ledger import LedgerStoreError, SqliteLedger
from billbridge.app.billing_config_document import billing_config_from
from billbridge.app.ledger import ConcurrentUpdateError
from billbridge.domain.model import BillingConfig, ContractBook

from tests.fakes.hub import CoreHub
from tests.scenarios.catalog import load_scenario

CONFIG = {
    "tax_rates": [{"jurisdiction": "US-NY", "rate": "0.08875", "effective_from": "2020-01-01"}],
    "legal_entities": [{"legal_entity": "US01", "erp_instance": "erp-us"}],
}


def _books_of_scenario(name: str) -> list[ContractBook]:
    scenario, _ = load_scenario(name)
    hub = CoreHub(scenario.get("config"))
    hub.run_scenario(scenario)
    return sorted(hub.ledger.books(), key=lambda book: book.contract_id)


def _copy_books(ledger: SqliteLedger, books: list[ContractBook]) -> None:
    from billbridge.domain.model import BookUpdate

    for book in books:
        stored = ledger.load(book.contract_id)
        ledger.save(stored, BookUpdate(book=book))


@pytest.mark.parametrize("scenario", ["02-amendment-split", "03-cap-and-release", "04-managed-services"])
def test_books_read_back_equal_with_their_order(tmp_path: Path, scenario: str) -> None:
    books = _books_of_scenario(scenario)
    with SqliteLedger(tmp_path / "ledger.sqlite") as ledger:
        _copy_books(ledger, books)
    with SqliteLedger(tmp_path / "ledger.sqlite") as reopened:
        read_back = reopened.books()
    assert read_back == books
    for original, again in zip(books, read_back, strict=True):
        assert list(again.lines) == list(original.lines)
        assert list(again.entries) == list(original.entries)


def test_a_stale_revision_is_refused(tmp_path: Path) -> None:
    from billbridge.domain.model import BookUpdate

    with SqliteLedger(tmp_path / "ledger.sqlite") as ledger:
        stale = ledger.load("C-1")
        ledger.save(stale, BookUpdate(book=ContractBook(contract_id="C-1")))
        with pytest.raises(ConcurrentUpdateError):
            ledger.save(stale, BookUpdate(book=ContractBook(contract_id="C-1")))
        assert ledger.load("C-1").revision == 1


def test_another_process_saving_first_makes_the_save_retry(tmp_path: Path) -> None:
    from billbridge.domain.model import BookUpdate

    path = tmp_path / "ledger.sqlite"
    with SqliteLedger(path) as first, SqliteLedger(path) as second:
        loaded_by_first = first.load("C-1")
        second.save(second.load("C-1"), BookUpdate(book=ContractBook(contract_id="C-1")))
        with pytest.raises(ConcurrentUpdateError):
            first.save(loaded_by_first, BookUpdate(book=ContractBook(contract_id="C-1")))
        assert first.load("C-1").revision == 1


def test_write_back_keeps_only_what_a_checkpoint_committed(tmp_path: Path) -> None:
    books = _books_of_scenario("02-amendment-split")
    path = tmp_path / "ledger.sqlite"
    ledger = SqliteLedger(path, write_back=True)
    _copy_books(ledger, books[:1])
    ledger.checkpoint({"records": 1})
    _copy_books(ledger, books[1:])
    ledger.park_feedback("rejection#X", {"event_type": "time_entry.rejected"})
    ledger.close()  # a crash: nothing after the checkpoint was committed

    with SqliteLedger(path) as reopened:
        assert reopened.progress() == {"records": 1}
        assert [book.contract_id for book in reopened.books()] == [books[0].contract_id]
        assert reopened.books()[0] == books[0]
        assert reopened.take_parked_feedback("rejection#X") == []


def test_configuration_parked_feedback_and_lookups_survive(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    books = _books_of_scenario("01-time-and-materials")
    with SqliteLedger(path, config=billing_config_from(CONFIG)) as ledger:
        _copy_books(ledger, books)
        ledger.park_feedback("payment#INV-1", {"n": 1})
        ledger.park_feedback("payment#INV-1", {"n": 2})
        ledger.remember_invoice_number("INV-1", "P-1")
        ledger.record_mapping("C-1", {"psa_project_ref": "psa:1"})
        ledger.record_mapping("C-1", {"erp_billing_schedule_ref": "erp:1"})
    with SqliteLedger(path) as reopened:
        assert reopened.load_config() == billing_config_from(CONFIG)
        assert reopened.load_config() != BillingConfig()
        assert reopened.take_parked_feedback("payment#INV-1") == [{"n": 1}, {"n": 2}]
        assert reopened.take_parked_feedback("payment#INV-1") == []
        assert reopened.proposal_for_invoice_number("INV-1") == "P-1"
        assert reopened.mapping("C-1") == {"psa_project_ref": "psa:1", "erp_billing_schedule_ref": "erp:1"}
        some_entry = next(iter(books[0].entries))
        assert reopened.contract_of_entry(some_entry) == books[0].contract_id
        assert reopened.contract_of_entry("no-such-entry") is None


def test_a_damaged_file_is_reported_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(LedgerStoreError, match="move it aside"):
        SqliteLedger(path)
