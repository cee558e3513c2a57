"""Fixtures of the use-case tests: in-memory fakes for every port, sockets blocked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import pytest_socket

from tests.fakes.edge import (
    CLM_SECRET,
    PSA_SECRET,
    FixedClock,
    InMemoryDeliveryRegistry,
    InMemoryEventPublisher,
    InMemoryRawPayloadStore,
    InMemoryWebhookSecrets,
    SequentialIds,
)


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[None]:
    pytest_socket.disable_socket(allow_unix_socket=True)
    yield
    pytest_socket.enable_socket()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def webhook_secrets() -> InMemoryWebhookSecrets:
    return InMemoryWebhookSecrets({"psa": [PSA_SECRET], "clm": [CLM_SECRET], "erp": [PSA_SECRET]})


@pytest.fixture
def raw_payloads() -> InMemoryRawPayloadStore:
    return InMemoryRawPayloadStore()


@pytest.fixture
def deliveries() -> InMemoryDeliveryRegistry:
    return InMemoryDeliveryRegistry()


@pytest.fixture
def publisher() -> InMemoryEventPublisher:
    return InMemoryEventPublisher()


@pytest.fixture
def ids() -> SequentialIds:
    return SequentialIds()
