"""`billbridge demo --vendors`: the demo engagement from vendor-shaped payloads (DocuSign Connect
contracts, Xero thin webhooks, NetSuite polling, each against its local stand-in; the US invoices
raised in Xero through its API) ends with the same invoices, exceptions, re-rates and unbilled
amounts as `billbridge demo`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from billbridge.cli.main import main


def _without_correlation_ids(value: Any) -> Any:
    """Correlation ids are minted per delivery (random): everything else must be equal."""
    if isinstance(value, dict):
        return {k: _without_correlation_ids(v) for k, v in value.items() if k != "correlation_id"}
    if isinstance(value, list):
        return [_without_correlation_ids(v) for v in value]
    return value


def _run(arguments: list[str], tmp_path: Path, name: str, capsys: Any) -> tuple[dict[str, Any], str]:
    report = tmp_path / f"{name}.json"
    code = main([*arguments, "--report", str(report), "--state-file", str(tmp_path / f"{name}.sqlite")])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(report.read_text()), out


def test_the_vendor_demo_gives_the_same_invoices_as_the_canonical_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    canonical, _ = _run(["demo"], tmp_path, "canonical", capsys)
    vendors, out = _run(["demo", "--vendors"], tmp_path, "vendors", capsys)

    assert "3 to /webhooks/clm/docusign" in out
    assert "2 to /webhooks/erp/xero" in out
    assert "(0 refused)" in out
    assert "(3 invoices raised by the hub)" in out  # the US invoices left as Xero API calls
    statuses = {i["proposal_id"]: (i["erp_instance"], i["status"]) for i in vendors["invoices"]}
    assert statuses["SOW-GLX-2026-01-2026-01-1"] == ("erp-us", "paid")  # Xero: posted and paid by webhook
    assert statuses["SOW-GLX-DE-7-2026-02-1"] == ("erp-eu", "posted")  # NetSuite: found by polling
    for part in ("invoices", "exceptions", "rerated", "unbilled", "pending"):
        assert _without_correlation_ids(vendors[part]) == _without_correlation_ids(canonical[part]), part
