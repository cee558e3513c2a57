"""Vendor routes and polling through the local stack with the real handlers (moto), against the
vendors' stand-ins served over HTTP: the same path as a canonical delivery, and a cursor that resumes."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from billbridge.adapters.dynamo_ledger import DynamoLedger
from billbridge.adapters.dynamo_poll_cursors import DynamoPollCursors
from billbridge.app.vendor_adapters import PollCursor
from billbridge.cli.main import main
from billbridge.local.demo_engagement import first_contract_approval
from billbridge.local.http_server import LocalWebhookServer
from billbridge.local.stack import LocalStack
from billbridge.local.vendor_demo import VendorWorld


@pytest.fixture
def world() -> Iterator[VendorWorld]:
    with VendorWorld() as running:
        yield running


def _post(server: LocalWebhookServer, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(str(host), port, timeout=30)
    connection.request("POST", path, body=body, headers=headers)
    response = connection.getresponse()
    result = response.status, response.read()
    connection.close()
    return result


def _netsuite_invoice(record_id: int, modified: str) -> dict[str, Any]:
    return {
        "id": str(record_id),
        "tranId": f"INV-DE-{record_id}",
        "tranDate": "2026-04-01",
        "externalId": f"SOW-UNKNOWN-{record_id}",
        "subtotal": Decimal("100.00"),
        "taxTotal": Decimal("19.00"),
        "total": Decimal("119.00"),
        "currency": "4",
        "lastModifiedDate": modified,
    }


def test_a_docusign_envelope_posted_to_the_vendor_route_syncs_the_contract(world: VendorWorld, tmp_path: Path) -> None:
    with LocalStack(
        secrets=world.secrets(), state_file=tmp_path / "s.sqlite", extra_env=world.environment(), lazy_billing=True
    ) as stack:
        server = LocalWebhookServer(stack, "127.0.0.1", 0)
        server.start_in_background()
        try:
            contract = first_contract_approval()
            body, headers = world.docusign.completed_envelope(contract)
            status, payload = _post(server, "/webhooks/clm/docusign", body, headers)
            assert status == 200, payload
            assert json.loads(payload)["outcomes"][0]["outcome"] == "accepted"
            again, payload = _post(server, "/webhooks/clm/docusign", body, headers)
            assert again == 200 and json.loads(payload)["outcomes"][0]["outcome"] == "duplicate"
            forged, _ = _post(server, "/webhooks/clm/docusign", body, headers | {"X-DocuSign-Signature-1": "AAAA"})
            assert forged == 401
            unknown, payload = _post(server, "/webhooks/clm/ironclad", body, headers)
            assert unknown == 404 and json.loads(payload)["field"] == "vendor"
        finally:
            server.shutdown()
            server.server_close()
        with stack.unit_of_work():
            ledger = DynamoLedger(stack.names.ledger_table, client=stack.client("dynamodb"))
            assert ledger.mapping("SOW-GLX-2026-01")["contract_version"] == "1"


def test_local_poll_resumes_from_its_cursor_and_overlap_is_duplicate(
    world: VendorWorld, tmp_path: Path, capsys: Any
) -> None:
    secrets, vendors, state = tmp_path / "secrets.json", tmp_path / "vendors.json", tmp_path / "state.sqlite"
    secrets.write_text(json.dumps(world.secrets()))
    vendors.write_text(json.dumps(world.configuration()))
    world.netsuite.add_invoice(_netsuite_invoice(1301, "2026-04-01 09:00:00"))
    world.netsuite.add_invoice(_netsuite_invoice(1302, "2026-04-01 09:10:00"))
    arguments = [
        "local",
        "poll",
        "erp/netsuite",
        "--secrets",
        str(secrets),
        "--vendors",
        str(vendors),
        "--state-file",
        str(state),
    ]

    assert main(arguments) == 0
    first = json.loads(capsys.readouterr().out)
    assert (first["accepted"], first["cursor"]["record_id"]) == (2, "1302")

    world.netsuite.add_invoice(_netsuite_invoice(1303, "2026-04-01 09:12:00"))
    assert main([*arguments[:2], "netsuite", *arguments[3:]]) == 0
    second = json.loads(capsys.readouterr().out)
    # 1302 lies within the five-minute overlap: read again, deduplicated; 1303 is new.
    assert (second["accepted"], second["duplicates"]) == (1, 1)

    with LocalStack(secrets=world.secrets(), state_file=state, lazy_billing=True) as stack, stack.unit_of_work():
        cursor = DynamoPollCursors(table_name=stack.names.ledger_table, client=stack.client("dynamodb"))
        assert cursor.load("erp/netsuite") == PollCursor("2026-04-01 09:12:00", "1303", caught_up=True)


def test_local_poll_names_an_unknown_poller(tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "s.json").write_text("{}")
    (tmp_path / "v.json").write_text("{}")
    code = main(
        [
            "local",
            "poll",
            "quickbooks",
            "--secrets",
            str(tmp_path / "s.json"),
            "--vendors",
            str(tmp_path / "v.json"),
            "--state-file",
            str(tmp_path / "state.sqlite"),
        ]
    )
    assert code == 2
    assert "erp/netsuite" in capsys.readouterr().err


def _kantata_entry(entry_id: int, updated_at: str, minutes: int = 480) -> dict[str, Any]:
    return {
        "id": str(entry_id),
        "created_at": "2026-01-12T17:00:00-08:00",
        "updated_at": updated_at,
        "date_performed": "2026-01-12",
        "time_in_minutes": minutes,
        "billable": True,
        "notes": "",
        "rate_in_cents": 15000,
        "currency": "USD",
        "currency_base_unit": 100,
        "approved": True,
        "workspace_id": "41001",
        "user_id": "5011",
        "role_id": "301",
    }


def test_local_poll_of_kantata_reads_approved_time_from_its_cursor(
    world: VendorWorld, tmp_path: Path, capsys: Any
) -> None:
    secrets, vendors, state = tmp_path / "secrets.json", tmp_path / "vendors.json", tmp_path / "state.sqlite"
    secrets.write_text(json.dumps(world.secrets()))
    vendors.write_text(json.dumps(world.configuration()))
    world.kantata.roles = {"301": {"id": "301", "name": "Consultant"}}
    world.kantata.time_entries["70001"] = _kantata_entry(70001, "2026-01-16T09:00:00-08:00")
    world.kantata.time_entries["70002"] = _kantata_entry(70002, "2026-01-16T09:00:00-08:00", minutes=360)
    unapproved = _kantata_entry(70003, "2026-01-16T09:30:00-08:00") | {"approved": False}
    world.kantata.time_entries["70003"] = unapproved
    arguments = ["local", "poll", "psa/kantata", "--secrets", str(secrets), "--vendors", str(vendors)]
    arguments += ["--state-file", str(state)]

    assert main(arguments) == 0
    first = json.loads(capsys.readouterr().out)
    assert (first["accepted"], first["rejected"]) == (2, 0)

    world.kantata.time_entries["70002"] = _kantata_entry(70002, "2026-01-17T10:00:00-08:00", minutes=300)
    assert main([*arguments[:2], "kantata", *arguments[3:]]) == 0
    second = json.loads(capsys.readouterr().out)
    # 70001 lies within the five-minute overlap of the cursor: read again, a duplicate; 70002's edit is new
    assert (second["accepted"], second["duplicates"]) == (1, 1)
    assert second["cursor"] == {
        "modified": "2026-01-17T18:00:00Z",
        "record_id": "0000000000000070002",
        "caught_up": True,
    }
