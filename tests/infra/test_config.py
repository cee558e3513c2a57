"""Stack settings: defaults, context overrides, refused values."""

from __future__ import annotations

import aws_cdk as cdk
import pytest

from infra.config import BillbridgeConfig


def test_context_overrides_defaults_with_the_field_type() -> None:
    app = cdk.App(context={"billbridge:billing_hour": "5", "billbridge:billing_time_zone": "Europe/Berlin"})
    config = BillbridgeConfig.from_context(app.node)
    assert config.billing_hour == 5
    assert config.billing_time_zone == "Europe/Berlin"
    assert config.billing_day_of_month == BillbridgeConfig().billing_day_of_month


@pytest.mark.parametrize(
    "overrides",
    [
        {"billing_day_of_month": 31},
        {"billing_hour": 24},
        {"raw_payload_retention_days": 30, "raw_payload_ia_transition_days": 30},
    ],
)
def test_impossible_settings_are_refused(overrides: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        BillbridgeConfig(**overrides)  # type: ignore[arg-type]
