"""Compare a replay report with an expected one, under the scenario rules:
decimals by value, invoices as a set by proposal id with their lines one to one
(only the fields given), exceptions as a multiset of (type, contract_id) with
refs, amount and state where given, rerated/pending entries present (empty = empty)."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal, InvalidOperation
from typing import Any


def _same_value(expected: Any, actual: Any) -> bool:
    if isinstance(expected, str) and isinstance(actual, str):
        try:
            return Decimal(expected) == Decimal(actual)
        except InvalidOperation:
            return expected == actual
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(_same_value(e, a) for e, a in zip(expected, actual, strict=True))
    return bool(expected == actual)


def _matches(expected: dict[str, Any], actual: dict[str, Any], skip: tuple[str, ...] = ()) -> list[str]:
    problems = []
    for key, value in expected.items():
        if key in skip:
            continue
        if key not in actual:
            problems.append(f"{key}: missing")
        elif not _same_value(value, actual[key]):
            problems.append(f"{key}: expected {value!r}, got {actual[key]!r}")
    return problems


def _match_lines(expected: list[dict[str, Any]], actual: list[dict[str, Any]]) -> list[str]:
    if len(expected) != len(actual):
        found = [(a["kind"], a["ref"], a["amount"]) for a in actual]
        return [f"lines: expected {len(expected)}, got {len(actual)}: {found}"]
    remaining = list(actual)
    problems = []
    for line in expected:
        for index, candidate in enumerate(remaining):
            if not _matches(line, candidate):
                del remaining[index]
                break
        else:
            problems.append(f"line {line} not found among {remaining}")
    return problems


def compare_report(report: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    if "invoices" in expected:
        actual_by_id = {inv["proposal_id"]: inv for inv in report.get("invoices", [])}
        expected_by_id = {inv["proposal_id"]: inv for inv in expected["invoices"]}
        if set(actual_by_id) != set(expected_by_id):
            problems.append(f"invoices: expected {sorted(expected_by_id)}, got {sorted(actual_by_id)}")
        for proposal_id, invoice in expected_by_id.items():
            actual = actual_by_id.get(proposal_id)
            if actual is None:
                continue
            problems += [f"{proposal_id}.{p}" for p in _matches(invoice, actual, skip=("lines",))]
            if "lines" in invoice:
                problems += [f"{proposal_id}.{p}" for p in _match_lines(invoice["lines"], actual["lines"])]
    if "exceptions" in expected:
        expected_keys = Counter((e["type"], e["contract_id"]) for e in expected["exceptions"])
        actual_keys = Counter((e["type"], e["contract_id"]) for e in report.get("exceptions", []))
        if expected_keys != actual_keys:
            problems.append(f"exceptions: expected {dict(expected_keys)}, got {dict(actual_keys)}")
        remaining = list(report.get("exceptions", []))
        for exception in expected["exceptions"]:
            for index, candidate in enumerate(remaining):
                if (candidate["type"], candidate["contract_id"]) != (
                    exception["type"],
                    exception["contract_id"],
                ):
                    continue
                if "refs" in exception and set(exception["refs"]) != set(candidate["refs"]):
                    continue
                if "amount" in exception and not _same_value(exception["amount"], candidate["amount"]):
                    continue
                if "state" in exception and exception["state"] != candidate.get("state"):
                    continue
                del remaining[index]
                break
            else:
                problems.append(f"exception {exception} not found")
    for section in ("rerated", "pending"):
        if section not in expected:
            continue
        wanted = expected[section]
        actual_items = report.get(section, [])
        if not wanted and actual_items:
            problems.append(f"{section}: expected none, got {actual_items}")
        for item in wanted:
            if not any(not _matches(item, candidate) for candidate in actual_items):
                problems.append(f"{section}: {item} not found in {actual_items}")
    return problems
