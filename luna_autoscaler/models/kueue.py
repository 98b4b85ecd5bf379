"""Kueue's ClusterQueues and LocalQueues, as values, and how they map onto the queue model admission evaluates.

A pod names its LocalQueue (namespaced) with the label `kueue.x-k8s.io/queue-name`; the LocalQueue names its
ClusterQueue; the ClusterQueue has, per resource and flavor, a `nominalQuota`, and, when it is in a `cohort`,
may borrow its cohort's unused quota up to `borrowingLimit` (unlimited when unset) and lends at most
`lendingLimit` of its own (all of it when unset). Kueue keeps the pod behind the `kueue.x-k8s.io/admission`
scheduling gate until the ClusterQueue admits its workload.

As a queue tree (`Queue`, planner/queues.py): a ClusterQueue is a queue limited to nominal + borrowing limit
(nominal alone without a cohort) whose parent is its cohort; the cohort is limited to the sum of its
ClusterQueues' nominal quotas, and each ClusterQueue's non-lendable quota (nominal - lendingLimit) is reserved:
counted as used at the cohort even while idle. So a ClusterQueue borrows only what the others leave unused and
lend. Simplifications, all on the side of buying when Kueue may not admit, never the other way: flavors are
summed per resource (the autoscaler plans the node type; Kueue picks the flavor), resources other than CPU,
memory and `nvidia.com/gpu` are not evaluated, and preemption, fair sharing and hierarchical Cohort objects are
not modelled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from luna_autoscaler.errors import ManifestError, QuantityError
from luna_autoscaler.models.manifest import _map, namespace_and_name
from luna_autoscaler.models.pod import Pod
from luna_autoscaler.models.quantity import parse_quantity
from luna_autoscaler.models.resources import CPU, MEMORY, NVIDIA_GPU
from luna_autoscaler.models.workloads import QUEUE_RESOURCES, Queue, QueueResource, queue_demand

Json = Mapping[str, Any]

KUEUE_QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
KUEUE_ADMISSION_GATE = "kueue.x-k8s.io/admission"
_RESOURCES = {NVIDIA_GPU: ("gpu", 1.0), CPU: ("cpu", 1000.0), MEMORY: ("memory", 1e-6)}  # → queue units
COHORT = "cohort "  # key prefix: a space cannot be in an object name, so a cohort never meets a ClusterQueue


@dataclass(frozen=True, slots=True)
class Quota:
    """One resource of a ClusterQueue, summed over its flavors, in queue units. None: unlimited / all."""

    nominal: float = 0.0
    borrowing_limit: float | None = None
    lending_limit: float | None = None


@dataclass(frozen=True, slots=True)
class ClusterQueue:
    name: str
    cohort: str = ""
    quotas: Mapping[str, Quota] = field(default_factory=lambda: MappingProxyType({}))
    usage: Mapping[str, float] | None = None  # status.flavorsReservation (else flavorsUsage); None: not reported
    admission_checks: tuple[str, ...] = ()
    stop_policy: str = ""


@dataclass(frozen=True, slots=True)
class LocalQueue:
    namespace: str
    name: str
    cluster_queue: str

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def _entries(value: object, where: str) -> list[Json]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ManifestError(f"{where}: expected a list, got {type(value).__name__}")
    return [_map(v, f"{where}[{i}]") for i, v in enumerate(value)]


def _amount(resource: str, value: object, where: str) -> float:
    try:
        number = parse_quantity(value)
    except QuantityError as e:
        raise ManifestError(f"{where}: {e}") from None
    if number < 0:
        raise ManifestError(f"{where}: {value!r} is negative")
    return float(number) * _RESOURCES[resource][1]


def _summed(totals: dict[str, float | None], key: str, value: float | None) -> None:
    """Add per flavor; one flavor without a limit makes the resource's limit unlimited."""
    if key in totals and totals[key] is None:
        return
    totals[key] = None if value is None else (totals.get(key) or 0.0) + value


def cluster_queue_from_manifest(obj: Json) -> ClusterQueue:
    """A `kueue.x-k8s.io/v1beta1` ClusterQueue (module docstring); a bad quantity names its place."""
    _, name = namespace_and_name(obj, "ClusterQueue", default_namespace="default")
    where = f"ClusterQueue {name}"
    spec = _map(obj.get("spec"), f"{where}: spec")
    nominal: dict[str, float | None] = {}
    borrowing: dict[str, float | None] = {}
    lending: dict[str, float | None] = {}
    for g, group in enumerate(_entries(spec.get("resourceGroups"), f"{where}: spec.resourceGroups")):
        flavors = _entries(group.get("flavors"), f"{where}: spec.resourceGroups[{g}].flavors")
        for f, flavor in enumerate(flavors):
            at = f"{where}: spec.resourceGroups[{g}].flavors[{f}]"
            for r, entry in enumerate(_entries(flavor.get("resources"), f"{at}.resources")):
                resource = str(entry.get("name") or "")
                if resource not in _RESOURCES:
                    continue
                key, here = _RESOURCES[resource][0], f"{at}.resources[{r}] ({resource})"
                _summed(nominal, key, _amount(resource, entry.get("nominalQuota", 0), f"{here}.nominalQuota"))
                for limit, totals in (("borrowingLimit", borrowing), ("lendingLimit", lending)):
                    raw = entry.get(limit)
                    _summed(totals, key, None if raw is None else _amount(resource, raw, f"{here}.{limit}"))
    quotas = {k: Quota(v or 0.0, borrowing.get(k), lending.get(k)) for k, v in nominal.items()}
    checks = [str(c) for c in spec.get("admissionChecks") or () if c]
    strategy = _map(spec.get("admissionChecksStrategy"), f"{where}: spec.admissionChecksStrategy")
    checks += [str(c.get("name")) for c in _entries(strategy.get("admissionChecks"), where) if c.get("name")]
    return ClusterQueue(
        name,
        str(spec.get("cohort") or spec.get("cohortName") or ""),
        MappingProxyType(quotas),
        _status_usage(_map(obj.get("status"), f"{where}: status"), where),
        tuple(dict.fromkeys(checks)),
        "" if spec.get("stopPolicy") in (None, "None") else str(spec["stopPolicy"]),
    )


def _status_usage(status: Json, where: str) -> Mapping[str, float] | None:
    """What the admitted workloads hold: `flavorsReservation` (admitted, pods maybe not running yet), else
    `flavorsUsage` (older Kueue reports only that)."""
    for key in ("flavorsReservation", "flavorsUsage"):
        if key not in status:
            continue
        totals = dict.fromkeys(QUEUE_RESOURCES, 0.0)
        for flavor in _entries(status.get(key), f"{where}: status.{key}"):
            for entry in _entries(flavor.get("resources"), f"{where}: status.{key}.resources"):
                resource = str(entry.get("name") or "")
                if resource in _RESOURCES:
                    totals[_RESOURCES[resource][0]] += _amount(resource, entry.get("total", 0), f"{where}: {key}")
        return MappingProxyType(totals)
    return None


def local_queue_from_manifest(obj: Json) -> LocalQueue:
    namespace, name = namespace_and_name(obj, "LocalQueue", default_namespace="default")
    spec = _map(obj.get("spec"), f"LocalQueue {namespace}/{name}: spec")
    cluster_queue = str(spec.get("clusterQueue") or "")
    if not cluster_queue:
        raise ManifestError(f"LocalQueue {namespace}/{name}: spec.clusterQueue is required")
    return LocalQueue(namespace, name, cluster_queue)


def is_kueue_gated(pod: Pod) -> bool:
    """Waiting for Kueue to admit it (and for nothing else)."""
    return pod.scheduling_gates == (KUEUE_ADMISSION_GATE,)


def _fmt(value: float) -> str:
    return f"{value:g}"


def kueue_queues(cluster_queues: Iterable[ClusterQueue]) -> tuple[Queue, ...]:
    """The ClusterQueues and their cohorts as one queue tree (module docstring)."""
    out: list[Queue] = []
    cohorts: dict[str, dict[str, float]] = {}
    for cq in cluster_queues:
        resources: dict[str, QueueResource] = {}
        for key, quota in cq.quotas.items():
            lendable = quota.nominal if quota.lending_limit is None else min(quota.nominal, quota.lending_limit)
            if not cq.cohort:
                limit: float | None = quota.nominal
                why = f"nominalQuota {_fmt(quota.nominal)}, no cohort to borrow from"
            elif quota.borrowing_limit is None:
                limit, why = None, ""
            else:
                limit = quota.nominal + quota.borrowing_limit
                why = f"nominalQuota {_fmt(quota.nominal)} + borrowingLimit {_fmt(quota.borrowing_limit)}"
            resources[key] = QueueResource(
                quota=None, limit=limit, reserved=quota.nominal - lendable if cq.cohort else 0.0, why=why
            )
            if cq.cohort:
                pool = cohorts.setdefault(cq.cohort, {})
                pool[key] = pool.get(key, 0.0) + quota.nominal
        out.append(
            Queue(
                cq.name,
                COHORT + cq.cohort if cq.cohort else "",
                MappingProxyType(resources),
                f"Kueue ClusterQueue {cq.name}",
                QueueResource(quota=None, limit=0.0, why="not covered by its resourceGroups"),
            )
        )
    lent = "its ClusterQueues' nominal quotas; quota beyond a lendingLimit counts as used"
    for cohort, pool in sorted(cohorts.items()):
        resources = {k: QueueResource(quota=None, limit=v, why=lent) for k, v in pool.items()}
        out.append(Queue(COHORT + cohort, "", MappingProxyType(resources), f"Kueue cohort {cohort}"))
    return tuple(out)


def _local_queues(local_queues: Iterable[LocalQueue]) -> dict[str, LocalQueue]:
    return {q.key: q for q in local_queues}


def kueue_usage(
    cluster_queues: Sequence[ClusterQueue], local_queues: Sequence[LocalQueue], pods: Iterable[Pod]
) -> dict[str, dict[str, float]]:
    """Each ClusterQueue's usage: its status's, else the requests of its admitted (ungated, live) pods."""
    usage = {cq.name: dict(cq.usage) for cq in cluster_queues if cq.usage is not None}
    counted = {cq.name for cq in cluster_queues if cq.usage is None}
    by_key = _local_queues(local_queues)
    for pod in pods:
        local = by_key.get(f"{pod.namespace}/{pod.labels.get(KUEUE_QUEUE_LABEL, '')}")
        if local is None or local.cluster_queue not in counted or pod.terminal or pod.scheduling_gates:
            continue
        mine = usage.setdefault(local.cluster_queue, dict.fromkeys(QUEUE_RESOURCES, 0.0))
        for resource, value in queue_demand(pod).items():
            mine[resource] += value
    return usage


def kueue_route(
    cluster_queues: Sequence[ClusterQueue], local_queues: Sequence[LocalQueue]
) -> Callable[[Pod], tuple[str, str]]:
    """A pod → (its ClusterQueue, "") to evaluate; ("", why) when Kueue will not admit it on quota alone;
    ("", "") for a pod not waiting for Kueue."""
    by_key = _local_queues(local_queues)
    by_name = {cq.name: cq for cq in cluster_queues}

    def route(pod: Pod) -> tuple[str, str]:
        if not is_kueue_gated(pod):
            return "", ""
        name = pod.labels.get(KUEUE_QUEUE_LABEL, "")
        if not name:
            return "", f"waits for Kueue's admission and names no LocalQueue (label {KUEUE_QUEUE_LABEL})"
        local = by_key.get(f"{pod.namespace}/{name}")
        if local is None:
            return "", f"Kueue LocalQueue {pod.namespace}/{name} does not exist: Kueue will not admit it"
        cq = by_name.get(local.cluster_queue)
        if cq is None:
            return "", (
                f"Kueue LocalQueue {local.key} points at ClusterQueue {local.cluster_queue}, which does not exist"
            )
        if cq.stop_policy:
            return "", f"Kueue ClusterQueue {cq.name} is stopped (stopPolicy {cq.stop_policy})"
        if cq.admission_checks:
            return "", (
                f"Kueue ClusterQueue {cq.name} admits only after its admission checks "
                f"({', '.join(cq.admission_checks)}): capacity is asked for through them (ProvisioningRequest)"
            )
        return cq.name, ""

    return route
