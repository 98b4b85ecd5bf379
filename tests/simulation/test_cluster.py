"""The simulated cluster: kube-scheduler's rules for binding, and the Eviction API's and drain's rules."""

from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType

import pytest

from luna_autoscaler.models.pod import DO_NOT_EVICT, DaemonSet, DisruptionBudget, Node, Pod
from luna_autoscaler.models.resources import NVIDIA_GPU, Resources
from luna_autoscaler.models.scheduling import (
    MANAGED_BY,
    MANAGED_BY_VALUE,
    NodeSelector,
    Operator,
    Requirement,
    Taint,
)
from luna_autoscaler.ports import EvictionOutcome, ObjectRef
from luna_autoscaler.simulation.cluster import BudgetSpec, PodStop, SimulatedCluster
from luna_autoscaler.simulation.scheduler import Scoring

GIB = 2**30
NOW = datetime(2025, 6, 2, tzinfo=UTC)


def clock() -> datetime:
    return NOW


def node(
    name: str, cpu: int = 4000, memory: int = 16 * GIB, *, gpus: int = 0, owned: bool = True, **kw: object
) -> Node:
    labels = {"kubernetes.io/hostname": name, **(kw.pop("labels", {}) or {})}  # type: ignore[dict-item]
    if owned:
        labels[MANAGED_BY] = MANAGED_BY_VALUE
    extended = {NVIDIA_GPU: gpus} if gpus else None
    return Node(
        name=name,
        labels=MappingProxyType(labels),
        allocatable=Resources.of(cpu_millis=cpu, memory_bytes=memory, pods=110, extended=extended),
        ready=kw.pop("ready", True),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def pod(name: str, cpu: int = 1000, memory: int = GIB, **kw: object) -> Pod:
    extended = kw.pop("extended", None)
    return Pod(
        namespace="default",
        name=name,
        uid=name,
        requests=Resources.of(cpu_millis=cpu, memory_bytes=memory, pods=1, extended=extended),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


class Recorder:
    def __init__(self) -> None:
        self.bound: list[tuple[str, str]] = []
        self.stopped: list[tuple[str, PodStop]] = []

    def pod_bound(self, pod: Pod, node: Node, at: datetime) -> None:
        self.bound.append((pod.key, node.name))

    def pod_stopped(self, pod: Pod, cause: PodStop, at: datetime) -> None:
        self.stopped.append((pod.key, cause))


def test_binds_a_pod_to_a_node_that_fits_and_marks_the_rest_unschedulable() -> None:
    cluster = SimulatedCluster(clock)
    cluster.register_node(node("n1", cpu=2000))
    cluster.create_pod(pod("small", cpu=1500))
    cluster.create_pod(pod("big", cpu=3000))

    assert cluster.schedule() == (("default/small", "n1"),)
    assert cluster.pods["default/small"].node_name == "n1"
    assert cluster.pods["default/small"].phase == "Running"
    big = cluster.pods["default/big"]
    assert big.node_name == "" and big.unschedulable
    assert cluster.used("n1").cpu_millis == 1500


def test_resources_already_used_count_against_the_node() -> None:
    cluster = SimulatedCluster(clock)
    cluster.register_node(node("n1", cpu=2000))
    cluster.create_pod(pod("a", cpu=1200))
    cluster.create_pod(pod("b", cpu=1200))
    cluster.schedule()
    assert [p.node_name for p in (cluster.pods["default/a"], cluster.pods["default/b"])] == ["n1", ""]


def test_unschedulable_pods_are_retried_when_a_node_joins() -> None:
    cluster = SimulatedCluster(clock)
    cluster.create_pod(pod("p"))
    assert cluster.schedule() == ()
    assert cluster.pods["default/p"].unschedulable
    cluster.register_node(node("n1"))
    assert cluster.schedule() == (("default/p", "n1"),)
    assert not cluster.pods["default/p"].unschedulable


def test_untolerated_taint_keeps_pods_off_and_gpu_pods_are_admitted_with_a_toleration() -> None:
    cluster = SimulatedCluster(clock)
    cluster.register_node(node("gpu", gpus=1, taints=(Taint(NVIDIA_GPU, "present", "NoSchedule"),)))
    cluster.create_pod(pod("cpu-only"))
    cluster.create_pod(pod("trainer", extended={NVIDIA_GPU: 1}))
    assert cluster.schedule() == (("default/trainer", "gpu"),)
    assert cluster.pods["default/cpu-only"].unschedulable


def test_without_extended_resource_toleration_a_gpu_pod_needs_its_own_toleration() -> None:
    cluster = SimulatedCluster(clock, extended_resource_toleration=False)
    cluster.register_node(node("gpu", gpus=1, taints=(Taint(NVIDIA_GPU, "present", "NoSchedule"),)))
    cluster.create_pod(pod("trainer", extended={NVIDIA_GPU: 1}))
    assert cluster.schedule() == ()


def test_node_selector_and_required_affinity_are_honoured() -> None:
    cluster = SimulatedCluster(clock)
    cluster.register_node(node("a", labels={"zone": "a"}))
    cluster.register_node(node("b", labels={"zone": "b"}))
    wants_b = NodeSelector(selector=(Requirement("zone", Operator.IN, ("b",)),))
    wants_c = NodeSelector(selector=(Requirement("zone", Operator.IN, ("c",)),))
    cluster.create_pod(pod("to-b", node_selector=wants_b))
    cluster.create_pod(pod("to-c", node_selector=wants_c))
    assert cluster.schedule() == (("default/to-b", "b"),)
    assert cluster.pods["default/to-c"].unschedulable


def test_cordoned_and_not_ready_nodes_take_no_pods() -> None:
    cluster = SimulatedCluster(clock)
    cluster.register_node(node("cordoned"))
    cluster.register_node(node("booting", ready=False))
    cluster.cordon("cordoned")
    cluster.create_pod(pod("p"))
    assert cluster.schedule() == ()


def test_gpus_appearing_late_let_a_waiting_gpu_pod_bind() -> None:
    cluster = SimulatedCluster(clock)
    fresh = cluster.register_node(node("gpu"))  # device plugin not started: no GPU allocatable
    cluster.create_pod(pod("trainer", extended={NVIDIA_GPU: 1}))
    assert cluster.schedule() == ()
    cluster.set_allocatable("gpu", fresh.allocatable + Resources.of(extended={NVIDIA_GPU: 1}))
    assert cluster.schedule() == (("default/trainer", "gpu"),)


@pytest.mark.parametrize(
    ("scoring", "expected"), [(Scoring.LEAST_ALLOCATED, "empty"), (Scoring.MOST_ALLOCATED, "busy")]
)
def test_scoring_spreads_or_packs(scoring: Scoring, expected: str) -> None:
    cluster = SimulatedCluster(clock, scoring=scoring)
    cluster.register_node(node("busy"))
    cluster.create_pod(
        pod("first", node_selector=NodeSelector((Requirement("kubernetes.io/hostname", Operator.IN, ("busy",)),)))
    )
    cluster.schedule()
    cluster.register_node(node("empty"))
    cluster.create_pod(pod("second"))
    assert dict(cluster.schedule())["default/second"] == expected


def test_daemonset_pods_land_on_matching_nodes_at_registration() -> None:
    gpu_only = DaemonSet(
        "gpu-operator",
        "dcgm",
        Resources.of(cpu_millis=100, pods=1),
        node_selector=NodeSelector((Requirement("gpu", Operator.IN, ("true",)),)),
    )
    cluster = SimulatedCluster(clock, daemonsets=(gpu_only,))
    cluster.register_node(node("cpu-node"))
    cluster.register_node(node("gpu-node", labels={"gpu": "true"}))
    daemon_pods = [p for p in cluster.pods.values() if p.is_daemonset_pod]
    assert [(p.name, p.node_name) for p in daemon_pods] == [("dcgm-gpu-node", "gpu-node")]
    assert cluster.used("gpu-node").cpu_millis == 100


def bound_cluster(
    *pods: Pod, observer: Recorder | None = None, budgets: tuple[BudgetSpec, ...] = ()
) -> SimulatedCluster:
    cluster = SimulatedCluster(clock, observer=observer, budgets=budgets)
    cluster.register_node(node("n1", cpu=64000, memory=256 * GIB))
    for p in pods:
        cluster.create_pod(p)
    cluster.schedule()
    return cluster


def test_eviction_removes_the_pod_and_tells_the_observer() -> None:
    recorder = Recorder()
    cluster = bound_cluster(pod("web"), observer=recorder)
    assert cluster.evict(cluster.pods["default/web"]) is EvictionOutcome.EVICTED
    assert "default/web" not in cluster.pods
    assert recorder.stopped == [("default/web", PodStop.EVICTED)]
    assert cluster.used("n1").cpu_millis == 0
    assert cluster.evict(pod("web")) is EvictionOutcome.GONE


def test_a_pdb_at_its_minimum_blocks_eviction_until_a_replica_is_healthy_again() -> None:
    labels = MappingProxyType({"app": "db"})
    budget = BudgetSpec(DisruptionBudget("default", "db", labels), min_available=1)
    cluster = bound_cluster(pod("db-0", labels=labels), pod("db-1", labels=labels), budgets=(budget,))
    assert cluster.snapshot().pdbs[0].disruptions_allowed == 1
    assert cluster.evict(cluster.pods["default/db-0"]) is EvictionOutcome.EVICTED
    assert cluster.snapshot().pdbs[0].disruptions_allowed == 0
    assert cluster.evict(cluster.pods["default/db-1"]) is EvictionOutcome.BLOCKED
    assert "default/db-1" in cluster.pods
    cluster.create_pod(pod("db-2", labels=labels))
    cluster.schedule()
    assert cluster.evict(cluster.pods["default/db-1"]) is EvictionOutcome.EVICTED


def test_max_unavailable_counts_pending_replicas_as_unavailable() -> None:
    labels = MappingProxyType({"app": "api"})
    budget = BudgetSpec(DisruptionBudget("default", "api", labels), max_unavailable=1)
    cluster = bound_cluster(pod("api-0", labels=labels), pod("api-1", labels=labels), budgets=(budget,))
    cluster.create_pod(pod("api-2", labels=labels, cpu=999_000))  # never fits: stays pending
    cluster.schedule()
    assert cluster.evict(cluster.pods["default/api-0"]) is EvictionOutcome.BLOCKED


def test_evicting_a_do_not_evict_pod_is_recorded_as_a_violation_unless_the_node_is_being_reclaimed() -> None:
    keep = MappingProxyType({DO_NOT_EVICT: "true"})
    cluster = bound_cluster(pod("keep", annotations=keep), pod("keep-too", annotations=keep))
    cluster.evict(cluster.pods["default/keep"])
    assert [v.rule for v in cluster.violations] == ["evicted a pod that must not be evicted"]
    cluster.mark_interrupted("n1")
    cluster.evict(cluster.pods["default/keep-too"])
    assert len(cluster.violations) == 1


def test_touching_a_node_the_autoscaler_does_not_own_is_a_violation() -> None:
    cluster = SimulatedCluster(clock)
    cluster.register_node(node("system", owned=False))
    cluster.register_node(node("ours"))
    cluster.cordon("ours")
    cluster.label_node("ours", {"x": "y"})
    assert cluster.violations == []
    cluster.cordon("system")
    cluster.delete_node("system")
    assert [v.detail for v in cluster.violations] == ["cordon system", "delete system"]


def test_deleting_a_node_stops_its_pods_and_drops_its_daemonset_pods() -> None:
    recorder = Recorder()
    daemon = DaemonSet("kube-system", "proxy", Resources.of(cpu_millis=100, pods=1))
    cluster = SimulatedCluster(clock, observer=recorder, daemonsets=(daemon,))
    cluster.register_node(node("n1"))
    cluster.create_pod(pod("web"))
    cluster.schedule()
    cluster.delete_node("n1")
    assert cluster.nodes == {}
    assert cluster.pods == {}
    assert ("default/web", PodStop.NODE_DELETED) in recorder.stopped


def test_a_lost_machine_takes_its_pods_with_it() -> None:
    recorder = Recorder()
    cluster = bound_cluster(pod("web"), observer=recorder)
    cluster.lose_node("n1")
    assert recorder.stopped == [("default/web", PodStop.NODE_LOST)]
    assert cluster.violations == []


def test_snapshot_is_what_the_loop_reads_and_events_are_kept() -> None:
    cluster = bound_cluster(pod("web"))
    cluster.create_pod(pod("waiting", cpu=999_000))
    cluster.schedule()
    snap = cluster.snapshot()
    assert {p.name for p in snap.pods} == {"web", "waiting"}
    assert [p.name for p in snap.pods if p.unschedulable] == ["waiting"]
    assert [n.name for n in snap.nodes] == ["n1"]
    cluster.post_event(ObjectRef("Pod", "waiting", "default"), "NotTriggerScaleUp", "no offering fits", warning=True)
    assert cluster.events[0].reason == "NotTriggerScaleUp"
    cluster.create_pod(pod("another"))
    assert cluster.snapshot().resource_version != snap.resource_version
