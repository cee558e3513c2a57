"""A large parallel-run document is written, item by item, as exactly the compact JSON of the whole."""

from __future__ import annotations

import io
import json
from pathlib import Path

from billbridge.cli.commands.parallel_run import LARGE_DOCUMENT_ITEMS, write_compact_json, write_json


def document(lines: int) -> dict[str, object]:
    return {
        "scenario": "history Zürich \u00e9t\u00e9",
        "invoices": [
            {"contract_id": f"C{n:05d}", "lines": [{"amount": "10.00", "ref": f"TE-{n}-{k}"} for k in range(3)]}
            for n in range(lines)
        ],
        "differences": [],
        "totals": {"USD": "1.00", "nested": [1, 2.5, None, True]},
        "empty": {},
    }


def test_compact_writing_equals_the_whole_document_encoded_at_once() -> None:
    doc = document(50)
    handle = io.StringIO()
    write_compact_json(handle, doc)
    assert handle.getvalue() == json.dumps(doc, separators=(",", ":"))


def test_a_document_with_other_keys_than_text_is_still_written_as_json_writes_it() -> None:
    doc = {1: ["a"], None: {"b": 2}}
    handle = io.StringIO()
    write_compact_json(handle, doc)  # type: ignore[arg-type]
    assert handle.getvalue() == json.dumps(doc, separators=(",", ":"))


def test_a_large_report_is_written_compact_and_reads_back_whole(tmp_path: Path) -> None:
    doc = document(LARGE_DOCUMENT_ITEMS // 3 + 1)
    path = tmp_path / "report.json"
    write_json(path, doc)
    text = path.read_text(encoding="utf-8")
    assert text == json.dumps(doc, separators=(",", ":")) + "\n"
    assert json.loads(text) == doc
