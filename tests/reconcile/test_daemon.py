"""The loop around the cycle: failures back off and turn /healthz stale, standby stays healthy, stop releases
the lease; and the HTTP endpoints say so."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from luna_autoscaler.kube import KubeCluster
from luna_autoscaler.observability.health import Health, HealthServer
from luna_autoscaler.observability.metrics import Metrics
from luna_autoscaler.reconcile import Daemon, Reconciler
from tests.kubeapi import FakeApiServer
from tests.reconcile.world import CLUSTER, FakeClock, World


class Lease:
    """Leadership that the test hands over; counts releases."""

    def __init__(self, leader: bool) -> None:
        self.leader = leader
        self.released = 0

    def is_leader(self) -> bool:
        return self.leader

    def release(self) -> None:
        self.released += 1


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_failing_cycles_back_off_and_turn_health_stale_then_recover(server: FakeApiServer, make_world) -> None:
    w: World = make_world()
    clock = FakeClock(datetime(2025, 1, 6, tzinfo=UTC))
    never_synced = KubeCluster(server.client())  # not started: every snapshot fails with NotSynced
    broken = Reconciler(never_synced, w.provider, clock=clock, cluster_name=CLUSTER, metrics=Metrics())
    health = Health(clock, interval_seconds=2.0)
    daemon = Daemon(broken, leadership=Lease(True), clock=clock, health=health, interval_seconds=2.0)

    delays = [daemon.step() for _ in range(4)]

    assert delays == [5.0, 10.0, 20.0, 40.0]  # exponential backoff, never an exception
    assert broken.metrics.registry.get_sample_value("luna_cycle_failures_total", {"kind": "NotSynced"}) == 4
    assert health.healthy()[0]  # within 5 x interval / 30 s of start
    clock.now = clock.now.replace(minute=1)
    ok, why = health.healthy()
    assert not ok and "NotSynced" in why

    good = Daemon(w.reconciler, leadership=Lease(True), clock=clock, health=health, interval_seconds=2.0)
    assert good.step() == 2.0
    assert health.healthy() == (True, "ok")


def test_standby_is_healthy_and_does_nothing_and_stop_releases_the_lease(make_world) -> None:
    w: World = make_world()
    w.add_pod("web")
    lease = Lease(False)
    health = Health(w.clock, interval_seconds=2.0)
    stop = threading.Event()
    turns: list[float] = []

    def wait(seconds: float) -> bool:
        turns.append(seconds)
        if len(turns) == 3:
            stop.set()
        return stop.is_set()

    w.settle()
    Daemon(w.reconciler, leadership=lease, clock=w.clock, health=health, interval_seconds=2.0, wait=wait).run(stop)

    assert turns == [2.0, 2.0, 2.0] and w.launches() == []
    assert lease.released == 1 and health.healthy()[0]
    assert w.reconciler.metrics.registry.get_sample_value("luna_leader") == 0


def test_health_server_serves_metrics_healthz_and_readyz() -> None:
    clock = FakeClock(datetime(2025, 1, 6, tzinfo=UTC))
    synced = threading.Event()
    metrics = Metrics()
    metrics.launches.labels("g5.xlarge", "spot").inc()
    other = CollectorRegistry()
    health = Health(clock, interval_seconds=2.0, synced=synced.is_set)
    server = HealthServer(health, (metrics.registry, other), host="127.0.0.1", port=0).start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        assert get(base + "/readyz")[0] == 503
        synced.set()
        assert get(base + "/readyz") == (200, "ok\n")
        assert get(base + "/healthz") == (200, "ok\n")
        clock.advance(31)
        status, body = get(base + "/healthz")
        assert status == 503 and "no successful cycle since start" in body
        health.succeeded(clock())
        assert get(base + "/healthz")[0] == 200
        status, text = get(base + "/metrics")
        assert status == 200
        assert 'luna_launches_total{capacity_type="spot",instance_type="g5.xlarge"} 1.0' in text
        assert get(base + "/nope")[0] == 404
    finally:
        server.stop()


def test_a_replica_that_regains_the_lease_rebuilds_instead_of_trusting_old_timers(make_world) -> None:
    w: World = make_world()
    w.add_node("idle")
    lease = Lease(True)
    daemon = Daemon(w.reconciler, leadership=lease, clock=w.clock, health=Health(w.clock, interval_seconds=2.0))
    w.settle()
    started = w.clock()
    daemon.step()
    assert w.reconciler.unneeded_since == {"idle": started}
    lease.leader = False
    w.clock.advance(600)  # another replica led meanwhile
    daemon.step()
    lease.leader = True
    daemon.step()

    assert w.reconciler.unneeded_since == {"idle": w.clock()}  # the timer restarts: nothing drained on old facts
    assert not w.server.get("Node", "idle")["spec"].get("unschedulable")
