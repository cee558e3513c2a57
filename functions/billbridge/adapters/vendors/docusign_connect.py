"""DocuSign Connect (CLM): completed envelopes become `contract.approved` / `contract.amended`.

Documentation followed (read 2026-11-29):
- HMAC security: https://developers.docusign.com/platform/webhooks/connect/hmac and
  https://developers.docusign.com/platform/webhooks/connect/validate : the whole raw
  body is signed with HMAC-SHA256 under a Connect key and sent base64-encoded in
  `X-DocuSign-Signature-1`; with several active keys DocuSign sends one header per
  key (`X-DocuSign-Signature-2`, ...), and one match is enough.
- JSON SIM event model: https://developers.docusign.com/platform/webhooks/connect/json-sim-event-model :
  `{"event": "envelope-completed", "apiVersion", "uri", "retryCount", "configurationId",
  "generatedDateTime", "data": {"accountId", "userId", "envelopeId", "envelopeSummary": {...}}}`;
  the envelope summary (with `customFields` and the recipients' `tabs`) is included
  when the Connect configuration asks for it (`includeData`: custom_fields, recipients, tabs).
- Envelope custom fields and tab values:
  https://developers.docusign.com/docs/esign-rest-api/how-to/get-envelope-custom-tab-values :
  `customFields.textCustomFields[] {fieldId, name, value}` and
  `recipients.signers[].tabs.textTabs[] {tabLabel, value}` (also numberTabs, dateTabs, listTabs).

- Voiding: https://developers.docusign.com/docs/esign-soap-api/reference/status-and-managing-group/voidenvelope :
  "Only incomplete envelopes can be voided" (sent or delivered); the summary then carries
  `status: "voided"`, `voidedDateTime` and `voidedReason`.

`envelope-voided`: DocuSign voids only envelopes that were never completed, and only a
completed envelope approves (or amends, or terminates) a contract here, so a voided envelope
never left an approved contract behind: it is acknowledged and listed under `skipped` with
DocuSign's reason (an operator sees that the SOW was withdrawn before signature). A voided
message whose summary claims a completion contradicts DocuSign's rule and is refused (400
naming `data.envelopeSummary.completedDateTime`) rather than guessed at.

Connect has no handshake. Where a tenant keeps the contract terms (an envelope
custom field or a tab label) is configuration (`DocuSignFieldMap`), not code.
A completed envelope at version 1 is `contract.approved`, at a higher version
`contract.amended`; when the action field reads `terminate`, `contract.terminated`.
The canonical id is `docusign-{envelopeId}`: Connect's retries (a new
`retryCount`, the same envelope) are duplicates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from billbridge.adapters.vendors.vendor_json import parse_vendor_json, require, verify_base64_hmac
from billbridge.app.vendor_adapters import (
    Skipped,
    Translation,
    VendorDelivery,
    VendorPayloadError,
)

SIGNATURE_HEADER_PREFIX = "x-docusign-signature-"
COMPLETED_EVENT = "envelope-completed"
VOIDED_EVENT = "envelope-voided"

DEFAULT_SCALARS: Mapping[str, str] = {
    "contract_id": "Contract ID",
    "version": "Contract Version",
    "effective_date": "Effective Date",
    "customer_id": "Customer ID",
    "legal_entity": "Legal Entity",
    "currency": "Currency",
    "tax_jurisdiction": "Tax Jurisdiction",
    "start_date": "Start Date",
    "end_date": "End Date",
    "cap_amount": "Cap Amount",
    "retainer_amount": "Retainer Amount",
    "cost_centers": "Cost Centers",
    "billing_contact.name": "Billing Contact Name",
    "billing_contact.email": "Billing Contact Email",
    "expense_policy.billable_categories": "Billable Expense Categories",
    "expense_policy.markup_pct": "Expense Markup",
    "action": "Contract Action",
}
REQUIRED = ("contract_id", "version", "effective_date")
SNAPSHOT_REQUIRED = ("customer_id", "legal_entity", "currency", "tax_jurisdiction", "start_date", "end_date")
LIST_FIELDS = ("cost_centers", "expense_policy.billable_categories")
TAB_KINDS = ("textTabs", "numberTabs", "dateTabs", "listTabs", "formulaTabs")


@dataclass(frozen=True, slots=True)
class DocuSignFieldMap:
    """Where one tenant's envelopes hold the contract terms (labels of custom fields or tabs).

    `scalars` maps a canonical field (dotted for nested ones) to a label. Repeated
    terms are read from labels with a prefix: `{rate_role_prefix}consultant` = "165.00",
    `{rate_resource_prefix}EMP-7` = "225.00", `{milestone_prefix}M1/Name`, `.../Amount`,
    `{fee_prefix}F1/Description|Amount|Frequency|Start Date|End Date`. Lists are
    comma-separated."""

    scalars: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SCALARS))
    rate_role_prefix: str = "Rate/Role/"
    rate_resource_prefix: str = "Rate/Resource/"
    milestone_prefix: str = "Milestone/"
    fee_prefix: str = "Fee/"

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> DocuSignFieldMap:
        config = dict(config or {})
        scalars = dict(DEFAULT_SCALARS)
        overrides = config.get("fields") or {}
        if not isinstance(overrides, Mapping) or not all(isinstance(v, str) for v in overrides.values()):
            raise ValueError("clm/docusign fields must map canonical fields to labels (strings)")
        unknown = sorted(set(overrides) - set(DEFAULT_SCALARS))
        if unknown:
            raise ValueError(f"clm/docusign fields: unknown canonical field(s) {unknown}")
        scalars.update(overrides)
        prefixes = {
            k: str(config[k])
            for k in ("rate_role_prefix", "rate_resource_prefix", "milestone_prefix", "fee_prefix")
            if k in config
        }
        return cls(scalars=scalars, **prefixes)


class DocuSignConnectAdapter:
    source = "clm"
    vendor = "docusign"
    success_status = 200
    empty_success_body = False

    def __init__(self, fields: DocuSignFieldMap | None = None) -> None:
        self._fields = fields or DocuSignFieldMap()

    def verify(self, delivery: VendorDelivery, secrets: Sequence[str]) -> None:
        headers = {k.lower(): v for k, v in delivery.headers.items()}
        signatures = [v for k, v in sorted(headers.items()) if k.startswith(SIGNATURE_HEADER_PREFIX)]
        verify_base64_hmac(body=delivery.body, signatures=signatures, secrets=secrets, header="X-DocuSign-Signature-1")

    def translate(self, delivery: VendorDelivery) -> Translation:
        return translate_connect_message(parse_vendor_json(delivery.body, "Connect message"), self._fields)


def voided_envelope(envelope_id: str, summary: Any) -> Skipped:
    """A voided envelope approved nothing (DocuSign voids only incomplete envelopes): say so, with its reason."""
    summary = summary if isinstance(summary, dict) else {}
    if summary.get("completedDateTime"):
        raise VendorPayloadError(
            "a voided envelope cannot have been completed (DocuSign voids only incomplete envelopes)",
            field_path="data.envelopeSummary.completedDateTime",
        )
    reason = str(summary.get("voidedReason") or "").strip()
    when = str(summary.get("voidedDateTime") or "").strip()
    detail = f"voided{' on ' + when[:10] if when else ''}{': ' + reason if reason else ''}"
    return Skipped(
        f"envelope {envelope_id}",
        f"{detail}; never completed, so no contract was approved from it and none is withdrawn",
    )


def translate_connect_message(message: Any, fields: DocuSignFieldMap) -> Translation:
    """A JSON SIM message to canonical events (pure)."""
    if not isinstance(message, dict):
        raise VendorPayloadError("a Connect message is a JSON object")
    event = require(message, "event")
    envelope_id = require(message, "data.envelopeId")
    if event == VOIDED_EVENT:
        return Translation(skipped=(voided_envelope(envelope_id, message["data"].get("envelopeSummary")),))
    if event != COMPLETED_EVENT:
        return Translation(skipped=(Skipped(f"envelope {envelope_id}", f"event {event!r} approves no contract"),))
    summary = require(message, "data.envelopeSummary", dict)
    values = _labelled_values(summary)
    canonical = contract_data(values, fields)
    action = canonical.pop("action", "")
    version = canonical["version"]
    if str(action).strip().lower() in {"terminate", "terminated", "termination"}:
        event_type = "contract.terminated"
        data = {k: canonical[k] for k in REQUIRED}
    else:
        missing = [fields.scalars[k] for k in SNAPSHOT_REQUIRED if k not in canonical]
        if missing:
            raise VendorPayloadError(
                f"the envelope has no value for {', '.join(repr(m) for m in missing)} (custom field or tab)",
                field_path="data.envelopeSummary.customFields",
            )
        event_type = "contract.approved" if version == 1 else "contract.amended"
        data = canonical
    completed = summary.get("completedDateTime") or require(message, "generatedDateTime")
    return Translation(
        events=(
            {
                "specversion": "1.0",
                "id": f"docusign-{envelope_id}",
                "source": "clm",
                "type": event_type,
                "time": str(completed),
                "subject": data["contract_id"],
                "datacontenttype": "application/json",
                "data": data,
            },
        )
    )


def _labelled_values(summary: Mapping[str, Any]) -> dict[str, str]:
    """Every label -> value the envelope carries: envelope custom fields, then signers' tabs."""
    values: dict[str, str] = {}
    custom = summary.get("customFields") or {}
    for kind in ("textCustomFields", "listCustomFields"):
        for item in custom.get(kind) or []:
            if isinstance(item, dict) and isinstance(item.get("name"), str) and item.get("value") not in (None, ""):
                values[item["name"]] = str(item["value"])
    recipients = summary.get("recipients") or {}
    for signer in recipients.get("signers") or []:
        tabs = (signer or {}).get("tabs") or {}
        for kind in TAB_KINDS:
            for tab in tabs.get(kind) or []:
                label = (tab or {}).get("tabLabel")
                value = (tab or {}).get("value")
                if isinstance(label, str) and value not in (None, "") and label not in values:
                    values[label] = str(value)
    return values


def contract_data(values: Mapping[str, str], fields: DocuSignFieldMap) -> dict[str, Any]:
    """The canonical contract `data` from labelled values (pure); amounts stay decimal strings."""
    data: dict[str, Any] = {}
    for canonical, label in fields.scalars.items():
        if label not in values:
            continue
        raw = values[label].strip()
        value: Any = [part.strip() for part in raw.split(",") if part.strip()] if canonical in LIST_FIELDS else raw
        head, _, tail = canonical.partition(".")
        if tail:
            data.setdefault(head, {})[tail] = value
        else:
            data[head] = value
    for key in REQUIRED:
        if key not in data:
            raise VendorPayloadError(
                f"the envelope has no value for {fields.scalars[key]!r} (custom field or tab)",
                field_path="data.envelopeSummary.customFields",
            )
    try:
        data["version"] = int(data["version"])
    except ValueError:
        raise VendorPayloadError(
            f"{fields.scalars['version']!r} must be a whole number", field_path="data.envelopeSummary.customFields"
        ) from None
    rate_card = [
        {"role": label.removeprefix(fields.rate_role_prefix), "rate": value.strip()}
        for label, value in values.items()
        if label.startswith(fields.rate_role_prefix)
    ] + [
        {"resource_id": label.removeprefix(fields.rate_resource_prefix), "rate": value.strip()}
        for label, value in values.items()
        if label.startswith(fields.rate_resource_prefix)
    ]
    if rate_card:
        data["rate_card"] = rate_card
    elif data.get("action", "").strip().lower() not in {"terminate", "terminated", "termination"}:
        data["rate_card"] = []
    milestones = _grouped(values, fields.milestone_prefix)
    if milestones:
        data["milestones"] = [
            {"milestone_id": key, "name": parts.get("Name", key), "amount": parts.get("Amount", "")}
            for key, parts in milestones.items()
        ]
    fees = _grouped(values, fields.fee_prefix)
    if fees:
        data["recurring_fees"] = [
            {
                "fee_id": key,
                "description": parts.get("Description", key),
                "amount": parts.get("Amount", ""),
                "frequency": parts.get("Frequency", "monthly"),
                "start_date": parts.get("Start Date"),
                "end_date": parts.get("End Date"),
            }
            for key, parts in fees.items()
        ]
    return data


def _grouped(values: Mapping[str, str], prefix: str) -> dict[str, dict[str, str]]:
    """`{prefix}{key}/{part}` labels grouped by key, in the keys' order of first appearance."""
    groups: dict[str, dict[str, str]] = {}
    for label, value in values.items():
        if not label.startswith(prefix):
            continue
        key, _, part = label.removeprefix(prefix).partition("/")
        if key and part:
            groups.setdefault(key, {})[part] = value.strip()
    return groups
