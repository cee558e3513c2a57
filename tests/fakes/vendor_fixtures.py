"""The documented vendor payloads of tests/fixtures/vendors, read as the adapters read them."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "vendors"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> Any:
    """The fixture as the adapters read vendor JSON: numbers as Decimal, never float."""
    return json.loads(fixture_bytes(name), parse_float=Decimal)
