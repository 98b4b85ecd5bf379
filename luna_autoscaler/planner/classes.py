"""Pending pods grouped into equivalence classes: pods the planner cannot tell apart are planned as one.

Twenty thousand pending pods usually come from a few hundred pod templates. Pods with the same requests, Luna
annotations, node selector/affinity and tolerations accept exactly the same nodes, so their compatible offerings
are computed once per class, and the packer moves counts, not pods. Classes that differ only in requests share a
`Signature`: the checks that do not depend on requests (annotations, selectors, taints) run once per signature.

Also decided here, per class: bin-selection or bin-packing (behaviour.md: a pod that requests a GPU, exceeds
`binSelectPodCpuThreshold`/`binSelectPodMemoryThreshold`, or carries instance annotations is bin-selected), and
the capacity types it accepts in order of preference (annotation `node.elotl.co/instance-offerings`, else
`defaultOfferings`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from luna_autoscaler.config import Config
from luna_autoscaler.models.catalog import CapacityType
from luna_autoscaler.models.constraints import PREFIX, PodConstraints, parse_constraints
from luna_autoscaler.models.pod import Pod
from luna_autoscaler.models.resources import Resources
from luna_autoscaler.models.scheduling import NodeSelector, Toleration
from luna_autoscaler.planner.types import BinKind, Unplaced


def admission_tolerations(requests: Resources) -> tuple[Toleration, ...]:
    """What the ExtendedResourceToleration admission plugin adds: `key=<resource>, Exists, NoSchedule` for each
    extended resource the pod requests. The planner assumes the plugin is on (GKE and EKS enable it), which is
    how GPU pods tolerate the GPU taint that keeps other pods off GPU nodes."""
    return tuple(Toleration(key=name, operator="Exists", effect="NoSchedule") for name in sorted(requests.extended))


@dataclass(frozen=True)
class Signature:
    """Everything about a pod that constrains its node, except how much it requests."""

    index: int
    constraints: PodConstraints
    selector: NodeSelector
    tolerations: tuple[Toleration, ...]
    bin: BinKind
    capacity_types: tuple[CapacityType, ...]  # in order of preference
    extended_names: tuple[str, ...]  # extended resources requested (GPU and others)


Run = tuple[Pod, range]  # pods `pod.member_key(i) for i in range` of one Pod value (Pod.replicas)


@dataclass
class PodClass:
    """Identical pending pods and what they share. `members` are sorted by key, a workload's replicas one member
    (Pod.replicas), so a class of a million replicas is one object and a count; `take` hands pods out in order."""

    index: int
    signature: Signature
    requests: Resources
    members: list[Pod] = field(default_factory=list)
    count: int = 0  # pods not handed out yet
    _member: int = 0  # the next pod to hand out: replica `_offset` of members[_member]
    _offset: int = 0

    def add(self, pod: Pod) -> None:
        self.members.append(pod)
        self.count += pod.count

    def take(self, n: int) -> list[Run]:
        """The next `n` pods (at most `count`), as runs of consecutive replicas of one member each."""
        runs: list[Run] = []
        n = min(n, self.count)
        self.count -= n
        while n:
            pod = self.members[self._member]
            stop = min(pod.count, self._offset + n)
            runs.append((pod, range(self._offset, stop)))
            n -= stop - self._offset
            self._member, self._offset = (self._member + 1, 0) if stop == pod.count else (self._member, stop)
        return runs


def run_keys(runs: Iterable[Run]) -> Iterator[str]:
    return (pod.member_key(i) for pod, indexes in runs for i in indexes)


def _bin(requests: Resources, constraints: PodConstraints, config: Config) -> BinKind:
    if (
        requests.gpus() > 0
        or requests.cpu_millis > config.bin_select_pod_cpu_threshold_millis
        or requests.memory_bytes > config.bin_select_pod_memory_threshold_bytes
        or constraints.any
    ):
        return BinKind.SELECT
    return BinKind.PACK


def _with_pod_slot(requests: Resources) -> Resources:
    """Every pod takes one of the node's pod slots, even when built by hand without one."""
    return requests if requests.pods else requests + Resources.of(pods=1)


def classify(pods: Iterable[Pod], config: Config) -> tuple[list[PodClass], list[Unplaced]]:
    """Group pods into classes, in a deterministic order; pods with annotation problems are unplaced."""
    signatures: dict[tuple[object, ...], Signature] = {}
    classes: dict[tuple[object, ...], PodClass] = {}
    parsed: dict[tuple[tuple[str, str], ...], tuple[PodConstraints, str | None]] = {}
    invalid: list[Unplaced] = []
    for pod in sorted(pods, key=lambda p: p.key):
        annotations = tuple(sorted((k, v) for k, v in pod.annotations.items() if k.startswith(PREFIX)))
        if annotations not in parsed:
            constraints, problems = parse_constraints(dict(annotations))
            parsed[annotations] = (constraints, "; ".join(f"invalid {p}" for p in problems) or None)
        constraints, problem = parsed[annotations]
        if problem is not None:
            invalid.extend(Unplaced(pod.member_key(i), problem) for i in range(pod.count))
            continue
        requests = _with_pod_slot(pod.requests)
        tolerations = tuple(dict.fromkeys((*pod.tolerations, *admission_tolerations(requests))))
        bin_kind = _bin(requests, constraints, config)
        sig_key = (annotations, pod.node_selector, tolerations, bin_kind, tuple(sorted(requests.extended)))
        signature = signatures.get(sig_key)
        if signature is None:
            signature = Signature(
                index=len(signatures),
                constraints=constraints,
                selector=pod.node_selector,
                tolerations=tolerations,
                bin=bin_kind,
                capacity_types=constraints.offerings or config.default_offerings,
                extended_names=tuple(sorted(requests.extended)),
            )
            signatures[sig_key] = signature
        class_key = (sig_key, requests)
        cls = classes.get(class_key)
        if cls is None:
            cls = classes[class_key] = PodClass(len(classes), signature, requests)
        cls.add(pod)
    return list(classes.values()), invalid
