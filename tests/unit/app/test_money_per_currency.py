"""Amounts in different currencies are never added: KPIs, tiles and tables carry each amount's currency."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest
from billbridge.local.demo_engagement import engagement
from billbridge.reporting.html_report import render_html_report
from billbridge.reporting.kpi_tables import exceptions_table, held_work_table
from billbridge.reporting.kpis import compute_kpis, kpi_document

from tests.fakes.hub import CoreHub


@pytest.fixture(scope="module")
def demo() -> tuple[dict[str, Any], dict[str, Any]]:
    scenario = engagement()
    hub = CoreHub(scenario.get("config"))
    report = hub.run_scenario(scenario)
    return report, kpi_document(compute_kpis(hub.ledger.books(), as_of=date(2026, 4, 30)))


class TileParser(HTMLParser):
    """The money tiles of the HTML report: (tile, currency) -> shown value."""

    def __init__(self) -> None:
        super().__init__()
        self.tiles: dict[tuple[str, str], str] = {}
        self._open: tuple[str, str] | None = None
        self._in_value = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "div" and values.get("data-tile"):
            self._open = (str(values["data-tile"]), str(values.get("data-currency") or ""))
        elif tag == "div" and self._open and values.get("class") == "value":
            self._in_value = True

    def handle_data(self, data: str) -> None:
        if self._open and self._in_value:
            self.tiles[self._open] = data.strip()
            self._in_value = False
            self._open = None


def test_a_euro_expense_is_held_in_euros_in_the_replay_report(demo: tuple[dict[str, Any], dict[str, Any]]) -> None:
    report, _ = demo
    (mismatch,) = [e for e in report["exceptions"] if e["type"] == "currency_mismatch"]
    assert (mismatch["refs"], mismatch["amount"], mismatch["currency"]) == (["EXP-502"], "610.00", "EUR")


def test_money_at_risk_is_given_per_currency(demo: tuple[dict[str, Any], dict[str, Any]]) -> None:
    _, kpis = demo
    at_risk = {row["currency"]: Decimal(row["amount"]) for row in kpis["exceptions"]["money_at_risk"]}
    assert at_risk["EUR"] == Decimal("610.00")
    assert "USD" in at_risk
    rows = exceptions_table(kpis).rows
    (euro_row,) = [row for row in rows if row[0] == "currency_mismatch"]
    assert euro_row[1] == "EUR" and euro_row[-1] == "610.00 EUR"


def test_held_work_counts_by_age_and_currency_apart_from_unbilled_lines(
    demo: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    _, kpis = demo
    held = {(item["kind"], item["ref"]): item for item in kpis["held_work"]["items"]}
    no_rate = held[("time", "TS-1003")]
    assert (no_rate["held_by"], Decimal(no_rate["hours"]), no_rate["currency"]) == ("no_rate", Decimal("7"), "USD")
    assert held[("expense", "EXP-502")]["currency"] == "EUR"
    totals = {t["currency"]: t for t in kpis["held_work"]["totals"]}
    assert Decimal(totals["USD"]["hours"]) == Decimal("7") and Decimal(totals["EUR"]["amount"]) == Decimal("610.00")
    assert {row["age_bucket"] for row in kpis["held_work"]["rows"]} <= set(kpis["held_work"]["buckets"])
    assert any(row[-1] == "610.00 EUR" for row in held_work_table(kpis).rows)


def test_the_html_report_has_one_money_tile_per_currency(demo: tuple[dict[str, Any], dict[str, Any]]) -> None:
    _, kpis = demo
    parser = TileParser()
    parser.feed(render_html_report(kpis))
    at_risk = {currency: value for (tile, currency), value in parser.tiles.items() if tile == "money-at-risk"}
    assert set(at_risk) == {"EUR", "USD"}
    assert at_risk["EUR"] == "610.00 EUR"
    assert all(value.endswith(f" {currency}") for currency, value in at_risk.items())
    held = {currency for (tile, currency) in parser.tiles if tile == "held-work"}
    assert held == {"EUR", "USD"}
