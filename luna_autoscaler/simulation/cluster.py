"""An in-memory Kubernetes cluster that implements the `Cluster` port, with a scheduler inside.

The reconcile loop must run unchanged against it (`luna-autoscaler simulate`, and the loop's own tests), so it
behaves like the parts of Kubernetes the loop depends on and nothing more:

- the API server: pods and nodes as the loop reads them (`snapshot`), label/taint/cordon/delete of nodes,
  Events, and the Eviction API, which refuses with BLOCKED (HTTP 429) when a PodDisruptionBudget has no
  disruption left; ExtendedResourceToleration admission, which gives a pod that requests `nvidia.com/gpu`
  a toleration for the taint of that name, as GKE and AKS do;
- kube-scheduler (`schedule()`, see `simulation.scheduler`): binds pending pods to ready nodes that fit, and
  marks the others PodScheduled=False/Unschedulable, which is what the loop acts on; with the scenario's
  PodGroups it is a gang scheduler (a gang binds whole or not at all, `simulation.gangs`, which also counts the
  GPU-hours partial gangs waste), and with its KAI queues it binds no pod past its queue's limit;
- the WorkloadSource port: those PodGroups and queues, as the loop reads them from the CRDs;
- the DaemonSet controller (one pod per matching node) and the disruption controller (a PDB's
  disruptionsAllowed recomputed from its healthy pods).

Controllers that recreate pods (Deployments, Jobs) are the observer's business (`PodObserver`): the cluster
says a pod stopped and why, the workload decides whether a replacement comes.

It also keeps the safety record the simulation reports: anything the autoscaler did that it must never do
(touch a node it does not own, evict or delete the node of a do-not-evict pod outside a spot interruption).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol

from luna_autoscaler.config import Config
from luna_autoscaler.models.pod import DaemonSet, DisruptionBudget, Node, OwnerRef, Pod
from luna_autoscaler.models.resources import ZERO, Resources
from luna_autoscaler.models.scheduling import MANAGED_BY, MANAGED_BY_VALUE, Taint, Toleration, tolerates_all
from luna_autoscaler.models.workloads import (
    Condition,
    Gang,
    PodGroup,
    ProvisioningRequest,
    Queue,
    Workloads,
    gangs,
)
from luna_autoscaler.planner.queues import admit
from luna_autoscaler.ports import Clock, ClusterSnapshot, EvictionOutcome, ObjectRef
from luna_autoscaler.simulation.gangs import PartialGangs, place_gang
from luna_autoscaler.simulation.scheduler import Scoring, choose_node, unfit_reason


class PodStop(StrEnum):
    """Why a pod left the cluster."""

    COMPLETED = "completed"  # its work is done (trace deletion time)
    EVICTED = "evicted"  # Eviction API (drain)
    NODE_DELETED = "node-deleted"  # its Node object was deleted under it (pod garbage collection)
    NODE_LOST = "node-lost"  # the machine went away (spot reclaim, instance terminated before its node)


class PodObserver(Protocol):
    """The workload side: told when a pod starts running and when it stops."""

    def pod_bound(self, pod: Pod, node: Node, at: datetime) -> None: ...

    def pod_stopped(self, pod: Pod, cause: PodStop, at: datetime) -> None: ...


class _NoObserver:
    def pod_bound(self, pod: Pod, node: Node, at: datetime) -> None:
        pass

    def pod_stopped(self, pod: Pod, cause: PodStop, at: datetime) -> None:
        pass


@dataclass(frozen=True, slots=True)
class BudgetSpec:
    """A PodDisruptionBudget's spec: whom it covers (`selector`) and minAvailable or maxUnavailable (counts)."""

    selector: DisruptionBudget
    min_available: int | None = None
    max_unavailable: int | None = None


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    at: datetime
    about: ObjectRef
    reason: str
    message: str
    warning: bool


@dataclass(frozen=True, slots=True)
class SafetyViolation:
    at: datetime
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.at.isoformat()} {self.rule}: {self.detail}"


def owned(node: Node) -> bool:
    """A node the autoscaler launched (and so may cordon, drain and delete)."""
    return node.labels.get(MANAGED_BY) == MANAGED_BY_VALUE


def admitted(pod: Pod) -> Pod:
    """ExtendedResourceToleration admission: tolerate `<resource>:NoSchedule` for each extended resource asked."""
    have = {t.key for t in pod.tolerations if t.operator == "Exists"}
    extra = tuple(
        Toleration(key=name, operator="Exists", effect="NoSchedule")
        for name in pod.requests.extended
        if name not in have
    )
    return dataclasses.replace(pod, tolerations=pod.tolerations + extra) if extra else pod


class SimulatedCluster:
    """The `Cluster` port over in-memory state; the simulation drives the rest of the world through the
    public methods below the port's."""

    def __init__(
        self,
        clock: Clock,
        *,
        config: Config | None = None,
        scoring: Scoring = Scoring.LEAST_ALLOCATED,
        daemonsets: Iterable[DaemonSet] = (),
        budgets: Iterable[BudgetSpec] = (),
        observer: PodObserver | None = None,
        extended_resource_toleration: bool = True,
        pod_groups: Iterable[PodGroup] = (),
        queues: Iterable[Queue] = (),
    ) -> None:
        self._pod_groups = tuple(pod_groups)
        self._queues = tuple(queues)
        self.partial_gangs = PartialGangs()
        self._clock = clock
        self._config = config
        self._scoring = scoring
        self._daemonsets = tuple(daemonsets)
        self._budgets = tuple(budgets)
        self._observer: PodObserver = observer or _NoObserver()
        self._admission = extended_resource_toleration
        self._pods: dict[str, Pod] = {}
        self._nodes: dict[str, Node] = {}
        self._used: dict[str, Resources] = {}
        self._untried: set[str] = set()  # pending pods the scheduler has not looked at yet
        self._capacity_changed = False  # whether Unschedulable pods deserve another try
        self._interrupted: set[str] = set()
        self._version = 0
        self.events: list[RecordedEvent] = []
        self.violations: list[SafetyViolation] = []

    # ---- the Cluster port -------------------------------------------------------------------------------

    def snapshot(self) -> ClusterSnapshot:
        return ClusterSnapshot(
            pods=tuple(self._pods.values()),
            nodes=tuple(self._nodes.values()),
            daemonsets=self._daemonsets,
            pdbs=tuple(
                dataclasses.replace(b.selector, disruptions_allowed=self._disruptions_allowed(b)) for b in self._budgets
            ),
            resource_version=str(self._version),
        )

    def config(self) -> Config | None:
        return self._config

    # ---- the WorkloadSource port: the scenario's PodGroups and KAI queues --------------------------------

    def workloads(self) -> Workloads:
        return Workloads(pod_groups=self._pod_groups, queues=self._queues)

    def set_conditions(self, request: ProvisioningRequest, conditions: Sequence[Condition]) -> None:
        """No ProvisioningRequests are simulated."""

    def label_node(self, node_name: str, labels: Mapping[str, str]) -> None:
        node = self._touch(node_name, "label")
        if node is not None:
            self._put_node(dataclasses.replace(node, labels=MappingProxyType({**node.labels, **labels})))
            self._capacity_changed = True

    def taint_node(self, node_name: str, taint: Taint) -> None:
        node = self._touch(node_name, "taint")
        if node is not None and taint not in node.taints:
            self._put_node(dataclasses.replace(node, taints=(*node.taints, taint)))

    def cordon(self, node_name: str) -> None:
        node = self._touch(node_name, "cordon")
        if node is not None:
            self._put_node(dataclasses.replace(node, unschedulable=True))

    def evict(self, pod: Pod) -> EvictionOutcome:
        current = self._pods.get(pod.key)
        if current is None or (pod.uid and current.uid != pod.uid):
            return EvictionOutcome.GONE
        node = self._nodes.get(current.node_name)
        if node is not None and not owned(node):
            self._violation("touched a node it does not own", f"evicted {pod.key} from {node.name}")
        if current.blocks_eviction and current.node_name not in self._interrupted:
            self._violation("evicted a pod that must not be evicted", f"{pod.key} ({current.blocks_eviction})")
        budgets = [b for b in self._budgets if b.selector.covers(current)]
        if any(self._disruptions_allowed(b) <= 0 for b in budgets):
            return EvictionOutcome.BLOCKED
        self._stop(current, PodStop.EVICTED)
        if current.is_daemonset_pod and node is not None:
            self._start_daemon_pods(node)
        return EvictionOutcome.EVICTED

    def delete_node(self, node_name: str) -> None:
        node = self._touch(node_name, "delete")
        if node is None:
            return
        if node_name not in self._interrupted:
            for pod in self._pods_on(node_name):
                if pod.blocks_eviction and not pod.is_daemonset_pod:
                    self._violation("deleted the node of a pod that must not be evicted", f"{pod.key} on {node_name}")
        self._remove_node(node_name, PodStop.NODE_DELETED)

    def post_event(self, about: ObjectRef, reason: str, message: str, *, warning: bool = False) -> None:
        self.events.append(RecordedEvent(self._clock(), about, reason, message, warning))

    # ---- the rest of the world --------------------------------------------------------------------------

    def create_pod(self, pod: Pod) -> Pod:
        """A new pending pod, as a controller or a user creates it (admission applied, not yet scheduled)."""
        pod = dataclasses.replace(
            admitted(pod) if self._admission else pod,
            node_name="",
            phase="Pending",
            unschedulable=False,
            created_at=pod.created_at or self._clock(),
        )
        self._pods[pod.key] = pod
        self._untried.add(pod.key)
        self._version += 1
        return pod

    def complete_pod(self, key: str) -> Pod | None:
        """The pod's work is done: it leaves the cluster (and frees its node's resources)."""
        pod = self._pods.get(key)
        if pod is not None:
            self._stop(pod, PodStop.COMPLETED)
        return pod

    def register_node(self, node: Node) -> Node:
        """A kubelet registered this Node; DaemonSet pods that match it are bound to it at once."""
        self._put_node(node)
        self._used.setdefault(node.name, ZERO)
        self._capacity_changed = True
        self._start_daemon_pods(node)
        return node

    def set_allocatable(self, node_name: str, allocatable: Resources) -> None:
        """A device plugin reported (GPUs appear in allocatable some time after the node is Ready)."""
        node = self._nodes.get(node_name)
        if node is not None:
            self._put_node(dataclasses.replace(node, allocatable=allocatable))
            self._capacity_changed = True

    def mark_interrupted(self, node_name: str) -> None:
        """The machine under this node will be reclaimed: its pods go anyway, so draining them is right."""
        self._interrupted.add(node_name)

    def lose_node(self, node_name: str) -> None:
        """The machine is gone (spot reclaim, instance terminated): the node and its pods go with it."""
        if node_name in self._nodes:
            self._remove_node(node_name, PodStop.NODE_LOST)

    def schedule(self) -> tuple[tuple[str, str], ...]:
        """One scheduler pass: bind what fits, mark the rest Unschedulable. Returns (pod key, node) bindings.

        Like kube-scheduler, pods already found Unschedulable are retried only after an event that may make
        room (a node added or relabelled, GPUs reported, a pod gone); new pods are always tried.
        """
        self.partial_gangs.advance(self._clock().timestamp())
        retry = self._capacity_changed
        self._capacity_changed = False
        pending = [p for p in self._pods.values() if not p.node_name and not p.deleting]
        found = gangs(self._pods.values(), pending, self._pod_groups)
        gang_of = {p.key: g for g in found for p in g.pending}
        # A new member makes its whole gang worth another try.
        with_new = {p.key for g in found if any(m.key in self._untried for m in g.pending) for p in g.pending}
        queue = [p for p in pending if retry or p.key in self._untried or p.key in with_new]
        queue.sort(key=lambda p: (-p.priority, p.created_at or datetime.min, p.key))
        self._untried.clear()
        if self._queues:  # KAI: a pod its queue would take past a limit is not bound, whatever fits
            bound = [p for p in self._pods.values() if p.node_name]
            allowed = {p.key for p in admit(queue, found, bound, self._queues, self._pod_groups).admitted}
        else:
            allowed = {p.key for p in queue}
        bindings: list[tuple[str, str]] = []
        done: set[str] = set()
        for pod in queue:
            gang = gang_of.get(pod.key)
            if gang is not None:
                if gang.key not in done:
                    done.add(gang.key)
                    bindings += self._schedule_gang(gang, allowed)
                continue
            node = None
            if pod.key in allowed:
                node = choose_node(pod, ((n, self._used[n.name]) for n in self._nodes.values()), self._scoring)
            if node is None:
                self._unschedulable(pod)
                continue
            self._bind(pod, node)
            bindings.append((pod.key, node.name))
        self.partial_gangs.gone(g.key for g in found)
        return tuple(bindings)

    def _schedule_gang(self, gang: Gang, allowed: set[str]) -> list[tuple[str, str]]:
        """All of the gang's pods that fit, if at least `needed` do; else none (simulation.gangs)."""
        if all(p.key in allowed for p in gang.pending):
            placed, held = place_gang(gang, self._nodes.values(), self._used, self._scoring)
        else:
            placed, held = {}, 0.0
        if not placed:
            self.partial_gangs.held(gang.key, held)
            for member in gang.pending:
                self._unschedulable(member)
            return []
        self.partial_gangs.bound(gang.key)
        for member in gang.pending:
            node = placed.get(member.key)
            if node is None:
                self._unschedulable(member)
            else:
                self._bind(self._pods[member.key], self._nodes[node.name])
        return [(k, n.name) for k, n in placed.items()]

    def _unschedulable(self, pod: Pod) -> None:
        current = self._pods[pod.key]
        if not current.unschedulable:
            self._pods[pod.key] = dataclasses.replace(current, unschedulable=True)
            self._version += 1

    def finish(self) -> None:
        """The run is over: gangs still partial wasted what they held."""
        self.partial_gangs.finish(self._clock().timestamp())

    # ---- reading ----------------------------------------------------------------------------------------

    @property
    def pods(self) -> Mapping[str, Pod]:
        return MappingProxyType(self._pods)

    @property
    def nodes(self) -> Mapping[str, Node]:
        return MappingProxyType(self._nodes)

    def used(self, node_name: str) -> Resources:
        """Requests of the pods bound to the node."""
        return self._used.get(node_name, ZERO)

    # ---- internals --------------------------------------------------------------------------------------

    def _touch(self, node_name: str, verb: str) -> Node | None:
        node = self._nodes.get(node_name)
        if node is not None and not owned(node):
            self._violation("touched a node it does not own", f"{verb} {node_name}")
        return node

    def _violation(self, rule: str, detail: str) -> None:
        self.violations.append(SafetyViolation(self._clock(), rule, detail))

    def _put_node(self, node: Node) -> None:
        self._version += 1
        self._nodes[node.name] = dataclasses.replace(node, resource_version=str(self._version))

    def _pods_on(self, node_name: str) -> list[Pod]:
        return [p for p in self._pods.values() if p.node_name == node_name]

    def _bind(self, pod: Pod, node: Node) -> None:
        bound = dataclasses.replace(pod, node_name=node.name, phase="Running", unschedulable=False)
        self._pods[pod.key] = bound
        self._used[node.name] = self._used[node.name] + pod.requests
        self._version += 1
        self._observer.pod_bound(bound, node, self._clock())

    def _stop(self, pod: Pod, cause: PodStop) -> None:
        del self._pods[pod.key]
        self._untried.discard(pod.key)
        if pod.node_name in self._used:
            self._used[pod.node_name] = self._used[pod.node_name] - pod.requests
            self._capacity_changed = True
        self._version += 1
        self._observer.pod_stopped(pod, cause, self._clock())

    def _remove_node(self, node_name: str, cause: PodStop) -> None:
        for pod in self._pods_on(node_name):
            self._stop(pod, cause)
        del self._nodes[node_name]
        del self._used[node_name]
        self._capacity_changed = True  # a partial gang that had a place on it has less now
        self._interrupted.discard(node_name)
        self._version += 1

    def _start_daemon_pods(self, node: Node) -> None:
        present = {p.name for p in self._pods_on(node.name)}
        for ds in self._daemonsets:
            name = f"{ds.name}-{node.name}"
            if name in present:
                continue
            if not ds.node_selector.matches(node.labels) or tolerates_all(ds.tolerations, node.taints) is not None:
                continue
            pod = Pod(
                namespace=ds.namespace,
                name=name,
                uid=f"{ds.namespace}/{name}",
                requests=ds.requests,
                node_selector=ds.node_selector,
                tolerations=ds.tolerations,
                owners=(OwnerRef("DaemonSet", ds.name, controller=True),),
                created_at=self._clock(),
            )
            if unfit_reason(pod, dataclasses.replace(node, unschedulable=False), self._used[node.name]) is None:
                self._pods[pod.key] = pod
                self._bind(pod, node)

    def _disruptions_allowed(self, budget: BudgetSpec) -> int:
        covered = [p for p in self._pods.values() if budget.selector.covers(p)]
        healthy = sum(1 for p in covered if p.node_name and p.phase == "Running")
        if budget.min_available is not None:
            return max(0, healthy - budget.min_available)
        if budget.max_unavailable is not None:
            return max(0, healthy - (len(covered) - budget.max_unavailable))
        return healthy
