"""Fixtures for the Kubernetes adapter tests: a fake API server per test, the official client against it, and a
KubeCluster tuned for tests (millisecond backoffs, short timeouts), so nothing waits on a real-world schedule.

Every server the adapter talked to is checked on teardown: each (group, resource, verb) it received must be one the
adapter declares in API_CALLS (RBAC would refuse anything else in a real cluster), and the fake itself must not
have failed on a request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kubernetes import client as k8s

from luna_autoscaler.backoff import Backoff
from luna_autoscaler.kube import API_CALLS, CallPolicy, KubeCluster, KubeSettings, WatchSettings, connect
from tests.kubeapi import FakeApiServer

FAST_BACKOFF = Backoff(initial_seconds=0.01, max_seconds=0.05)
FAST_WATCH = WatchSettings(page_size=50, watch_timeout_seconds=10, read_grace_seconds=5.0, backoff=FAST_BACKOFF)
FAST_CALLS = CallPolicy(timeout_seconds=5.0, attempts=3, backoff=FAST_BACKOFF)
SETTINGS = KubeSettings(watch=FAST_WATCH, calls=FAST_CALLS, instance="test-replica")


class FakeClock:
    """A settable UTC clock; `sleep` advances it instead of waiting."""

    def __init__(self) -> None:
        self.now = datetime(2025, 1, 1, tzinfo=UTC)
        self.sleeps: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)


@pytest.fixture
def api() -> Iterator[FakeApiServer]:
    with FakeApiServer() as server:
        yield server
        assert not server.internal_errors, server.internal_errors
        undeclared = server.calls() - set(API_CALLS)
        assert not undeclared, f"calls missing from luna_autoscaler.kube.permissions.API_CALLS: {sorted(undeclared)}"


@pytest.fixture
def client(api: FakeApiServer, tmp_path: Path) -> Iterator[k8s.ApiClient]:
    """The client the daemon would build (connect() from a kubeconfig), pointed at the fake server."""
    c = connect(str(api.write_kubeconfig(tmp_path / "kubeconfig")))
    yield c
    c.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def start_cluster(client: k8s.ApiClient, clock: FakeClock) -> Iterator[Callable[..., KubeCluster]]:
    """Start a KubeCluster against the fake server (objects created before the call are in its first list)."""
    started: list[KubeCluster] = []

    def start(settings: KubeSettings = SETTINGS, **kwargs: object) -> KubeCluster:
        kwargs.setdefault("clock", clock)
        cluster = KubeCluster(client, settings, **kwargs).start()  # type: ignore[arg-type]
        started.append(cluster)
        assert cluster.wait_for_sync(10.0), cluster.problems()
        return cluster

    yield start
    for cluster in started:
        cluster.stop()


def wait_until(cluster: KubeCluster, predicate: Callable[[], bool], timeout_seconds: float = 5.0) -> None:
    """Wait (on the cache's change notifications, never a fixed sleep) until `predicate()` holds."""
    deadline = time.monotonic() + timeout_seconds
    generation = cluster.cache.generation
    while not predicate():
        remaining = deadline - time.monotonic()
        assert remaining > 0, "timed out waiting for the cluster cache"
        generation = cluster.wait_for_change(generation, remaining)
