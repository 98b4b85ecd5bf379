"""Fixtures of the GCP tests: a recording server per test, a fake clock, a GKE provider on both."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from providers.gcp.provider import GkeProvider
from tests.aws.clock import FakeClock
from tests.gcp import world
from tests.gcp.recording_server import RecordingGcpServer


@pytest.fixture
def server() -> Iterator[RecordingGcpServer]:
    s = RecordingGcpServer().start()
    yield s
    s.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def provider(server: RecordingGcpServer, clock: FakeClock) -> GkeProvider:
    return world.provider(server, clock, pricingRefreshInterval=0)
