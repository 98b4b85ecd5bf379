"""Drain a node before removing it: check for blockers, cordon, evict through the Eviction API, report what is left.

Order matters. Pods that must not be evicted (pod.elotl.co/do-not-evict=true,
cluster-autoscaler.kubernetes.io/safe-to-evict=false, karpenter.sh/do-not-disrupt=true) are looked for *before*
cordoning, so a node that cannot be removed is left untouched and the reason reads like cluster-autoscaler's
("Node X cannot be removed because pod Y ..."); they are looked for again after the cordon, for pods that landed in
between. DaemonSet pods (their controller would put them back, and they die with the node) and mirror pods (the
kubelet owns them) are skipped. A 429 means a PodDisruptionBudget allows no disruption now: those pods are retried
with backoff until the deadline, and whatever is still there is returned with the reason, for the caller to log,
put in an Event, and retry in a later cycle. Drain never deletes pods directly: the Eviction API is what keeps
PDBs honoured.

It needs only the `Cluster` port, so it drives the real adapter and any fake the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from luna_autoscaler.kube.backoff import Backoff
from luna_autoscaler.kube.clock import Sleeper
from luna_autoscaler.kube.rest import KubeApiError
from luna_autoscaler.models.pod import Pod
from luna_autoscaler.ports import Clock, Cluster, EvictionOutcome

PDB_BLOCKED = "a PodDisruptionBudget allows no disruption now (HTTP 429)"


@dataclass(frozen=True, slots=True)
class DrainResult:
    node_name: str
    evicted: tuple[str, ...] = ()  # pod keys whose eviction was accepted (or that were already gone)
    skipped: tuple[tuple[str, str], ...] = ()  # (pod key, why it is not evicted): DaemonSet, mirror, terminating
    remaining: tuple[tuple[str, str], ...] = ()  # (pod key, why it is still there)
    blocked_by: str | None = None  # a pod that forbids eviction: the node must not be removed
    cordoned: bool = False

    @property
    def complete(self) -> bool:
        """Every evictable pod is gone or going: the node may be deleted."""
        return self.blocked_by is None and not self.remaining


def _skip_reason(pod: Pod) -> str | None:
    if pod.is_daemonset_pod:
        return "DaemonSet pod"
    if pod.is_mirror_pod:
        return "mirror (static) pod"
    if pod.deleting:
        return "already terminating"
    return None


def _blocker(node_name: str, pods: tuple[Pod, ...]) -> str | None:
    for pod in pods:
        why = pod.blocks_eviction
        if why is not None and _skip_reason(pod) is None:
            return f"Node {node_name} cannot be removed because pod {pod.key} has {why}"
    return None


def drain_node(
    cluster: Cluster,
    node_name: str,
    *,
    clock: Clock,
    sleep: Sleeper,
    deadline_seconds: float = 300.0,
    backoff: Backoff | None = None,
) -> DrainResult:
    """Drain `node_name` (see the module docstring). Never raises for a pod, only reports; raises KubeApiError if
    the node itself cannot be cordoned (gone, or the API keeps failing)."""
    policy = backoff or Backoff(initial_seconds=1.0, max_seconds=20.0)
    pods = cluster.snapshot().pods_on(node_name)
    blocked = _blocker(node_name, pods)
    if blocked is not None:
        return DrainResult(
            node_name,
            blocked_by=blocked,
            remaining=tuple((p.key, "not evicted: drain blocked") for p in pods if _skip_reason(p) is None),
        )
    cluster.cordon(node_name)
    pods = cluster.snapshot().pods_on(node_name)  # pods bound between the first look and the cordon
    skipped = tuple((p.key, why) for p in pods if (why := _skip_reason(p)) is not None)
    pending = [p for p in pods if _skip_reason(p) is None]
    blocked = _blocker(node_name, tuple(pending))
    if blocked is not None:
        return DrainResult(
            node_name,
            skipped=skipped,
            blocked_by=blocked,
            cordoned=True,
            remaining=tuple((p.key, "not evicted: drain blocked") for p in pending),
        )

    deadline = clock() + timedelta(seconds=deadline_seconds)
    evicted: list[str] = []
    why_left: dict[str, str] = {}
    attempt = 0
    while True:
        still: list[Pod] = []
        for pod in pending:
            try:
                outcome = cluster.evict(pod)
            except KubeApiError as e:
                still.append(pod)
                why_left[pod.key] = str(e)
                continue
            if outcome is EvictionOutcome.BLOCKED:
                still.append(pod)
                why_left[pod.key] = PDB_BLOCKED
            else:
                evicted.append(pod.key)
                why_left.pop(pod.key, None)
        pending = still
        if not pending:
            break
        delay = policy.delay_seconds(attempt)
        if clock() + timedelta(seconds=delay) > deadline:
            break
        sleep(delay)
        attempt += 1
    return DrainResult(
        node_name,
        evicted=tuple(evicted),
        skipped=skipped,
        remaining=tuple((p.key, why_left[p.key]) for p in pending),
        cordoned=True,
    )
