"""Vendor adapter contract tests: documented payloads in, canonical events out; sockets blocked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import pytest_socket

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "vendors"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> Any:
    """The fixture as the adapters read vendor JSON: numbers as Decimal, never float."""
    return json.loads(fixture_bytes(name), parse_float=Decimal)


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[None]:
    pytest_socket.disable_socket(allow_unix_socket=True)
    yield
    pytest_socket.enable_socket()
