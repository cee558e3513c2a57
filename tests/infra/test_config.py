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


def test_rollout_and_systems_of_record_given_as_objects_in_context_become_json() -> None:
    app = cdk.App(
        context={
            "billbridge:rollout": {"workflows": {"actuals": "shadow"}},
            "billbridge:systems_of_record": {"customer": "crm"},
        }
    )
    config = BillbridgeConfig.from_context(app.node)
    assert config.rollout == '{"workflows": {"actuals": "shadow"}}'
    assert config.systems_of_record == '{"customer": "crm"}'


def test_the_dashboard_text_shows_every_switch_and_a_malformed_rollout_fails_the_synth() -> None:
    from billbridge.app.rollout import InvalidRolloutError

    from infra.stack import rollout_markdown

    text = rollout_markdown('{"workflows": {"actuals": "shadow"}, "sources": {"crm": "off"}}', '{"customer": "crm"}')
    assert "| workflow `actuals` | **shadow** |" in text
    assert "| source `crm` | **off** |" in text
    assert "| workflow `contracts` | **on** |" in text
    assert "customer = `crm`" in text
    with pytest.raises(InvalidRolloutError, match="unknown workflow"):
        rollout_markdown('{"workflows": {"billing": "off"}}', "")
