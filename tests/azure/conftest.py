"""Fixtures of the Azure tests: one recording ARM server per test, a fake clock, providers on that server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from providers.azure.provider import AzureProvider
from tests.aws.clock import FakeClock
from tests.azure.arm_server import RecordingArmServer
from tests.azure.world import provider, running_server


@pytest.fixture
def server() -> Iterator[RecordingArmServer]:
    with running_server() as s:
        yield s


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


ProviderFactory = Callable[..., AzureProvider]


@pytest.fixture
def make_provider(server: RecordingArmServer, clock: FakeClock) -> ProviderFactory:
    """`make_provider(**azure)`: a fresh AzureProvider (as after a restart) on this test's server."""

    def build(**azure: Any) -> AzureProvider:
        return provider(server, clock, **azure)

    return build
