"""The watch-fed cluster cache against the fake API server: events, dropped streams, 410s, faults."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from kubernetes.client import ApiClient

from luna_autoscaler.backoff import Backoff
from luna_autoscaler.kube import CallPolicy, KubeCluster, KubeSettings, NotSynced, WatchSettings
from luna_autoscaler.kube.cache import CacheStale
from luna_autoscaler.kube.cluster import LIVE_PODS
from luna_autoscaler.models.resources import Resources
from luna_autoscaler.observability.health import Health
from tests.kube.conftest import FAST_BACKOFF, SETTINGS, wait_until
from tests.kubeapi import FakeApiServer, Fault
from tests.kubeapi.objects import daemonset, node, pdb, pod

Start = Callable[..., KubeCluster]


def _lists(api: FakeApiServer, resource: str) -> int:
    return sum(1 for r in api.requests if r.resource == resource and r.verb == "list")


def _server_pods(api: FakeApiServer) -> dict[str, str]:
    """namespace/name → resourceVersion of the live pods on the server."""
    return {
        f"{p['metadata']['namespace']}/{p['metadata']['name']}": p["metadata"]["resourceVersion"]
        for p in api.list("Pod")
        if p["status"]["phase"] not in ("Succeeded", "Failed")
    }


def _cached_pods(cluster: KubeCluster) -> dict[str, str]:
    pods = cluster.snapshot().pods
    keys = [p.key for p in pods]
    assert len(keys) == len(set(keys)), "a pod is in the cache twice"
    return {p.key: p.resource_version for p in pods}


def test_first_list_builds_a_consistent_snapshot_of_every_kind(api: FakeApiServer, start_cluster: Start) -> None:
    api.create(node("n1", cpu="4", memory="16Gi", gpus=1, provider_id="aws:///us-east-1a/i-1"))
    for i in range(120):  # more than a page (50): the list is paginated
        api.create(pod(f"p{i:03}", node_name="n1" if i % 2 else None, unschedulable=not i % 2))
    api.create(pod("done", phase="Succeeded"))
    api.create(daemonset("agent", cpu="200m"))
    api.create(pdb("web", match_labels={"app": "web"}, disruptions_allowed=1))

    cluster = start_cluster()
    snap = cluster.snapshot()

    assert [p.name for p in snap.pods] == [f"p{i:03}" for i in range(120)]  # sorted; terminal pods left out
    assert sum(p.unschedulable for p in snap.pods) == 60
    assert snap.nodes[0].allocatable.gpus() == 1 and snap.nodes[0].provider_id == "aws:///us-east-1a/i-1"
    assert snap.daemonsets[0].requests == Resources.of(cpu_millis=200, memory_bytes=64 * 2**20, pods=1)
    assert snap.pdbs[0].disruptions_allowed == 1
    assert snap.resource_version == str(api.store.resource_version)
    pod_lists = [r for r in api.requests if r.resource == "pods" and r.verb == "list"]
    assert len(pod_lists) == 3 and all(r.query["fieldSelector"] == LIVE_PODS for r in pod_lists)


def test_a_pod_becoming_pending_is_seen_with_one_watch_event(api: FakeApiServer, start_cluster: Start) -> None:
    api.create(pod("gpu-job", labels={"elotl-luna": "true"}))
    cluster = start_cluster()
    assert api.wait_for_watches("pods")
    before = cluster.cache.generation
    lists = _lists(api, "pods")

    # the scheduler gives up on the pod: one status update, one watch event
    api.patch(
        "Pod",
        "gpu-job",
        {"status": {"conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]}},
    )
    after = cluster.wait_for_change(before, 5.0)

    assert after == before + 1
    (seen,) = cluster.snapshot().pods
    assert seen.unschedulable and seen.resource_version == api.get("Pod", "gpu-job")["metadata"]["resourceVersion"]
    assert _lists(api, "pods") == lists  # no re-list was needed


def test_a_dropped_watch_resumes_from_its_resource_version_losing_nothing(
    api: FakeApiServer, start_cluster: Start
) -> None:
    for i in range(5):
        api.create(pod(f"p{i}"))
    cluster = start_cluster()
    assert api.wait_for_watches("pods")
    lists = _lists(api, "pods")

    # cut the stream and keep the reconnect failing while the cluster changes under it
    outage = api.inject(Fault(path=r"^/api/v1/pods$", watch=True, status=503, times=None))
    assert api.drop_watches("pods") == 1
    api.delete("Pod", "p0")
    api.create(pod("p5", unschedulable=True))
    api.patch("Pod", "p1", {"metadata": {"labels": {"changed": "yes"}}})
    api.patch("Pod", "p2", {"status": {"phase": "Succeeded"}})  # terminal: leaves the watched set
    assert api.wait_for_requests("pods", "watch", count=2)  # a reconnect was refused during the outage
    api.clear_faults()

    wait_until(cluster, lambda: _cached_pods(cluster) == _server_pods(api))
    assert outage.hits >= 1
    assert set(_cached_pods(cluster)) == {"default/p1", "default/p3", "default/p4", "default/p5"}
    assert next(p for p in cluster.snapshot().pods if p.name == "p1").labels["changed"] == "yes"
    assert _lists(api, "pods") == lists  # resumed from the resourceVersion: no re-list
    assert not cluster.problems()


def test_an_expired_resource_version_relists_and_converges(api: FakeApiServer, start_cluster: Start) -> None:
    for i in range(5):
        api.create(pod(f"p{i}"))
    cluster = start_cluster()
    assert api.wait_for_watches("pods")
    lists = _lists(api, "pods")

    api.inject(Fault(path=r"^/api/v1/pods$", watch=True, status=500, times=None))
    api.drop_watches("pods")
    api.delete("Pod", "p0")
    api.delete("Pod", "p1")
    api.create(pod("p9"))
    api.patch("Pod", "p3", {"metadata": {"annotations": {"x": "y"}}})
    api.compact()  # the cache's resourceVersion is no longer in the server's history
    assert api.wait_for_requests("pods", "watch", count=2)
    api.clear_faults()

    wait_until(cluster, lambda: _cached_pods(cluster) == _server_pods(api))
    assert set(_cached_pods(cluster)) == {"default/p2", "default/p3", "default/p4", "default/p9"}
    assert _lists(api, "pods") == lists + 1
    expired = [r for r in api.requests if r.resource == "pods" and r.verb == "watch"]
    assert len(expired) >= 2  # the first watch, then one from the stale version (answered with a 410 event)
    assert api.wait_for_watches("pods")


def test_list_failures_are_retried_with_backoff_before_the_first_sync(api: FakeApiServer, client: ApiClient) -> None:
    api.create(node("n1"))
    nodes_down = api.inject(Fault(path=r"^/api/v1/nodes$", watch=False, status=500, times=4))
    throttled = api.inject(Fault(path=r"^/api/v1/pods$", watch=False, status=429, retry_after_seconds=2, times=1))
    slow = api.inject(Fault(path=r"^/apis/apps/v1/daemonsets$", watch=False, delay_seconds=0.3, times=1))
    slept: list[float] = []
    cluster = KubeCluster(client, SETTINGS, sleep=slept.append).start()
    try:
        assert cluster.wait_for_sync(10.0)
        assert [n.name for n in cluster.snapshot().nodes] == ["n1"]
        # 4 failures of the node list: 2 retries inside one call (3 attempts), then the reflector backs off
        assert nodes_down.hits == 4 and throttled.hits == 1 and slow.hits == 1
        assert 2.0 in slept  # Retry-After honoured
    finally:
        cluster.stop()


def test_a_request_slower_than_the_timeout_is_retried(api: FakeApiServer, client: ApiClient) -> None:
    api.create(node("n1"))
    settings = KubeSettings(
        watch=SETTINGS.watch, calls=CallPolicy(timeout_seconds=0.3, attempts=3, backoff=FAST_BACKOFF)
    )
    hung = api.inject(Fault(path=r"^/api/v1/nodes$", watch=False, delay_seconds=1.0, times=1))
    cluster = KubeCluster(client, settings).start()
    try:
        assert cluster.wait_for_sync(10.0)
        assert hung.hits == 1 and len(cluster.snapshot().nodes) == 1
    finally:
        cluster.stop()


def test_a_watch_that_ends_on_its_timeout_is_renewed_without_a_relist(api: FakeApiServer, start_cluster: Start) -> None:
    settings = KubeSettings(watch=WatchSettings(watch_timeout_seconds=1, backoff=FAST_BACKOFF), calls=SETTINGS.calls)
    cluster = start_cluster(settings)
    # the server ends each stream after 1 s; the reflector opens the next one from where it was
    assert api.wait_for_requests("nodes", "watch", count=2, timeout_seconds=5.0)
    api.create(node("n-late"))
    wait_until(cluster, lambda: [n.name for n in cluster.snapshot().nodes] == ["n-late"])
    assert _lists(api, "nodes") == 1


def test_watches_that_end_at_once_back_off(api: FakeApiServer, start_cluster: Start) -> None:
    """A proxy closing every stream at once must not make the reflectors spin."""
    backoff = Backoff(initial_seconds=0.1, max_seconds=1.0, jitter=0.0)
    settings = KubeSettings(watch=WatchSettings(watch_timeout_seconds=0, backoff=backoff), calls=SETTINGS.calls)
    started = time.monotonic()
    cluster = start_cluster(settings)
    assert api.wait_for_requests("nodes", "watch", count=4)
    assert time.monotonic() - started >= 0.1 + 0.2 + 0.4  # three backoffs between the four watches
    assert "with no event" in cluster.problems()["nodes"]


def test_an_unreadable_object_is_left_out_and_reported(api: FakeApiServer, start_cluster: Start) -> None:
    bad = pod("bad")
    bad["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "lots"
    api.create(bad)
    api.create(pod("good"))
    cluster = start_cluster()

    assert [p.name for p in cluster.snapshot().pods] == ["good"]
    assert "lots" in cluster.cache.invalid_objects()["pods default/bad"]

    fixed = api.get("Pod", "bad")
    fixed["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "1"
    api.replace(fixed)
    wait_until(cluster, lambda: len(cluster.snapshot().pods) == 2)
    assert cluster.cache.invalid_objects() == {}


def test_no_snapshot_before_the_first_list(api: FakeApiServer, client: ApiClient) -> None:
    api.inject(Fault(path=r"^/api/v1/nodes$", watch=False, status=500, times=None))
    cluster = KubeCluster(client, SETTINGS).start()
    try:
        assert not cluster.wait_for_sync(0.3)
        with pytest.raises(NotSynced, match="nodes"):
            cluster.snapshot()
        assert "500" in cluster.problems()["nodes"]
    finally:
        cluster.stop()


def _poll(predicate: Callable[[], bool], timeout_seconds: float = 10.0) -> bool:
    """Poll a condition that no cache change signals (a failing watch changes nothing), bounded."""
    deadline = time.monotonic() + timeout_seconds
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_a_cache_not_refreshed_for_longer_than_the_window_is_stale_until_the_watches_are_back(
    api: FakeApiServer, start_cluster: Start
) -> None:
    """An API outage (500 on every request, every watch cut): cycles must not go on from the old view, and the
    probes must say so (issue 12: /healthz stayed 200 through a 50 s outage)."""
    api.create(node("n1"))
    ticks = [1000.0]
    settings = KubeSettings(watch=SETTINGS.watch, calls=SETTINGS.calls, stale_after_seconds=30.0)
    cluster = start_cluster(settings, monotonic=lambda: ticks[0])
    health = Health(lambda: datetime(2025, 1, 1, tzinfo=UTC), interval_seconds=2.0, stale=cluster.staleness)
    health.succeeded(datetime(2025, 1, 1, tzinfo=UTC))

    api.inject(Fault(path=r"^/api", status=500, times=None))
    api.drop_watches()
    core = [r for r in cluster.reflectors if r.resource in ("pods", "nodes", "daemonsets", "configmaps")]
    assert _poll(lambda: all("500" in (r.last_error or "") for r in core)), cluster.problems()
    ticks[0] += 30.0  # at the window: not stale yet
    assert cluster.staleness() is None and [n.name for n in cluster.snapshot().nodes] == ["n1"]
    assert health.healthy() == (True, "ok")

    ticks[0] += 1.0
    why = cluster.staleness()
    assert why is not None and "not refreshed" in why and "pods for 31s" in why and "500" in why
    with pytest.raises(CacheStale, match="not refreshed"):
        cluster.snapshot()
    assert health.healthy() == (False, why) and health.ready() == (False, why)

    api.clear_faults()
    assert _poll(lambda: cluster.staleness() is None), cluster.problems()
    assert [n.name for n in cluster.snapshot().nodes] == ["n1"]
    assert health.healthy() == (True, "ok") and health.ready() == (True, "ok")


def test_a_quiet_resource_stops_reporting_a_problem_once_its_watch_is_open_again(
    api: FakeApiServer, start_cluster: Start
) -> None:
    """A cut watch is a problem until the server answers again; a resource that then sees no event for hours (no
    DaemonSet changes) must not go on reporting the cut (the fault suite's outage recovery waited for it)."""
    cluster = start_cluster()
    assert api.wait_for_watches("daemonsets")
    api.drop_watches()
    assert _poll(lambda: _watches(api, "daemonsets") >= 2)  # re-opened
    assert _poll(lambda: not cluster.problems()), cluster.problems()


def _watches(api: FakeApiServer, resource: str) -> int:
    return sum(1 for r in api.requests if r.resource == resource and r.verb == "watch")
