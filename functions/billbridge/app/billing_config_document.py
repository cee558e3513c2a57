"""The hub's configuration document (tax rates, legal-entity routing, the customer-master
policy) to and from the domain's `BillingConfig`.

`billbridge config load` reads it, a scenario carries it under `config`, the ledgers store it.
It is not an event: events are typed by `canonical_events` and mapped by `event_translation`.
An invalid document raises UntranslatableEventError naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from billbridge.app.event_translation import UntranslatableEventError
from billbridge.domain.customer_master import DEFAULT_GRACE_DAYS, MasterPolicy
from billbridge.domain.model import BillingConfig, LegalEntityRoute, TaxRate


def decimal_field(value: Any, field: str) -> Decimal:
    """A decimal of the hub's configuration document (not of an event: events are typed)."""
    if isinstance(value, float):
        raise UntranslatableEventError(f"{field}: money and rates are decimal strings, not floats")
    try:
        return Decimal(str(value))
    except Exception as error:  # decimal.InvalidOperation and friends
        raise UntranslatableEventError(f"{field}: not a decimal: {value!r}") from error


def date_field(value: Any, field: str) -> date:
    """A date of the hub's configuration document (not of an event: events are typed)."""
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as error:
        raise UntranslatableEventError(f"{field}: not a YYYY-MM-DD date: {value!r}") from error


def billing_config_from(data: Mapping[str, Any]) -> BillingConfig:
    """The hub's configuration document (the same schema as a scenario's `config`)."""
    return BillingConfig(
        tax_rates=tuple(
            TaxRate(
                jurisdiction=str(t["jurisdiction"]),
                rate=decimal_field(t["rate"], f"tax_rates[{i}].rate"),
                effective_from=date_field(t["effective_from"], f"tax_rates[{i}].effective_from"),
            )
            for i, t in enumerate(data.get("tax_rates") or ())
        ),
        legal_entities=tuple(
            LegalEntityRoute(legal_entity=str(r["legal_entity"]), erp_instance=str(r["erp_instance"]))
            for r in data.get("legal_entities") or ()
        ),
        customer_master=master_policy_from(data.get("customer_master")),
    )


def master_policy_from(data: Any) -> MasterPolicy:
    """The configuration's `customer_master` ({"enforced": true, "grace_days": 30}); absent: not enforced."""
    if data is None:
        return MasterPolicy()
    if not isinstance(data, Mapping):
        raise UntranslatableEventError("customer_master: must be an object")
    enforced = data.get("enforced", False)
    grace = data.get("grace_days", DEFAULT_GRACE_DAYS)
    if not isinstance(enforced, bool):
        raise UntranslatableEventError("customer_master.enforced: must be true or false")
    if not isinstance(grace, int) or isinstance(grace, bool) or grace < 0:
        raise UntranslatableEventError("customer_master.grace_days: must be a whole number of days, 0 or more")
    return MasterPolicy(enforced=enforced, grace_days=grace)


def billing_config_to_document(config: BillingConfig) -> dict[str, Any]:
    return {
        "tax_rates": [
            {
                "jurisdiction": t.jurisdiction,
                "rate": str(t.rate),
                "effective_from": t.effective_from.isoformat(),
            }
            for t in config.tax_rates
        ],
        "legal_entities": [
            {"legal_entity": r.legal_entity, "erp_instance": r.erp_instance} for r in config.legal_entities
        ],
        **(
            {
                "customer_master": {
                    "enforced": config.customer_master.enforced,
                    "grace_days": config.customer_master.grace_days,
                }
            }
            if config.customer_master != MasterPolicy()
            else {}
        ),
    }
