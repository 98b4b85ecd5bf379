"""Fixtures of the OCI tests: a recording server per test, the real SDK clients, a provider on a fake clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pricing.catalog import load_catalog
from providers.oci import BUNDLED_REGION
from providers.oci.provider import OciProvider
from tests.aws.clock import FakeClock
from tests.oci import world
from tests.oci.recording_server import RecordingOciServer

CLUSTER = "oke-test"
MakeProvider = Callable[..., OciProvider]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server(clock: FakeClock) -> Iterator[RecordingOciServer]:
    running = RecordingOciServer(clock).start()
    yield running
    running.stop()


@pytest.fixture
def make_provider(server: RecordingOciServer, clock: FakeClock) -> MakeProvider:
    def make(metrics_registry: Any = None, **section: Any) -> OciProvider:
        return OciProvider(
            config=world.config(server, **section),
            cluster_name=CLUSTER,
            clients=world.clients(server),
            clock=clock,
            bundled=load_catalog("oci", BUNDLED_REGION),
            metrics_registry=metrics_registry,
        )

    return make


@pytest.fixture
def provider(make_provider: MakeProvider) -> OciProvider:
    return make_provider()
