"""Removing a node safely: cordon, evict through the Eviction API, then delete the Node and terminate it.

A drain spans cycles: evictions a PodDisruptionBudget refuses (HTTP 429) are retried with backoff, evicted pods
are given their termination grace before the node goes, and a pod that must not be evicted holds a scale-down
drain (reported once) while an interruption drain evicts everything, because the cloud takes the node anyway.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from luna_autoscaler.backoff import Backoff
from luna_autoscaler.models.pod import Pod
from luna_autoscaler.models.scheduling import Taint
from luna_autoscaler.observability.metrics import Metrics
from luna_autoscaler.ports import Cluster, EvictionOutcome, NodeProvider
from luna_autoscaler.reconcile.report import RemovalSummary
from luna_autoscaler.reconcile.scale_down import BlockReports
from luna_autoscaler.reconcile.view import ClusterView, eviction_blocker, stays_with_node

log = structlog.get_logger("luna_autoscaler.reconcile")

DRAIN_BACKOFF = Backoff(initial_seconds=10.0, max_seconds=300.0, jitter=0.0)
DRAINING = Taint("node.elotl.co/draining", "true", "NoSchedule")
"""Put on a node with its cordon: marks the drain as ours, so that a restarted daemon resumes it instead of
leaving a cordoned node running (and billing) for ever."""
POD_TERMINATION_GRACE_SECONDS = 600.0
"""How long an evicted pod may take to terminate before the node is deleted under it (the longest
terminationGracePeriodSeconds we wait for, as Cluster Autoscaler's max-graceful-termination-sec)."""


@dataclass
class Drain:
    node: str
    instance_id: str
    reason: str  # empty | underutilized | consolidated | interrupted | resumed
    started_at: datetime
    urgent: bool = False  # interruption: evict everything, not counted against maxParallelDrains
    cordoned: bool = False
    attempts: int = 0
    next_attempt: datetime | None = None
    terminating_since: dict[str, datetime] = field(default_factory=dict)

    def summary(self) -> RemovalSummary:
        return RemovalSummary(self.node, self.instance_id, self.reason)


class Drainer:
    def __init__(
        self,
        cluster: Cluster,
        provider: NodeProvider,
        blocks: BlockReports,
        metrics: Metrics,
        *,
        should_stop: Callable[[], bool],
    ) -> None:
        self._cluster = cluster
        self._provider = provider
        self._blocks = blocks
        self._metrics = metrics
        self._should_stop = should_stop
        self.drains: dict[str, Drain] = {}

    def start(self, node: str, instance_id: str, reason: str, now: datetime, *, urgent: bool = False) -> Drain:
        drain = self.drains.get(node)
        if drain is None:
            drain = Drain(node, instance_id, reason, now, urgent=urgent)
            self.drains[node] = drain
            log.info("drain.start", node=node, instance_id=instance_id, reason=reason)
        elif urgent and not drain.urgent:
            drain.urgent, drain.reason, drain.next_attempt = True, reason, None
            log.info("drain.escalate", node=node, reason=reason)
        return drain

    def resume(self, view: ClusterView, now: datetime) -> None:
        """After a restart: the nodes we own that carry our draining taint are drains to finish."""
        for node in view.owned_nodes():
            instance_id = view.node_instance.get(node.name)
            if instance_id and DRAINING in node.taints and node.name not in self.drains:
                self.start(node.name, instance_id, "resumed", now).cordoned = node.unschedulable

    def active(self, *, urgent: bool) -> int:
        return sum(1 for d in self.drains.values() if d.urgent == urgent)

    def progress(self, view: ClusterView, now: datetime) -> list[RemovalSummary]:
        """Advance every drain that is due; return the nodes removed (Node deleted, instance terminated)."""
        removed: list[RemovalSummary] = []
        nodes = {n.name for n in view.nodes}
        for drain in list(self.drains.values()):
            if self._should_stop():
                break
            if drain.next_attempt is not None and drain.next_attempt > now:
                continue
            try:
                if drain.node in nodes and not self._step(drain, view, now):
                    continue
                self._remove(drain, present=drain.node in nodes)
            except Exception as e:  # an API fault on one drain: back off that drain, keep the others going
                self._back_off(drain, now, f"{type(e).__name__}: {e}")
                continue
            del self.drains[drain.node]
            removed.append(drain.summary())
        return removed

    def _step(self, drain: Drain, view: ClusterView, now: datetime) -> bool:
        """Cordon and evict; True once no pod that needs evicting is left on the node.

        A scale-down drain looks for pods that must not be evicted before it cordons (a blocked node is left
        schedulable) and again at every step (one may have landed since); an interruption drain evicts all."""
        pods = view.pods_on(drain.node)
        if not drain.urgent:
            why = eviction_blocker(pods)
            if why is not None:
                self._blocks.report(drain.node, why, "do-not-evict")
                self._back_off(drain, now, why)
                return False
        if not drain.cordoned:
            self._cluster.cordon(drain.node)
            self._cluster.taint_node(drain.node, DRAINING)
            drain.cordoned = True
            log.info("drain.cordon", node=drain.node, reason=drain.reason)
        waiting = False
        for pod in pods:
            if stays_with_node(pod):
                continue
            if pod.deleting:
                since = drain.terminating_since.setdefault(pod.key, now)
                waiting = waiting or now - since < timedelta(seconds=POD_TERMINATION_GRACE_SECONDS)
                continue
            if not self._evict(drain, pod, now):
                return False
            waiting = True
        return not waiting

    def _evict(self, drain: Drain, pod: Pod, now: datetime) -> bool:
        outcome = self._cluster.evict(pod)
        self._metrics.evictions.labels(outcome.value).inc()
        if outcome is EvictionOutcome.BLOCKED:
            why = f"pod {pod.key} is protected by a PodDisruptionBudget (eviction refused, will retry)"
            self._blocks.report(drain.node, why, "pdb")
            self._back_off(drain, now, why)
            return False
        log.info("drain.evict", node=drain.node, pod=pod.key, outcome=outcome.value)
        return True

    def _back_off(self, drain: Drain, now: datetime, why: str) -> None:
        delay = DRAIN_BACKOFF.delay_seconds(drain.attempts)
        drain.attempts += 1
        drain.next_attempt = now + timedelta(seconds=delay)
        log.info("drain.retry", node=drain.node, why=why, retry_in_seconds=delay, attempt=drain.attempts)

    def _remove(self, drain: Drain, *, present: bool) -> None:
        if present:
            self._cluster.delete_node(drain.node)
        self._provider.terminate(drain.instance_id)
        self._blocks.clear(drain.node)
        self._metrics.nodes_removed.labels(drain.reason).inc()
        log.info("node.removed", node=drain.node, instance_id=drain.instance_id, reason=drain.reason)
