"""The lineage of a figure as a tree: what `billbridge trace` draws.

`lineage_tree` arranges the plain documents `trace_lineage` gathers (proposals with their ERP
invoice and payments, lines with their source events and contract terms) into nodes
`{"label", "children"}`; `tree_lines` draws them with box-drawing branches. Only the
standard library: the command's fast path on the local state uses them without importing
the domain model (docs/decisions/0022-fast-show-commands.md).
"""

from __future__ import annotations

TYPE_CHECKING = False  # `typing` costs ~4 ms to import: its names serve annotations only
if TYPE_CHECKING:
    from typing import Any


def lineage_tree(
    matched: str,
    identifier: str,
    proposals: list[dict[str, Any]],
    lines_by_proposal: dict[str | None, list[dict[str, Any]]],
) -> dict[str, Any]:
    children = []
    for proposal in proposals:
        branch: list[dict[str, Any]] = []
        erp = proposal["erp_invoice"]
        if erp:
            branch.append(
                _node(
                    f"ERP invoice {erp['invoice_number']} ({erp['erp_instance']}), "
                    f"posted {erp['posting_date']}, "
                    f"total {erp['total']} {proposal['currency']}",
                    [
                        _node(f"payment {p['payment_id']}: {p['amount']} {p['currency']} on {p['paid_on']}")
                        for p in proposal["payments"]
                    ],
                )
            )
        branch.extend(_line_node(line) for line in lines_by_proposal.get(proposal["proposal_id"], []))
        children.append(
            _node(
                f"proposal {proposal['proposal_id']} ({proposal['contract_id']} {proposal['period']}, "
                f"{proposal['status']}, total {proposal['total']} {proposal['currency']}, "
                f"run {proposal['run_id']})",
                branch,
            )
        )
    shown = {p["proposal_id"] for p in proposals}
    others = [line for key, lines in lines_by_proposal.items() if key not in shown for line in lines]
    if others:
        children.append(_node("not invoiced (or on a rejected invoice)", [_line_node(line) for line in others]))
    return _node(f"{identifier} ({matched.replace('_', ' ')})", children)


def _line_node(line: dict[str, Any]) -> dict[str, Any]:
    rate = f" x {line['rate']}" if line["rate"] else ""
    version = f", contract v{line['contract_version']}" if line["contract_version"] is not None else ""
    rule = f", {line['rate_rule']}" if line["rate_rule"] else ""
    children = []
    if line["rules"]:
        children.append(_node("rules: " + "; ".join(line["rules"])))
    for event in line["source_events"]:
        children.append(_event_node(event))
    terms = line["contract_terms"]
    if terms and terms["source_event"]:
        children.append(
            _node(
                f"contract v{terms['version']} (effective {terms['effective_date']}, term {terms['term']})",
                [_event_node(terms["source_event"])],
            )
        )
    return _node(
        f"line {line['kind']} {line['ref']} {line['quantity']}{rate} = {line['amount']} {line['currency']} "
        f"({line['line_date']}{version}{rule}) [correlation {line['correlation_id'] or '-'}]",
        children,
    )


def _event_node(event: dict[str, Any]) -> dict[str, Any]:
    what = event["type"] or "event"
    raw = (
        [_node(f"raw webhook {event['raw_key']} (accepted {event['accepted_at']})")]
        if event["raw_key"]
        else [_node("raw webhook: no delivery record (expired, or the event came another way)")]
    )
    return _node(
        f"canonical event {event['ref']} {what} at {event['time'] or '?'} "
        f"[correlation {event['correlation_id'] or '-'}]",
        raw,
    )


def _node(label: str, children: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"label": label, "children": children or []}


def tree_lines(node: dict[str, Any], prefix: str = "", is_last: bool = True, is_root: bool = True) -> list[str]:
    """The tree as text, one node a line, with box-drawing branches."""
    lines = [node["label"] if is_root else f"{prefix}{'└─ ' if is_last else '├─ '}{node['label']}"]
    child_prefix = "" if is_root else prefix + ("   " if is_last else "│  ")
    children = node["children"]
    for index, child in enumerate(children):
        lines.extend(tree_lines(child, child_prefix, index == len(children) - 1, is_root=False))
    return lines
