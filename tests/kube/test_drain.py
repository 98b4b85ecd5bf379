"""Draining a node through KubeCluster: PDBs (429 retried with backoff), eviction blockers, skipped pods."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from luna_autoscaler.kube import Backoff, KubeCluster, drain_node
from luna_autoscaler.kube.drain import PDB_BLOCKED
from luna_autoscaler.models.pod import DO_NOT_DISRUPT, DO_NOT_EVICT, SAFE_TO_EVICT
from tests.kube.conftest import FakeClock
from tests.kubeapi import FakeApiServer, Fault
from tests.kubeapi.objects import node, pdb, pod

Start = Callable[..., KubeCluster]
BACKOFF = Backoff(initial_seconds=1.0, max_seconds=8.0, jitter=0.0)


def _node_with_workloads(api: FakeApiServer) -> None:
    api.create(node("n1"))
    api.create(node("n2"))
    api.create(pod("web-0", node_name="n1", labels={"app": "web"}, owner=("ReplicaSet", "web")))
    api.create(pod("web-1", node_name="n1", labels={"app": "web"}, owner=("ReplicaSet", "web")))
    api.create(pod("agent-n1", "kube-system", node_name="n1", owner=("DaemonSet", "agent")))
    mirror = pod("etcd-n1", "kube-system", node_name="n1", annotations={"kubernetes.io/config.mirror": "abc"})
    api.create(mirror)
    api.create(pod("elsewhere", node_name="n2"))


def _evictions(api: FakeApiServer) -> list[tuple[str | None, int]]:
    return [(r.name, r.status) for r in api.requests if r.resource == "pods/eviction"]


def test_drain_evicts_through_a_pdb_retrying_429_until_it_allows(
    api: FakeApiServer, start_cluster: Start, clock: FakeClock
) -> None:
    _node_with_workloads(api)
    api.create(pdb("web", match_labels={"app": "web"}, disruptions_allowed=1))
    cluster = start_cluster()

    def sleep(seconds: float) -> None:  # meanwhile the evicted replica is replaced and healthy again
        clock.sleep(seconds)
        api.patch("PodDisruptionBudget", "web", {"status": {"disruptionsAllowed": 1}})

    result = drain_node(cluster, "n1", clock=clock, sleep=sleep, backoff=BACKOFF)

    assert result.complete and result.cordoned
    assert sorted(result.evicted) == ["default/web-0", "default/web-1"]
    assert dict(result.skipped) == {
        "kube-system/agent-n1": "DaemonSet pod",
        "kube-system/etcd-n1": "mirror (static) pod",
    }
    assert _evictions(api) == [("web-0", 201), ("web-1", 429), ("web-1", 201)]
    assert clock.sleeps == [1.0]
    assert api.get("Node", "n1")["spec"]["unschedulable"] is True
    assert api.exists("Pod", "agent-n1", namespace="kube-system") and api.exists("Pod", "elsewhere")


def test_drain_gives_up_at_the_deadline_and_says_what_is_left(
    api: FakeApiServer, start_cluster: Start, clock: FakeClock
) -> None:
    _node_with_workloads(api)
    api.create(pdb("web", match_labels={"app": "web"}, disruptions_allowed=0))
    cluster = start_cluster()

    result = drain_node(cluster, "n1", clock=clock, sleep=clock.sleep, backoff=BACKOFF, deadline_seconds=20.0)

    assert not result.complete and result.evicted == ()
    assert result.remaining == (("default/web-0", PDB_BLOCKED), ("default/web-1", PDB_BLOCKED))
    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0]  # exponential backoff, the next (8 s) would pass the deadline
    assert len(_evictions(api)) == 10 and {status for _, status in _evictions(api)} == {429}


@pytest.mark.parametrize(
    ("annotation", "value"), [(DO_NOT_EVICT, "true"), (SAFE_TO_EVICT, "false"), (DO_NOT_DISRUPT, "true")]
)
def test_a_pod_that_must_not_be_evicted_stops_the_drain_before_it_starts(
    api: FakeApiServer, start_cluster: Start, clock: FakeClock, annotation: str, value: str
) -> None:
    _node_with_workloads(api)
    api.create(pod("trainer", node_name="n1", annotations={annotation: value}))
    cluster = start_cluster()

    result = drain_node(cluster, "n1", clock=clock, sleep=clock.sleep)

    assert result.blocked_by == f"Node n1 cannot be removed because pod default/trainer has {annotation}={value}"
    assert not result.complete and not result.cordoned
    assert {key for key, _ in result.remaining} == {"default/trainer", "default/web-0", "default/web-1"}
    assert _evictions(api) == [] and not api.get("Node", "n1")["spec"].get("unschedulable")


def test_a_blocking_annotation_on_a_daemonset_pod_does_not_block(
    api: FakeApiServer, start_cluster: Start, clock: FakeClock
) -> None:
    api.create(node("n1"))
    api.create(pod("agent", node_name="n1", owner=("DaemonSet", "agent"), annotations={DO_NOT_EVICT: "true"}))
    api.create(pod("app", node_name="n1"))
    cluster = start_cluster()

    result = drain_node(cluster, "n1", clock=clock, sleep=clock.sleep)

    assert result.complete and result.evicted == ("default/app",)
    assert api.exists("Pod", "agent")


def test_an_api_failure_during_drain_is_reported_not_raised(
    api: FakeApiServer, start_cluster: Start, clock: FakeClock
) -> None:
    api.create(node("n1"))
    api.create(pod("app", node_name="n1"))
    cluster = start_cluster()
    api.inject(Fault(path=r"/pods/app/eviction$", status=500, times=None))
    result = drain_node(cluster, "n1", clock=clock, sleep=clock.sleep, backoff=BACKOFF, deadline_seconds=2.0)

    assert not result.complete
    ((key, why),) = result.remaining
    assert key == "default/app" and "HTTP 500" in why
