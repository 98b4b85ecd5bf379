"""Fixtures of the AWS tests: one moto server + recording server per test module, a fake clock, providers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from luna_autoscaler.config import Config
from pricing.catalog import load_catalog
from providers.aws.clients import AwsClients
from providers.aws.provider import AwsProvider
from tests.aws.clock import FakeClock
from tests.aws.world import CLUSTER, REGION, AwsWorld, start_world, stop_world


@pytest.fixture(scope="module")
def world() -> Iterator[AwsWorld]:
    server, w = start_world()
    yield w
    stop_world(server, w)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


ProviderFactory = Callable[..., AwsProvider]


@pytest.fixture
def make_provider(world: AwsWorld, clock: FakeClock) -> ProviderFactory:
    """`make_provider(config=None, clients=None, **aws)`: an AwsProvider on this module's world."""

    def build(config: Config | None = None, clients: AwsClients | None = None, **aws: Any) -> AwsProvider:
        config = config or world.config(**aws)
        return AwsProvider(
            config=config,
            cluster_name=CLUSTER,
            clients=clients or world.clients(),
            clock=clock,
            bundled=load_catalog("aws", REGION),
        )

    return build
