"""Each suite prints its figures on one line and appends them, named, to
`reports/reliability/figures.jsonl` (read by `python -m benchmarks.reliability_table`)."""

from __future__ import annotations

import json
import os
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
FIGURES_FILE = REPO_ROOT / "reports" / "reliability" / "figures.jsonl"
ENV_FIGURES_FILE = "BILLBRIDGE_RELIABILITY_FIGURES"


def figures_file() -> Path:
    override = os.environ.get(ENV_FIGURES_FILE)
    return Path(override) if override else FIGURES_FILE


def record(suite: str, **figures: Any) -> dict[str, Any]:
    line = {
        "suite": suite,
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **{k: str(v) if isinstance(v, Decimal) else v for k, v in figures.items()},
    }
    print(f"[reliability] {suite}: " + ", ".join(f"{k}={line[k]}" for k in figures))
    target = figures_file()
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(line, sort_keys=True) + "\n")
    return line
