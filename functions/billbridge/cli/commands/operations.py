"""Operator commands: `exceptions`, `dlq`, `replay-archive`, `trace`, `report`.

Each works on the local stack's saved state or on a deployed stack
(`--stack NAME --profile P --region R`), prints tables for people and JSON with
`--json`. The handlers parse, call a use case and print; see docs/operations.md.
"""

from __future__ import annotations

from typing import Any

from billbridge.cli.commands import (
    operations_exceptions,
    operations_lineage,
    operations_queues,
    operations_report,
)


def register(subparsers: Any) -> None:
    operations_exceptions.register(subparsers)
    operations_queues.register(subparsers)
    operations_lineage.register(subparsers)
    operations_report.register(subparsers)
