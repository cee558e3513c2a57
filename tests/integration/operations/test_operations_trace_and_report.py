"""`billbridge trace ID` and `billbridge report` on the local stack after scenarios 02 and 03."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import struct
import subprocess
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest
from billbridge.cli.main import main
from billbridge.entrypoints.schedule.publish_kpis import emit_kpi_metrics
from billbridge.reporting.kpis import age_bucket, kpi_document

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_INSTALL = "apt-get install -y chromium"
CHARTS = {
    "unbilled-by-age",
    "held-work-by-age",
    "approval-to-invoice",
    "exceptions-by-type",
    "cap-burn",
    "dead-letters",
}


def test_trace_from_a_proposal_reaches_the_raw_webhooks(amendments_state: Path, cli, cli_json) -> None:
    trace = cli_json("trace", "SOW-200-2026-03-1", state=amendments_state)
    assert trace["matched"] == "proposal"
    (proposal,) = trace["proposals"]
    assert proposal["proposal_id"] == "SOW-200-2026-03-1" and proposal["status"] == "paid"
    assert [e["invoice_number"] for e in trace["erp_invoices"]] == ["INV-9001"]
    assert [p["payment_id"] for p in trace["payments"]] == ["PAY-1"]
    assert len(trace["lines"]) == 3
    for line in trace["lines"]:
        assert line["contract_version"] in (1, 2) and line["rate_rule"] == "rate_card[role=consultant]"
        assert line["rules"]
        (event,) = line["source_events"]
        assert event["type"] == "time_entry.approved"
        # Small single-event deliveries keep their raw body in their delivery claim (decision 0005).
        assert event["raw_key"].startswith("delivery-claim:psa/")
        assert line["contract_terms"]["source_event"]["raw_key"].startswith("delivery-claim:clm/")
    raw_keys = {raw["raw_key"] for raw in trace["raw_webhooks"]}
    assert {e["raw_key"] for line in trace["lines"] for e in line["source_events"]} <= raw_keys
    assert any(r["action"] == "invoice_proposed" for r in trace["audit"])

    code, tree = cli("trace", "SOW-200-2026-03-1", state=amendments_state)
    assert code == 0
    assert "ERP invoice INV-9001" in tree and "payment PAY-1" in tree
    assert re.search(r"raw webhook delivery-claim:psa/\S+", tree)


def test_trace_by_invoice_number_entry_and_correlation_id(amendments_state: Path, cli, cli_json) -> None:
    by_number = cli_json("trace", "INV-9001", state=amendments_state)
    assert by_number["matched"] == "erp_invoice" and by_number["proposals"][0]["proposal_id"] == "SOW-200-2026-03-1"
    by_entry = cli_json("trace", "TE-11", state=amendments_state)
    assert by_entry["matched"] == "entry" and {line["ref"] for line in by_entry["lines"]} == {"TE-11"}
    correlation = by_entry["lines"][0]["source_events"][0]["correlation_id"]
    by_correlation = cli_json("trace", correlation, state=amendments_state)
    assert by_correlation["matched"] == "correlation"
    assert [p["proposal_id"] for p in by_correlation["proposals"]] == ["SOW-200-2026-03-1"]
    assert cli("trace", "nothing-like-this", state=amendments_state)[0] == 1


@pytest.fixture(scope="module")
def cap_report(cap_state: Path, tmp_path_factory: pytest.TempPathFactory, state_option: str) -> tuple[dict, Path]:
    """`billbridge report --as-of 2026-06-30 --html FILE --json` on scenario 03 (cap reached, then raised)."""
    workdir = tmp_path_factory.mktemp("report")
    html = workdir / "kpis.html"
    state = shutil.copy(cap_state, workdir / "state.json")
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(["report", "--as-of", "2026-06-30", "--html", str(html), "--json", state_option, str(state)])
    assert code == 0
    return json.loads(buffer.getvalue()), html


def test_report_computes_the_kpis_from_the_ledger(cap_report) -> None:
    kpis, _ = cap_report
    assert kpis["as_of"] == "2026-06-30" and kpis["contracts"] == 1
    (burn,) = kpis["cap_burn"]
    assert burn["contract_id"] == "SOW-300"
    assert Decimal(burn["invoiced_time"]) == Decimal("11400.00")
    assert Decimal(burn["burn_percent"]) == (Decimal(burn["invoiced_time"]) * 100 / Decimal(burn["cap"])).quantize(
        Decimal("0.1")
    )
    approval = kpis["approval_to_invoice"]
    assert approval["samples"] >= 6 and approval["median_days"] is not None
    assert Decimal(approval["p90_days"]) >= Decimal(approval["median_days"])
    types = {row["type"] for row in kpis["exceptions"]["rows"]}
    assert "cap_exceeded" in types
    # every DLQ of the hub is an integration failure's place, not only the consumers'
    assert [d["workflow"] for d in kpis["integration_failures"]["dead_letters"]][:3] == [
        "contracts",
        "actuals",
        "feedback",
    ]
    assert {"billing-start", "kpi-publisher", "actuals-delivery"} <= {
        d["workflow"] for d in kpis["integration_failures"]["dead_letters"]
    }
    assert kpis["corrections"]["invoices"] == 2
    business = kpis["business"]
    assert business["dispute_rate"]["invoices"] == 2
    assert set(business) == {"dso", "dispute_rate", "failure_resolution", "revenue_leakage"}


def test_report_ages_unbilled_work(amendments_state: Path, cli_json) -> None:
    kpis = cli_json("report", "--as-of", "2026-06-30", state=amendments_state)
    assert kpis["unbilled"]["buckets"] == ["0-30", "31-60", "61-90", "90+"]
    assert kpis["unbilled"]["rows"] == []  # everything of scenario 02 is invoiced
    (retro,) = kpis["exceptions"]["rows"]
    assert retro["type"] == "retroactive_change" and Decimal(retro["money_at_risk"]) == Decimal("960.00")


def test_age_buckets_follow_the_line_date() -> None:
    from datetime import date

    as_of = date(2026, 6, 30)
    assert age_bucket(date(2026, 6, 30), as_of) == "0-30"
    assert age_bucket(date(2026, 7, 15), as_of) == "0-30"
    assert age_bucket(date(2026, 5, 31), as_of) == "0-30"
    assert age_bucket(date(2026, 5, 30), as_of) == "31-60"
    assert age_bucket(date(2026, 5, 1), as_of) == "31-60"  # 60 days
    assert age_bucket(date(2026, 4, 30), as_of) == "61-90"  # 61 days
    assert age_bucket(date(2026, 4, 1), as_of) == "61-90"  # 90 days
    assert age_bucket(date(2026, 3, 31), as_of) == "90+"  # 91 days


def test_kpis_are_published_as_emf_metrics(cap_report, capsys, monkeypatch) -> None:
    kpis, _ = cap_report
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)

    emitted = emit_kpi_metrics(_with_decimals(kpi_document(kpis)), namespace="BillbridgeTest")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    names = {m["Name"] for doc in lines for d in doc["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert emitted == len(lines)
    assert {"CapBurnPercent", "ApprovalToInvoiceMedianDays", "DeadLetteredMessages", "ExceptionsOpen"} <= names
    assert {"DisputeRatePercent"} <= names
    burn = next(doc for doc in lines if "CapBurnPercent" in doc)
    assert burn["ContractId"] == "SOW-300" and burn["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "BillbridgeTest"


def _with_decimals(document):
    """emit_kpi_metrics takes the computed KPIs; the document's decimal strings are turned back."""
    if isinstance(document, dict):
        return {k: _with_decimals(v) for k, v in document.items()}
    if isinstance(document, list):
        return [_with_decimals(v) for v in document]
    if isinstance(document, str) and re.fullmatch(r"-?\d+(\.\d+)?", document):
        return Decimal(document)
    return document


class ChartParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, int] = {}
        self.current: str | None = None
        self.scripts = 0
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "svg" and values.get("data-chart"):
            self.current = str(values["data-chart"])
            self.charts[self.current] = 0
        elif tag == "rect" and self.current and values.get("class") == "bar":
            if float(values.get("height") or 0) > 0 and float(values.get("width") or 0) > 0:
                self.charts[self.current] += 1
        elif tag == "script":
            self.scripts += 1
        for name in ("src", "href"):
            if values.get(name) and not str(values[name]).startswith("#"):
                self.external.append(str(values[name]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.current = None


def test_the_html_report_is_one_offline_file_with_svg_charts(cap_report) -> None:
    _, html = cap_report
    parser = ChartParser()
    parser.feed(html.read_text(encoding="utf-8"))
    assert set(parser.charts) == CHARTS
    assert parser.charts["cap-burn"] == 1 and parser.charts["approval-to-invoice"] >= 1
    assert parser.charts["exceptions-by-type"] >= 1
    assert parser.scripts == 0 and parser.external == []


def _chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(f"headless Chromium is needed for this test and {CHROMIUM} is missing: run `{CHROMIUM_INSTALL}`")
    return CHROMIUM


def _render(page: Path, workdir: Path) -> tuple[str, str, Path]:
    """(DOM after load, browser log, screenshot) of a page in headless Chromium."""
    screenshot = workdir / f"{page.stem}.png"
    common = [
        str(_chromium()),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        f"--user-data-dir={workdir / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1000,2400",
    ]
    dom = subprocess.run([*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=60)
    shot = subprocess.run(
        [*common, f"--screenshot={screenshot}", page.as_uri()], capture_output=True, text=True, timeout=60
    )
    return dom.stdout, dom.stderr + shot.stderr, screenshot


def _console_errors(log: str) -> list[str]:
    return [line for line in log.splitlines() if "CONSOLE" in line or "Uncaught" in line or "Failed to load" in line]


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_html_report_renders_in_headless_chromium(cap_report, tmp_path: Path) -> None:
    _, html = cap_report
    broken = tmp_path / "broken.html"
    broken.write_text("<!DOCTYPE html><html><body><script>console.error('broken page')</script></body></html>")
    _, broken_log, _ = _render(broken, tmp_path)
    assert _console_errors(broken_log), "the console check must see a page's console errors"

    dom, log, screenshot = _render(html, tmp_path)
    assert _console_errors(log) == []
    parser = ChartParser()
    parser.feed(dom)
    assert set(parser.charts) == CHARTS and parser.charts["cap-burn"] == 1
    assert screenshot.exists() and _png_size(screenshot) == (1000, 2400)
    assert screenshot.stat().st_size > 20_000  # charts and tables drawn, not a blank page


def test_the_html_report_shows_money_tiles_per_currency_in_headless_chromium(tmp_path: Path) -> None:
    """The demo engagement holds a euro expense on a dollar contract: the browser
    shows a money-at-risk tile per currency, never their sum."""
    from datetime import date

    from billbridge.local.demo_engagement import engagement
    from billbridge.reporting.html_report import render_html_report
    from billbridge.reporting.kpis import compute_kpis

    from tests.fakes.hub import CoreHub
    from tests.unit.app.test_money_per_currency import TileParser

    scenario = engagement()
    hub = CoreHub(scenario.get("config"))
    hub.run_scenario(scenario)
    page = tmp_path / "kpis.html"
    page.write_text(
        render_html_report(kpi_document(compute_kpis(hub.ledger.books(), as_of=date(2026, 4, 30)))), encoding="utf-8"
    )
    dom, log, _ = _render(page, tmp_path)
    assert _console_errors(log) == []
    tiles = TileParser()
    tiles.feed(dom)
    at_risk = {currency: value for (tile, currency), value in tiles.tiles.items() if tile == "money-at-risk"}
    assert set(at_risk) == {"EUR", "USD"}
    assert at_risk["EUR"] == "610.00 EUR"
    assert at_risk["USD"].endswith(" USD") and not at_risk["USD"].startswith("1930.00")
    for (tile, currency), value in tiles.tiles.items():
        assert tile in {"unbilled", "held-work", "money-at-risk"}
        assert value == "none" if not currency else value.endswith(f" {currency}")


def test_the_scheduled_entrypoint_publishes_the_kpis(cap_state: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    from billbridge.entrypoints.schedule.publish_kpis import lambda_handler
    from billbridge.local.stack import LocalStack

    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    with LocalStack(state_file=shutil.copy(cap_state, tmp_path / "state.json")):
        result = lambda_handler({"time": "2026-06-30T06:00:00Z"}, None)
    assert result["as_of"] == "2026-06-30" and result["metrics"] > 0
    assert '"CapBurnPercent"' in capsys.readouterr().out
