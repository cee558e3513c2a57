"""docs/openapi.yaml is what the code generates (`make openapi`): read routes from the read API's
resolver, webhook routes from the webhook's models. Edit the code, then regenerate the file."""

from __future__ import annotations

import difflib
from pathlib import Path

import yaml
from billbridge import topology
from billbridge.entrypoints.api.openapi_document import openapi_document, openapi_yaml

CHECKED_IN = Path(__file__).resolve().parents[3] / "docs" / "openapi.yaml"
REGENERATE = "python -m billbridge.entrypoints.api.openapi_document > docs/openapi.yaml (or: make openapi)"


def test_the_checked_in_document_is_the_generated_one() -> None:
    checked_in = CHECKED_IN.read_text(encoding="utf-8")
    generated = openapi_yaml()
    if checked_in != generated:
        diff = "".join(
            difflib.unified_diff(
                checked_in.splitlines(keepends=True),
                generated.splitlines(keepends=True),
                "checked in",
                "generated",
                n=1,
            )
        )
        raise AssertionError(f"docs/openapi.yaml is stale; regenerate it: {REGENERATE}\n{diff[:4000]}")


def test_the_document_has_the_webhook_routes_and_every_read_route() -> None:
    document = yaml.safe_load(CHECKED_IN.read_text(encoding="utf-8"))
    paths = document["paths"]
    assert paths[topology.WEBHOOK_ROUTE]["post"]["security"] == []
    assert paths[topology.VENDOR_WEBHOOK_ROUTE]["post"]["security"] == []
    read_routes = {path for path, item in paths.items() if "get" in item}
    assert read_routes == {
        "/contracts",
        "/contracts/{contract_id}",
        "/invoices",
        "/invoices/{proposal_id}",
        "/exceptions",
        "/exceptions/{exception_id}",
        "/lineage/{identifier}",
        "/kpis",
        "/unbilled",
    }
    assert document["security"] == [{"sigv4": []}]
    for path in read_routes:
        assert "200" in paths[path]["get"]["responses"], path
        assert "403" in paths[path]["get"]["responses"], path


def test_generation_is_deterministic() -> None:
    assert openapi_document() == openapi_document()
