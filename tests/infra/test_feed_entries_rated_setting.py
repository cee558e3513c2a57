"""`billbridge:feed_entries_rated`: off by default (no `EntryRated` published: nothing reads
one); on, every function is told to publish it; `-c billbridge:feed_entries_rated=false` is off."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from billbridge import topology
from billbridge.settings import HubSettings

from infra.config import BillbridgeConfig
from tests.infra.conftest import Synthesized


def config_with(context: dict[str, Any]) -> BillbridgeConfig:
    node: Any = SimpleNamespace(try_get_context=context.get)
    return BillbridgeConfig.from_context(node)


def test_the_setting_is_off_by_default_and_a_command_line_false_stays_off() -> None:
    assert config_with({}).feed_entries_rated is False
    assert config_with({"billbridge:feed_entries_rated": "false"}).feed_entries_rated is False
    assert config_with({"billbridge:feed_entries_rated": "true"}).feed_entries_rated is True
    assert config_with({"billbridge:feed_entries_rated": True}).feed_entries_rated is True


def test_a_default_deployments_functions_are_not_told_to_publish_entry_rated(synthesized: Synthesized) -> None:
    for function in synthesized.resources("AWS::Lambda::Function").values():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        assert topology.ENV_FEED_ENTRIES_RATED not in variables


def test_the_functions_read_the_setting_from_their_environment() -> None:
    assert HubSettings.from_environment({topology.ENV_FEED_ENTRIES_RATED: "true"}).feed_entries_rated is True
    assert HubSettings.from_environment({}).feed_entries_rated is False
