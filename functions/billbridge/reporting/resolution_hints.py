"""How an operator resolves each type of billing exception: the text `billbridge exceptions show`
and the lineage views print under "How to resolve".

Keyed by the exception type's value (`billbridge.domain.model.ExceptionType`; a test keeps the
keys equal to its values). Only the standard library: the command's fast path reads it
without importing the domain model (docs/decisions/0022-fast-show-commands.md).
"""

from __future__ import annotations

RESOLUTION_HINTS_BY_TYPE: dict[str, str] = {
    "no_rate": "Add the role or resource to the rate card with a contract amendment (the entry "
    "is re-rated and the exception resolves), or write it off.",
    "invalid_cost_center": "Correct the cost center in the PSA (a new revision of the entry) or "
    "add it to the contract's cost centers with an amendment; or write it off.",
    "outside_term": "Extend the term with an amendment if the work was agreed, else write it off.",
    "currency_mismatch": "Have the expense re-submitted in the contract's currency, or write it off.",
    "rate_mismatch": "Informational: billed at the contract's rate. Fix the PSA rate card.",
    "unknown_milestone": "Add the milestone to the contract with an amendment, or write it off.",
    "version_conflict": "Ask the CLM owner which body is right; re-issue it as a new version.",
    "retroactive_change": "Approve to bill the delta as an adjustment line on the next invoice, "
    "or write it off to leave the invoiced lines as they are.",
    "invoiced_entry_changed": "Approve to bill (or credit) the difference as an adjustment on "
    "the next invoice, or write it off.",
    "cap_exceeded": "Raise the cap with a change order (held lines are released in the next "
    "run), approve to bill them anyway, or write them off.",
    "unknown_tax_jurisdiction": "Add the jurisdiction to the tax table, then re-run the period.",
    "unknown_legal_entity": "Route the legal entity to an ERP instance, then re-run the period.",
    "tax_variance": "The ERP's tax stands; check the tax table against the ERP's and correct it.",
    "invoice_rejected": "Fix the cause given by the ERP; the lines are unbilled again and the "
    "next run re-proposes them.",
    "billing_failed": "Read the cause; fix it (configuration, ERP connectivity) and re-run.",
    "unknown_customer": "Have the customer's system of record send the customer "
    "(customer.upserted), then re-run the period.",
    "customer_inactive": "Reactivate the customer in its system of record (a new version), or "
    "move the contract to an active customer with an amendment; then re-run the period.",
    "customer_currency_mismatch": "Add the currency to the customer in its system of record, or "
    "amend the contract's currency; then re-run the period.",
    "sync_refused": "Read the system's answer and the command's payload; fix the cause (in the "
    "downstream system, or with a contract amendment), then `billbridge sync retry COMMAND_ID`.",
    "sync_failed": "The system did not answer in time (outage, time-outs, rate limits): once it "
    "is reachable, `billbridge sync retry COMMAND_ID`.",
}
