"""The published acceptance scenarios, copied into the project."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCENARIO_DIR = Path(__file__).parent


def scenario_names() -> list[str]:
    return sorted(
        p.name.removesuffix(".json") for p in SCENARIO_DIR.glob("*.json") if not p.name.endswith(".expected.json")
    )


def load_scenario(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    scenario = json.loads((SCENARIO_DIR / f"{name}.json").read_text())
    expected = json.loads((SCENARIO_DIR / f"{name}.expected.json").read_text())
    return scenario, expected
