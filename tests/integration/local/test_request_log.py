"""`local serve` logs one line per request (method, path, status, ms, delivery ids) on its log stream."""

from __future__ import annotations

import http.client
import io
import json
import re
from typing import Any

from billbridge.local.http_server import LocalWebhookServer, delivery_ids

LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00 "
    r"(?P<method>\w+) (?P<path>\S+) (?P<status>\d{3}) \d+ ms delivery=(?P<ids>\S+)$"
)


def test_each_request_is_one_line_with_method_path_status_time_and_delivery() -> None:
    log = io.StringIO()
    server = LocalWebhookServer(stack=object(), host="127.0.0.1", port=0, request_log=log)  # type: ignore[arg-type]
    server.start_in_background()
    try:
        host, port = server.server_address[:2]
        for method, path in (("GET", "/webhooks/psa"), ("POST", "/nowhere?x=1")):
            connection = http.client.HTTPConnection(str(host), port, timeout=10)
            connection.request(method, path, body=b"{}" if method == "POST" else None)
            assert connection.getresponse().status == 404
            connection.close()
    finally:
        server.shutdown()
        server.server_close()

    lines = [LINE.match(line) for line in log.getvalue().splitlines()]
    assert [(m["method"], m["path"], m["status"], m["ids"]) for m in lines if m] == [
        ("GET", "/webhooks/psa", "404", "-"),
        ("POST", "/nowhere", "404", "-"),
    ]
    assert len(lines) == 2


def answer(*ids: Any) -> bytes:
    return json.dumps(
        {"outcomes": [{"index": i, "id": event_id, "outcome": "accepted"} for i, event_id in enumerate(ids)]}
    ).encode()


def test_the_delivery_is_named_by_the_event_ids_the_hub_answered_for() -> None:
    assert delivery_ids(answer("TE-1")) == "TE-1"
    assert delivery_ids(answer("TE-1", "TE-2", "TE-3", "TE-4", "TE-5")) == "TE-1,TE-2,TE-3,+2"
    assert delivery_ids(answer(None)) == "-"
    assert delivery_ids(b"") == delivery_ids(b"not json") == delivery_ids(b"[]") == "-"


def test_a_server_without_a_log_stream_writes_nothing(capsys: Any) -> None:
    server = LocalWebhookServer(stack=object(), host="127.0.0.1", port=0)  # type: ignore[arg-type]
    server.log_request_line("POST", "/webhooks/psa", 202, 12.0, answer("TE-1"))
    server.server_close()

    assert capsys.readouterr() == ("", "")
