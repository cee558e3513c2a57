"""Requests generated from docs/openapi.yaml for every read route (schemathesis) never get a 5xx
or an undocumented status from the handler: bad input is a 4xx naming the parameter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.fakes.read_ledger import ReadableHub
from tests.unit.read_api.conftest import ReadCall

OPENAPI = Path(__file__).resolve().parents[3] / "docs" / "openapi.yaml"
SCHEMA = schemathesis.openapi.from_path(str(OPENAPI))
READ_OPERATIONS = [
    (path, method) for path, item in SCHEMA.raw_schema["paths"].items() for method in item if method == "get"
]


def _query(case: Any) -> dict[str, Any]:
    return {str(k): (v[-1] if isinstance(v, list) and v else v) for k, v in (case.query or {}).items()}


@pytest.mark.parametrize(("path", "method"), READ_OPERATIONS)
def test_generated_requests_get_a_documented_answer(read: ReadCall, hub: ReadableHub, path: str, method: str) -> None:
    operation = SCHEMA[path][method.upper()]
    documented = {int(status) for status in operation.definition.raw["responses"]}
    seen: set[int] = set()

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=operation.as_strategy())
    def check(case: Any) -> None:
        concrete = path.format(**{k: str(v) for k, v in (case.path_parameters or {}).items()})
        status, body = read(concrete, {k: v for k, v in _query(case).items() if v is not None})
        seen.add(status)
        assert status < 500, (concrete, case.query, body)
        assert status in documented or status == 404, (concrete, case.query, status, body)

    check()
    assert seen, path
