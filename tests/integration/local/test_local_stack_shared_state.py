"""One store, many processes, nothing lost.

`billbridge local serve` answers parallel signed deliveries while `bill`,
`config load` and `exceptions approve` run in other processes on the same local
state; afterwards every effect that was acknowledged (202, a command's output)
is in the store. Also: 100 parallel connections are answered without resets, a
stale signature is refused on receipt, an acknowledged delivery survives kill -9,
and a damaged store is reported with what to do."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from billbridge.adapters.dynamo_ledger import DynamoLedger
from billbridge.app.webhook_signature import sign
from billbridge.local.resources import LocalNames
from billbridge.local.store import LocalStore
from billbridge.local.store_reader import StoreClients

from tests.scenarios.catalog import SCENARIO_DIR

SECRET = "whsec_" + base64.b64encode(b"shared-state-test-secret-0123").decode()
RETRO = "retroactive_change:SOW-200:v3"
CONTRACT = "SOW-200"
CLI = [sys.executable, "-m", "billbridge.cli.main"]
DEADLINE_SECONDS = 240


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=DEADLINE_SECONDS, check=False)


@dataclass
class Served:
    url: str
    process: subprocess.Popen[str]
    state: Path
    env: dict[str, str]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_serve(state: Path, tmp_path: Path, env: dict[str, str]) -> Served:
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps({"psa": [SECRET], "clm": [SECRET], "erp": [SECRET], "crm": [SECRET]}))
    port = free_port()
    process = subprocess.Popen(
        [*CLI, "local", "serve", "--secrets", str(secrets), "--port", str(port), "--state-file", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + DEADLINE_SECONDS
    lines = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("listening on"):
            threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()  # type: ignore[union-attr]
            return Served(f"http://127.0.0.1:{port}", process, state, env)
    process.kill()
    raise AssertionError("local serve did not start:\n" + "".join(lines))


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environment = dict(os.environ)
    environment.pop("BILLBRIDGE_LOCAL_STATE", None)
    environment["PYTHONUNBUFFERED"] = "1"
    return environment


@pytest.fixture
def served(tmp_path: Path, env: dict[str, str]) -> Iterator[Served]:
    state = tmp_path / "state.sqlite"
    replayed = run_cli(
        "replay",
        str(SCENARIO_DIR / "02-amendment-split.json"),
        "--report",
        str(tmp_path / "report.json"),
        "--state-file",
        str(state),
        env=env,
    )
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    server = start_serve(state, tmp_path, env)
    try:
        yield server
    finally:
        if server.process.poll() is None:
            server.process.send_signal(signal.SIGTERM)
            try:
                server.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.process.kill()


def time_entry(n: int, *, day: int = 4) -> dict[str, Any]:
    entry_id = f"TE-PAR-{n:03d}"
    return {
        "specversion": "1.0",
        "id": f"psa-par-{n:03d}",
        "source": "psa",
        "type": "time_entry.approved",
        "time": "2026-05-31T18:00:00Z",
        "datacontenttype": "application/json",
        "subject": entry_id,
        "data": {
            "entry_id": entry_id,
            "revision": 1,
            "contract_id": CONTRACT,
            "resource_id": "EMP-1",
            "role": "consultant",
            "billable": True,
            "work_date": f"2026-05-{day:02d}",
            "hours": "1.5",
        },
    }


def post(url: str, event: dict[str, Any], *, message_id: str, timestamp: int | None = None) -> tuple[int, Any]:
    body = json.dumps(event).encode()
    headers = sign(SECRET, message_id, int(time.time()) if timestamp is None else timestamp, body)
    headers["Content-Type"] = "application/cloudevents+json"
    request = urllib.request.Request(f"{url}/webhooks/psa", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=DEADLINE_SECONDS) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def ledger_of(state: Path) -> tuple[LocalStore, DynamoLedger]:
    store = LocalStore(state, create=False)
    names = LocalNames()
    return store, DynamoLedger(names.ledger_table, client=StoreClients(store, names)("dynamodb"))


def test_serve_under_parallel_deliveries_loses_nothing_that_other_commands_wrote(
    served: Served, tmp_path: Path
) -> None:
    config = json.loads((SCENARIO_DIR / "02-amendment-split.json").read_text())["config"]
    config["tax_rates"].append({"jurisdiction": "FR", "rate": "0.20", "effective_from": "2026-01-01"})
    (tmp_path / "config.json").write_text(json.dumps(config))
    commands = {
        "bill": ["bill", "--period", "2026-05", "--json", "--state-file", str(served.state)],
        "config": ["config", "load", str(tmp_path / "config.json"), "--state-file", str(served.state)],
        "approve": [
            "exceptions",
            "approve",
            RETRO,
            "--reason",
            "agreed",
            "--actor",
            "alice",
            "--json",
            "--state-file",
            str(served.state),
        ],
    }
    deliveries = 40
    with ThreadPoolExecutor(max_workers=16) as pool:
        posted = [
            pool.submit(post, served.url, time_entry(n), message_id=f"msg_par_{n:03d}") for n in range(deliveries)
        ]
        ran = {name: pool.submit(run_cli, *args, env=served.env) for name, args in commands.items()}
        answers = [f.result() for f in posted]
        results = {name: f.result() for name, f in ran.items()}

    for name, result in results.items():
        assert result.returncode == 0, (name, result.stdout, result.stderr)
    assert [status for status, _ in answers] == [202] * deliveries, answers
    billed = json.loads(results["bill"].stdout)
    approved = json.loads(results["approve"].stdout)
    assert billed["status"] == "SUCCEEDED"

    store, ledger = ledger_of(served.state)
    with store:
        for n in range(deliveries):
            assert ledger.contract_of_entry(f"TE-PAR-{n:03d}") == CONTRACT, n
            assert ledger.delivery("psa", f"psa-par-{n:03d}") is not None, n
        book = ledger.load(CONTRACT).book
        for invoice in billed["invoices"]:
            assert invoice["proposal_id"] in book.invoices
        assert any(rate.jurisdiction == "FR" for rate in ledger.load_config().tax_rates)
        decided = {e.exception_id: e.state.value for e in ledger.exceptions()}
        assert decided[RETRO] == approved["state"] != "open"

    status, body = post(served.url, time_entry(3), message_id="msg_par_again")
    assert status in (200, 202) and body["outcomes"][0]["outcome"] != "accepted", body


def test_serve_answers_100_parallel_connections_and_checks_the_timestamp_on_receipt(served: Served) -> None:
    stale = int(time.time()) - 3600

    def attempt(n: int) -> int:
        event = time_entry(1000 + n, day=5)
        return post(served.url, event, message_id=f"msg_burst_{n:03d}", timestamp=stale if n % 10 == 0 else None)[0]

    with ThreadPoolExecutor(max_workers=100) as pool:
        statuses = list(pool.map(attempt, range(100)))

    assert statuses.count(401) == 10
    assert statuses.count(202) == 90


def test_an_acknowledged_delivery_survives_kill_9(served: Served, tmp_path: Path) -> None:
    status, _ = post(served.url, time_entry(500), message_id="msg_kill_500")
    assert status == 202
    served.process.send_signal(signal.SIGKILL)
    served.process.wait(timeout=30)

    store, ledger = ledger_of(served.state)
    with store:
        assert ledger.contract_of_entry("TE-PAR-500") == CONTRACT
    listed = run_cli("contracts", "list", "--json", "--state-file", str(served.state), env=served.env)
    assert listed.returncode == 0 and CONTRACT in listed.stdout


def test_a_damaged_store_is_reported_with_what_to_do(tmp_path: Path, env: dict[str, str]) -> None:
    state = tmp_path / "state.sqlite"
    state.write_bytes(b"SQLite format 3\x00" + os.urandom(2048))
    result = run_cli("contracts", "list", "--state-file", str(state), env=env)
    assert result.returncode == 2
    assert "damaged" in result.stderr and "billbridge local reset" in result.stderr
    assert "Traceback" not in result.stderr and "JSONDecodeError" not in result.stderr

    (tmp_path / "old.json").write_text('{"version": 1, "tables": {}}')
    old = run_cli("exceptions", "list", "--state-file", str(tmp_path / "old.json"), env=env)
    assert old.returncode == 2 and "JSON snapshot" in old.stderr and "Traceback" not in old.stderr
