"""`contracts show` on the local state, read with the standard library.

The document `billbridge contracts show ID --output json` prints (and the table
prints from) is `billbridge.reporting.contract_view.contract_view` of the contract's
book, with the propagation and commands of `billbridge.reporting.downstream_view`.
Built that way, a show decodes the whole book with pydantic and imports the
domain model: about 20 times a bare `import billbridge` (benchmarks/README.md,
"Operator command wall time"). Here the same document is built from the stored
items themselves, reading only what the command prints, with `json` and
`decimal`: the items as `billbridge.adapters.dynamo_book_items` cuts them
(`HEAD`, `IN#...`, `LINE#...`, `EXC#...`, `INV#...`, `INVL#...`; bodies are the
JSON dumps of the domain dataclasses, so a field is read by its dataclass
field's name), the contract's id map (`MAP#{id}` / `IDS`) and its commands
(`COMMANDS#{id}`).

Both builds are compared on the demo's state and on replayed acceptance
scenarios (tests/integration/operations/test_contract_reads.py): a field
renamed in the domain, or a view that prints something new, fails there first.
A contract stored in the single-item layout of decision 1 (`BOOK`) is left to
the full path (`LEGACY_LAYOUT`).
"""

from __future__ import annotations

import json
from decimal import Decimal

from billbridge.local.read_models import LEDGER, ReadOnlyStore, _body, _text, command_document, commands

TYPE_CHECKING = False  # `typing` costs ~4 ms to import: its names serve annotations only
if TYPE_CHECKING:
    from datetime import datetime, timedelta
    from typing import Any

LEGACY_LAYOUT = "legacy-layout"
"""`contract_document`'s answer for a book stored as one `BOOK` item: read it through the ledger."""

CONTRACT_COMMANDS: dict[str, str] = {
    "UpsertProject": "psa",
    "TerminateProject": "psa",
    "UpsertBillingSchedule": "erp",
    "TerminateBillingSchedule": "erp",
}
"""`billbridge.domain.downstream_commands.CONTRACT_COMMANDS` (a test keeps them equal)."""
PROPAGATION_OF_COMMAND_STATE: dict[str, str] = {
    "sent": "pending",
    "acknowledged": "acknowledged",
    "refused": "refused",
    "failed": "failed",
}
"""`billbridge.domain.downstream_commands._PROPAGATION_OF`, by value (a test keeps them equal)."""


def _amount(value: Any) -> str:
    """`billbridge.domain.money.format_amount` of the stored decimal."""
    return format(Decimal(value), "f")


def _optional_amount(value: Any) -> str | None:
    return None if value is None else _amount(value)


class StoredContract:
    """A contract's items as `billbridge.adapters.dynamo_book_items.assemble` puts them together,
    kept as the stored JSON documents: versions, lines, invoices (with their lines), exceptions."""

    def __init__(self, contract_id: str, items: list[tuple[str, dict[str, Any], bytes]]) -> None:
        self.contract_id = contract_id
        self.epoch = 0
        self.head: dict[str, Any] = {}
        self.lines: dict[str, dict[str, Any]] = {}
        self.exceptions: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.inputs: dict[str, dict[str, dict[str, Any]]] = {"entry": {}, "expense": {}, "completion": {}}
        """The inputs by kind (`entry`, `expense`, `completion`) and ref: the book's entries,
        expenses and milestone completions."""
        self.audits: dict[str, bytes] = {}
        """Each input item's audit (its saves' records, JSON), by sort key."""
        invoice_lines: dict[str, list[tuple[str, list[dict[str, Any]]]]] = {}
        for sk, item, body in sorted(items, key=lambda found: found[0]):
            if sk == "HEAD":
                self.head = json.loads(body)
                self.epoch = int(_text(item, "epoch", "0") or 0)
            elif sk.startswith("IN#"):
                group_body, _, self.audits[sk] = body.partition(b"\n")  # the input, then its audit
                group = json.loads(group_body)
                for kind, inputs in self.inputs.items():
                    if group.get(kind) is not None:
                        inputs[group["ref"]] = group[kind]
                for line in group.get("lines") or ():
                    self.lines[line["line_id"]] = line
                for exception in group.get("exceptions") or ():
                    self.exceptions[exception["exception_id"]] = exception
            elif sk.startswith("LINE#"):
                line = json.loads(body)
                self.lines[line["line_id"]] = line
            elif sk.startswith("EXC#"):
                exception = json.loads(body)
                self.exceptions[exception["exception_id"]] = exception
            elif sk.startswith("INVL#"):
                proposal_id, part = sk[len("INVL#") :].rsplit("#", 1)
                invoice_lines.setdefault(proposal_id, []).append((part, json.loads(body)["lines"]))
            elif sk.startswith("INV#"):
                invoice = json.loads(body)
                self.invoices[invoice["proposal_id"]] = invoice
        for proposal_id, parts in invoice_lines.items():
            if proposal_id in self.invoices:
                self.invoices[proposal_id]["lines"] = [line for _, chunk in sorted(parts) for line in chunk]
        for line_id, line in self.lines.items():  # lines billed by an invoice never stored are unbilled
            if line.get("invoice_id") is not None and line["invoice_id"] not in self.invoices:
                self.lines[line_id] = {**line, "invoice_id": None}

    @property
    def versions(self) -> list[dict[str, Any]]:
        return sorted((self.head.get("versions") or {}).values(), key=lambda version: int(version["version"]))

    @property
    def latest_version(self) -> dict[str, Any] | None:
        versions = self.versions
        return versions[-1] if versions else None


def stored_contract(store: ReadOnlyStore, contract_id: str) -> StoredContract | str:
    """The contract's stored items, or LEGACY_LAYOUT for a book kept as one item."""
    found: list[tuple[str, dict[str, Any], bytes]] = []
    for item in store.items_by_partition(LEDGER, f"CONTRACT#{contract_id}"):
        sk = _text(item, "sk")
        if sk == "BOOK":
            return LEGACY_LAYOUT
        body = _body(item)
        if body is not None and sk not in ("LOCK", "KNOWN"):
            found.append((sk, item, body))
    return StoredContract(contract_id, found)


def line_document(line: dict[str, Any]) -> dict[str, Any]:
    """`billbridge.reporting.replay_report.line_document` of a stored line."""
    return {
        "line_id": line["line_id"],
        "kind": line["kind"],
        "ref": line["ref"],
        "contract_version": line.get("contract_version"),
        "quantity": _amount(line["quantity"]),
        "rate": _optional_amount(line.get("rate")),
        "amount": _amount(line["amount"]),
        "currency": line["currency"],
        "description": line.get("description", ""),
        "rate_rule": line.get("rate_rule", ""),
        "rules": list(line.get("rules") or ()),
        "source_refs": list(line.get("source_refs") or ()),
        "correlation_id": line.get("correlation_id", ""),
    }


def invoice_document(invoice: dict[str, Any]) -> dict[str, Any]:
    """`billbridge.reporting.replay_report.invoice_document` of a stored invoice (with its lines)."""
    certificate = invoice.get("tax_exemption_certificate")
    return {
        "proposal_id": invoice["proposal_id"],
        "contract_id": invoice["contract_id"],
        "period": invoice["period"],
        "currency": invoice["currency"],
        "status": invoice.get("status", "proposed"),
        "erp_invoice_number": invoice.get("erp_invoice_number"),
        "erp_instance": invoice["erp_instance"],
        "legal_entity": invoice["legal_entity"],
        "lines": [line_document(line) for line in invoice.get("lines") or ()],
        "subtotal": _amount(invoice["subtotal"]),
        "tax": _amount(invoice["tax"]),
        "total": _amount(invoice["total"]),
        **({"tax_exemption_certificate": certificate} if certificate else {}),
        "paid": format(sum((Decimal(p["amount"]) for p in invoice.get("payments") or ()), Decimal(0)), "f"),
        "correlation_id": invoice["correlation_id"],
    }


CONTRACT_LINE_KEYS = ("line_id", "kind", "ref", "contract_version", "quantity", "rate", "amount", "currency")


def _contract_line(line: dict[str, Any]) -> dict[str, Any]:
    """A line as `contract_view` shows it: `line_document`'s first keys, its description, invoice and rules."""
    document = line_document(line)
    return {
        **{key: document[key] for key in CONTRACT_LINE_KEYS},
        "description": document["description"],
        "invoice_id": line.get("invoice_id"),
        "rules": document["rules"],
    }


def _state(contract: StoredContract, latest: dict[str, Any] | None) -> str:
    if latest is None:
        return "pending (actuals arrived before the contract)"
    termination = contract.head.get("termination")
    return f"terminated on {termination['effective_date']}" if termination else "active"


def contract_view(contract: StoredContract, ids: dict[str, str]) -> dict[str, Any]:
    """`billbridge.reporting.contract_view.contract_view` of the stored contract."""
    latest = contract.latest_version
    return {
        "contract_id": contract.contract_id,
        "state": _state(contract, latest),
        "versions": [
            {
                "version": v["version"],
                "effective_date": v["effective_date"],
                "start_date": v["start_date"],
                "end_date": v["end_date"],
                "currency": v["currency"],
                "legal_entity": v["legal_entity"],
                "tax_jurisdiction": v["tax_jurisdiction"],
                "customer_id": v["customer_id"],
                "cap_amount": _optional_amount(v.get("cap_amount")),
                "retainer_amount": _optional_amount(v.get("retainer_amount")),
                "rate_card": [
                    {"role": r.get("role"), "resource_id": r.get("resource_id"), "rate": _amount(r["rate"])}
                    for r in v.get("rate_card") or ()
                ],
            }
            for v in contract.versions
        ],
        "ids": ids,
        "lines": [
            _contract_line(line)
            for line in sorted(
                contract.lines.values(),
                key=lambda line: (line["line_date"], line["ref"], int(line.get("split_position") or 0)),
            )
        ],
        "invoices": [
            invoice_document(i) for i in sorted(contract.invoices.values(), key=lambda i: (i["period"], int(i["seq"])))
        ],
        "exceptions": [
            {
                "exception_id": e["exception_id"],
                "type": e["type"],
                "state": e.get("state", "open"),
                "amount": _amount(e["amount"]),
                "currency": e.get("currency") or (latest["currency"] if latest else ""),
                "refs": list(e.get("refs") or ()),
                "detail": e.get("detail", ""),
            }
            for e in contract.exceptions.values()
        ],
    }


def id_map(store: ReadOnlyStore, contract_id: str) -> dict[str, str]:
    """The contract's cross-system ids (`DynamoCrossSystemLookups.mapping`)."""
    item = store.item(LEDGER, f"MAP#{contract_id}", "IDS")
    return {} if item is None else dict(json.loads(_text(item, "ids")))


def propagation_documents(
    stored_commands: list[dict[str, Any]], now: datetime, stale_after: timedelta | None = None
) -> list[dict[str, Any]]:
    """`billbridge.reporting.downstream_view.propagation_document(p, now, stale_after)` of each of
    `propagation_of(commands)`, from stored commands: per contract and system, the latest version sent
    and the latest acknowledged; with `stale_after`, whether it has waited longer unacknowledged."""
    from datetime import datetime

    by_system: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for command in stored_commands:
        if command["name"] in CONTRACT_COMMANDS and command.get("contract_version") is not None:
            by_system.setdefault((command["contract_id"], command["system"]), []).append(command)
    documents = []
    for (contract_id, system), sent in sorted(by_system.items()):
        ordered = sorted(
            sent,
            key=lambda c: (c.get("contract_version") or 0, c["name"].startswith("Terminate"), c["first_sent_at"]),
        )
        latest = ordered[-1]
        acknowledged = [c for c in ordered if c["state"] == "acknowledged"]
        held = acknowledged[-1] if acknowledged else None
        since = latest["first_sent_at"]
        state = PROPAGATION_OF_COMMAND_STATE[latest["state"]]
        waited = now - datetime.fromisoformat(since)
        documents.append(
            {
                "contract_id": contract_id,
                "system": system,
                "target": latest["target"],
                "latest_version": latest.get("contract_version") or 0,
                "state": state,
                "since": since,
                "age_hours": round(waited.total_seconds() / 3600, 2),
                "acknowledged_version": None if held is None else held.get("contract_version"),
                "acknowledged_at": None if held is None else held.get("acknowledged_at"),
                "reference": next((c["reference"] for c in reversed(acknowledged) if c.get("reference")), None),
                "command_id": latest["command_id"],
                "answer": latest.get("answer", ""),
                "stale": None if stale_after is None else state != "acknowledged" and waited > stale_after,
            }
        )
    return documents


def contract_document(store: ReadOnlyStore, contract_id: str, now: datetime) -> dict[str, Any] | str | None:
    """What `contracts show ID` prints; None when the ledger knows no such contract,
    LEGACY_LAYOUT when the book must be read through the ledger."""
    contract = stored_contract(store, contract_id)
    if isinstance(contract, str):
        return contract
    if not contract.epoch:
        return None
    view = contract_view(contract, id_map(store, contract_id))
    stored_commands = commands(store, contract_id)
    view["propagation"] = propagation_documents(stored_commands, now)
    view["commands"] = [
        command_document(c) for c in sorted(stored_commands, key=lambda c: (c["first_sent_at"], c["command_id"]))
    ]
    return view
