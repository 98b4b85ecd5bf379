"""Node operations, evictions and Events of KubeCluster, through the official client and the fake API server."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from luna_autoscaler.kube import KubeApiError, KubeCluster
from luna_autoscaler.models.scheduling import Taint
from luna_autoscaler.ports import EvictionOutcome, ObjectRef
from tests.kube.conftest import FakeClock
from tests.kubeapi import FakeApiServer, Fault
from tests.kubeapi.objects import node, pdb, pod

Start = Callable[..., KubeCluster]


def _writes(api: FakeApiServer, path_end: str) -> list[str]:
    return [r.verb for r in api.requests if r.path.endswith(path_end) and r.verb in ("patch", "update", "create")]


def test_label_node_merges_with_the_existing_labels(api: FakeApiServer, start_cluster: Start) -> None:
    api.create(node("n1", labels={"team": "ml"}))
    cluster = start_cluster()
    cluster.label_node("n1", {"node.elotl.co/managed-by": "luna-autoscaler", "team": "research"})
    labels = api.get("Node", "n1")["metadata"]["labels"]
    assert labels["node.elotl.co/managed-by"] == "luna-autoscaler"
    assert labels["team"] == "research" and labels["kubernetes.io/hostname"] == "n1"


def test_taint_node_adds_replaces_and_is_idempotent(api: FakeApiServer, start_cluster: Start) -> None:
    api.create(node("n1", taints=[{"key": "dedicated", "value": "ml", "effect": "NoSchedule"}]))
    cluster = start_cluster()

    cluster.taint_node("n1", Taint("nvidia.com/gpu", "present", "NoSchedule"))
    cluster.taint_node("n1", Taint("dedicated", "infra", "NoSchedule"))  # same key and effect: replaced
    assert api.get("Node", "n1")["spec"]["taints"] == [
        {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"},
        {"key": "dedicated", "value": "infra", "effect": "NoSchedule"},
    ]
    patches = len(_writes(api, "/nodes/n1"))
    cluster.taint_node("n1", Taint("nvidia.com/gpu", "present", "NoSchedule"))
    assert len(_writes(api, "/nodes/n1")) == patches  # already there: no write


def test_taint_node_retries_conflicts_with_a_fresh_read(api: FakeApiServer, start_cluster: Start) -> None:
    api.create(node("n1"))
    cluster = start_cluster()
    conflicts = api.inject(Fault(path=r"/api/v1/nodes/n1$", method="PATCH", status=409, times=2))
    cluster.taint_node("n1", Taint("luna.elotl.co/draining", "", "NoSchedule"))
    assert conflicts.hits == 2
    assert api.get("Node", "n1")["spec"]["taints"] == [{"key": "luna.elotl.co/draining", "effect": "NoSchedule"}]
    assert sum(1 for r in api.requests if r.path.endswith("/nodes/n1") and r.verb == "get") == 3


def test_taint_node_survives_a_concurrent_writer(api: FakeApiServer, start_cluster: Start) -> None:
    """Another controller changes the node between our read and our patch: a genuine 409, then a clean retry."""
    api.create(node("n1"))
    cluster = start_cluster()
    api.inject(Fault(path=r"/api/v1/nodes/n1$", method="PATCH", delay_seconds=0.3, times=1))
    tainting = threading.Thread(target=cluster.taint_node, args=("n1", Taint("k", "", "NoSchedule")))
    tainting.start()
    assert api.wait_for_requests("nodes", "get", count=1)
    api.patch("Node", "n1", {"metadata": {"labels": {"other-controller": "was-here"}}})  # while our PATCH waits
    tainting.join(10.0)

    patches = [r.status for r in api.requests if r.path.endswith("/nodes/n1") and r.verb == "patch"]
    assert patches == [409, 200]
    stored = api.get("Node", "n1")
    assert stored["spec"]["taints"] == [{"key": "k", "effect": "NoSchedule"}]
    assert stored["metadata"]["labels"]["other-controller"] == "was-here"


def test_taint_node_gives_up_when_conflicts_persist(api: FakeApiServer, start_cluster: Start) -> None:
    api.create(node("n1"))
    cluster = start_cluster()
    api.inject(Fault(path=r"/api/v1/nodes/n1$", method="PATCH", status=409, times=None))
    with pytest.raises(KubeApiError, match="kept changing"):
        cluster.taint_node("n1", Taint("k", "v", "NoSchedule"))


def test_cordon_and_delete_node(api: FakeApiServer, start_cluster: Start) -> None:
    api.create(node("n1"))
    cluster = start_cluster()
    cluster.cordon("n1")
    assert api.get("Node", "n1")["spec"]["unschedulable"] is True
    cluster.delete_node("n1")
    assert not api.exists("Node", "n1")
    cluster.delete_node("n1")  # already gone: fine
    with pytest.raises(KubeApiError) as info:
        cluster.cordon("n1")
    assert info.value.not_found


def test_operations_retry_server_errors_then_report_them(api: FakeApiServer, start_cluster: Start) -> None:
    api.create(node("n1"))
    cluster = start_cluster()
    api.inject(Fault(path=r"/api/v1/nodes/n1$", method="PATCH", status=503, times=2))
    cluster.cordon("n1")  # third attempt succeeds
    assert api.get("Node", "n1")["spec"]["unschedulable"] is True
    api.inject(Fault(path=r"/api/v1/nodes/n1$", method="DELETE", status=500, times=None))
    with pytest.raises(KubeApiError, match="HTTP 500") as info:
        cluster.delete_node("n1")
    assert info.value.transient


def test_evict_outcomes(api: FakeApiServer, start_cluster: Start) -> None:
    api.create(node("n1"))
    for name in ("free", "guarded", "replaced"):
        api.create(pod(name, node_name="n1", labels={"app": name}))
    api.create(pdb("guard", match_labels={"app": "guarded"}, disruptions_allowed=0))
    cluster = start_cluster()
    pods = {p.name: p for p in cluster.snapshot().pods}

    assert cluster.evict(pods["free"]) is EvictionOutcome.EVICTED
    assert not api.exists("Pod", "free")
    assert cluster.evict(pods["free"]) is EvictionOutcome.GONE
    assert cluster.evict(pods["guarded"]) is EvictionOutcome.BLOCKED
    assert api.exists("Pod", "guarded")

    # a new pod of the same name (a StatefulSet replica): the uid precondition protects it
    api.delete("Pod", "replaced")
    api.create(pod("replaced", node_name="n1"))
    assert cluster.evict(pods["replaced"]) is EvictionOutcome.GONE
    assert api.exists("Pod", "replaced")

    api.inject(Fault(path=r"/pods/guarded/eviction$", status=500, times=None))
    with pytest.raises(KubeApiError, match="HTTP 500"):
        cluster.evict(pods["guarded"])


def test_events_go_to_events_k8s_io_with_the_regarding_object(api: FakeApiServer, start_cluster: Start) -> None:
    cluster = start_cluster()
    about = ObjectRef("Pod", "train-0", "ml", uid="uid-1")
    cluster.post_event(
        about, "NodeCostEstimate", "Estimated cost $0.53/h for g4dn.xlarge (spot); estimated node count 1"
    )
    cluster.post_event(ObjectRef("Node", "n1"), "ScaleDownBlocked", "x" * 5000, warning=True)

    events = api.list("Event", api_version="events.k8s.io/v1")
    by_reason = {e["reason"]: e for e in events}
    estimate = by_reason["NodeCostEstimate"]
    assert estimate["metadata"]["namespace"] == "ml" and estimate["metadata"]["name"].startswith("train-0.")
    assert estimate["regarding"] == {
        "apiVersion": "v1",
        "kind": "Pod",
        "name": "train-0",
        "namespace": "ml",
        "uid": "uid-1",
    }
    assert estimate["type"] == "Normal" and estimate["note"].startswith("Estimated cost $0.53/h")
    assert estimate["reportingController"] == "luna-autoscaler" and estimate["reportingInstance"] == "test-replica"
    blocked = by_reason["ScaleDownBlocked"]
    assert blocked["metadata"]["namespace"] == "default" and blocked["type"] == "Warning"
    assert len(blocked["note"].encode()) <= 1024


def test_the_same_event_is_posted_once_per_dedupe_window(
    api: FakeApiServer, start_cluster: Start, clock: FakeClock
) -> None:
    cluster = start_cluster()
    about = ObjectRef("Pod", "p", "default")
    for _ in range(3):
        cluster.post_event(about, "InvalidAnnotation", "node.elotl.co/instance-max-cost: 'cheap' is not a number")
    cluster.post_event(about, "InvalidAnnotation", "another problem")
    assert len(api.list("Event", api_version="events.k8s.io/v1")) == 2
    clock.advance(601)
    cluster.post_event(about, "InvalidAnnotation", "another problem")
    assert len(api.list("Event", api_version="events.k8s.io/v1")) == 3


def test_events_fall_back_to_core_v1_when_events_k8s_io_is_not_served(api: FakeApiServer, start_cluster: Start) -> None:
    cluster = start_cluster()
    missing = api.inject(Fault(path=r"^/apis/events\.k8s\.io/", status=404, times=None))
    cluster.post_event(ObjectRef("Pod", "p", "default"), "TriggeredScaleUp", "launching g5.xlarge (spot) for pod")
    cluster.post_event(ObjectRef("Pod", "q", "default"), "TriggeredScaleUp", "launching g5.xlarge (spot) for pod")

    core = api.list("Event", api_version="v1")
    assert sorted(e["involvedObject"]["name"] for e in core) == ["p", "q"]
    assert core[0]["message"] == "launching g5.xlarge (spot) for pod" and core[0]["source"]["component"]
    assert missing.hits == 1  # the second Event went straight to core/v1


def test_an_event_that_cannot_be_posted_raises_and_is_not_deduplicated(
    api: FakeApiServer, start_cluster: Start
) -> None:
    """The caller must learn it failed (the loop retries next cycle); swallowing it lost pods' reasons."""
    cluster = start_cluster()
    api.inject(Fault(path=r"/events$", method="POST", status=500, times=None))
    with pytest.raises(KubeApiError, match="500"):
        cluster.post_event(ObjectRef("Pod", "p", "default"), "TriggeredScaleUp", "x")
    api.clear_faults()
    cluster.post_event(ObjectRef("Pod", "p", "default"), "TriggeredScaleUp", "x")  # not deduplicated: it failed
    assert len(api.list("Event", api_version="events.k8s.io/v1")) == 1
