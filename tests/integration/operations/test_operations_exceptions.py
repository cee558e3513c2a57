"""`billbridge exceptions ...` on the local stack after scenario 02 (a retroactive amendment of an
invoiced, paid month) and scenario 03 (a cap reached, then raised)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

RETRO = "retroactive_change:SOW-200:v3"


def test_list_filters_by_type_state_and_contract(state: Path, cli_json, cli) -> None:
    everything = cli_json("exceptions", "list", state=state)
    assert [e["exception_id"] for e in everything] == [RETRO]
    assert cli_json("exceptions", "list", "--type", "retroactive_change", "--state", "open", state=state)
    assert cli_json("exceptions", "list", "--state", "approved", state=state) == []
    assert cli_json("exceptions", "list", "--contract", "SOW-999", state=state) == []
    code, table = cli("exceptions", "list", state=state)
    assert code == 0 and RETRO in table and "960.00 EUR" in table


def test_show_explains_with_terms_lines_and_correlation_trail(state: Path, cli_json, cli) -> None:
    view = cli_json("exceptions", "show", RETRO, state=state)
    assert view["type"] == "retroactive_change" and view["state"] == "open"
    assert Decimal(view["amount"]) == Decimal("960.00") and view["currency"] == "EUR"
    assert view["contract_version"]["version"] == 3
    assert view["contract_version"]["rate_card"] == [{"line": "role=consultant", "rate": "130.00"}]
    assert {line["ref"] for line in view["lines"]} == {"TE-10", "TE-11"}
    assert all(line["invoice_id"] == "SOW-200-2026-03-1" for line in view["lines"])
    assert {i["ref"] for i in view["inputs"]} == {"TE-10", "TE-11"}
    actions = [record["action"] for record in view["correlation_trail"]]
    assert "version_stored" in actions and "exception_raised" in actions
    assert view["source_event"]["ref"] == "clm:clm-0006"
    # A small single-event delivery keeps its raw body in its delivery claim (decision 0005).
    assert view["source_event"]["raw_key"] == "delivery-claim:clm/clm-0006"
    assert "adjustment" in view["how_to_resolve"]
    code, text = cli("exceptions", "show", RETRO, state=state)
    assert code == 0 and "role=consultant" in text and "Correlation trail" in text


def test_show_of_a_cap_exception_gives_the_cap_remaining(cap_state: Path, tmp_path: Path, cli_json) -> None:
    exceptions = cli_json("exceptions", "list", "--type", "cap_exceeded", state=cap_state)
    assert len(exceptions) == 1
    view = cli_json("exceptions", "show", exceptions[0]["exception_id"], state=cap_state)
    cap = view["cap"]
    assert cap is not None
    assert Decimal(cap["remaining"]) == Decimal(cap["cap_amount"]) - Decimal(cap["invoiced_time"])
    assert {line["ref"] for line in view["lines"]} >= {"TE-24", "TE-25"}


def test_approve_then_bill_puts_the_delta_on_an_adjustment_line(state: Path, cli_json) -> None:
    decided = cli_json("exceptions", "approve", RETRO, "--reason", "customer agreed", "--actor", "alice", state=state)
    assert decided["state"] == "approved" and decided["actor"] == "alice"
    assert decided["decided_at"] and decided["reason"] == "customer agreed"
    assert [Decimal(line["amount"]) for line in decided["adjustment_lines"]] == [Decimal("960.00")]

    billed = cli_json("bill", "--period", "2026-04", state=state)
    assert billed["execution"]["status"] == "SUCCEEDED"
    (invoice,) = billed["invoices"]
    adjustments = [line for line in invoice["lines"] if line["kind"] == "adjustment"]
    assert [Decimal(line["amount"]) for line in adjustments] == [Decimal("960.00")]
    assert adjustments[0]["ref"] == RETRO

    view = cli_json("exceptions", "show", RETRO, state=state)
    assert view["decision"]["actor"] == "alice"
    assert any(r["action"] == "exception_approved" for r in view["correlation_trail"])
    again = cli_json("bill", "--period", "2026-04", state=state)
    assert again["invoices"] == []  # the adjustment is billed once


def test_write_off_needs_a_reason_and_bills_nothing(state: Path, cli, cli_json) -> None:
    with pytest.raises(SystemExit):
        cli("exceptions", "write-off", RETRO, state=state)
    code, out = cli("exceptions", "write-off", RETRO, "--reason", " ", state=state)
    assert code == 1 and "reason" in out
    decided = cli_json("exceptions", "write-off", RETRO, "--reason", "goodwill", "--actor", "bob", state=state)
    assert decided["state"] == "written_off" and decided["adjustment_lines"] == []
    assert cli_json("bill", "--period", "2026-04", state=state)["invoices"] == []
    code, out = cli("exceptions", "approve", RETRO, state=state)
    assert code == 1 and "already written_off" in out


def test_an_unknown_exception_is_refused(state: Path, cli) -> None:
    assert cli("exceptions", "show", "no_rate:SOW-200:TE-404", state=state)[0] == 1
    code, out = cli("exceptions", "approve", "no_rate:SOW-200:TE-404", state=state)
    assert code == 1 and "no exception" in out
