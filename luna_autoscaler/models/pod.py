"""Pods, nodes and the cluster objects the loop reads, as plain immutable values.

These are built from API JSON once, by `luna_autoscaler.models.manifest`, whether the JSON came from the API
server (the kube adapter) or from YAML files (`plan --pods`). Everything downstream reads these, never raw JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from luna_autoscaler.models.resources import ZERO, Resources
from luna_autoscaler.models.scheduling import NodeSelector, Taint, Toleration

_NO_LABELS: Mapping[str, str] = MappingProxyType({})

# Annotations and labels that block eviction by scale-down (behaviour.md).
DO_NOT_EVICT = "pod.elotl.co/do-not-evict"
SAFE_TO_EVICT = "cluster-autoscaler.kubernetes.io/safe-to-evict"
DO_NOT_DISRUPT = "karpenter.sh/do-not-disrupt"
IGNORE = "pod.elotl.co/ignore"
COST_ESTIMATE_GATE = "nodecostestimate"


@dataclass(frozen=True, slots=True)
class OwnerRef:
    kind: str
    name: str
    controller: bool = False


@dataclass(frozen=True, slots=True)
class Pod:
    namespace: str
    name: str
    requests: Resources
    uid: str = ""
    labels: Mapping[str, str] = field(default_factory=lambda: _NO_LABELS)
    annotations: Mapping[str, str] = field(default_factory=lambda: _NO_LABELS)
    node_selector: NodeSelector = field(default_factory=NodeSelector)
    tolerations: tuple[Toleration, ...] = ()
    owners: tuple[OwnerRef, ...] = ()
    node_name: str = ""
    phase: str = "Pending"
    unschedulable: bool = False  # PodScheduled=False, reason Unschedulable
    scheduling_gates: tuple[str, ...] = ()
    priority: int = 0
    created_at: datetime | None = None
    resource_version: str = ""
    deleting: bool = False
    # None: one pod. N: a workload's N identical replicas `name-0` ... `name-{N-1}` as one value, so that `plan`
    # on a Deployment of a million replicas never builds a million objects (the daemon always sees single pods).
    replicas: int | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def count(self) -> int:
        """How many pods this value stands for."""
        return 1 if self.replicas is None else self.replicas

    def member_key(self, i: int) -> str:
        """The key of the i-th pod this value stands for (its own key when it is one pod)."""
        return self.key if self.replicas is None else f"{self.namespace}/{self.name}-{i}"

    @property
    def is_daemonset_pod(self) -> bool:
        return any(o.kind == "DaemonSet" and o.controller for o in self.owners)

    @property
    def is_mirror_pod(self) -> bool:
        return "kubernetes.io/config.mirror" in self.annotations

    @property
    def terminal(self) -> bool:
        return self.phase in ("Succeeded", "Failed")

    @property
    def blocks_eviction(self) -> str | None:
        """Why scale-down may not evict this pod, or None."""
        if self.annotations.get(DO_NOT_EVICT, "").lower() == "true":
            return f"{DO_NOT_EVICT}=true"
        if self.annotations.get(SAFE_TO_EVICT, "").lower() == "false":
            return f"{SAFE_TO_EVICT}=false"
        if self.annotations.get(DO_NOT_DISRUPT, "").lower() == "true":
            return f"{DO_NOT_DISRUPT}=true"
        return None


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    labels: Mapping[str, str] = field(default_factory=lambda: _NO_LABELS)
    annotations: Mapping[str, str] = field(default_factory=lambda: _NO_LABELS)
    taints: tuple[Taint, ...] = ()
    capacity: Resources = ZERO
    allocatable: Resources = ZERO
    provider_id: str = ""
    ready: bool = False
    unschedulable: bool = False
    created_at: datetime | None = None
    resource_version: str = ""

    @property
    def instance_type(self) -> str:
        return self.labels.get("node.kubernetes.io/instance-type", "")


@dataclass(frozen=True, slots=True)
class DaemonSet:
    """What a DaemonSet would add to a new node: its pod template's requests and where it runs."""

    namespace: str
    name: str
    requests: Resources
    node_selector: NodeSelector = field(default_factory=NodeSelector)
    tolerations: tuple[Toleration, ...] = ()


@dataclass(frozen=True, slots=True)
class DisruptionBudget:
    """A PodDisruptionBudget reduced to what drain needs: whom it covers and how many may go now."""

    namespace: str
    name: str
    match_labels: Mapping[str, str]
    match_expressions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    disruptions_allowed: int = 0

    def covers(self, pod: Pod) -> bool:
        if pod.namespace != self.namespace:
            return False
        if any(pod.labels.get(k) != v for k, v in self.match_labels.items()):
            return False
        for key, op, values in self.match_expressions:
            present = key in pod.labels
            if op == "In" and not (present and pod.labels[key] in values):
                return False
            if op == "NotIn" and present and pod.labels[key] in values:
                return False
            if op == "Exists" and not present:
                return False
            if op == "DoesNotExist" and present:
                return False
        return True
