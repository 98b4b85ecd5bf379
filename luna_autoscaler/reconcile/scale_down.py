"""Which of our nodes are unneeded, and for how long (behaviour.md, "Scale-down").

A node we own is unneeded when it is empty (only DaemonSet or static pods), or its pods' requests are under the
utilisation threshold of its bin kind (bin-pack 20 %, bin-select 75 %; GPU nodes by GPU) *and* the planner,
given only the other nodes' free capacity and no catalog, finds a place for every one of them. Nodes are
examined one after the other, and each accepted node's pods use up the capacity they will move to, so two
nodes never count on the same free space. A node must stay unneeded for `scaleDown.nodeUnneededDuration`
before it is drained; a pod that must not be evicted blocks it, and says so once.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import structlog

from luna_autoscaler.config import Config
from luna_autoscaler.models import scheduling as lbl
from luna_autoscaler.models.catalog import Catalog
from luna_autoscaler.models.pod import Node, Pod
from luna_autoscaler.models.resources import Resources
from luna_autoscaler.observability.metrics import Metrics
from luna_autoscaler.planner import plan
from luna_autoscaler.planner.types import BinKind, CapacityNode, Limits, PlanRequest
from luna_autoscaler.ports import Cluster, ObjectRef
from luna_autoscaler.reconcile.events import post_event
from luna_autoscaler.reconcile.view import ClusterView, as_pending, eviction_blocker, requests_of

log = structlog.get_logger("luna_autoscaler.reconcile")


@dataclass(frozen=True, slots=True)
class Candidate:
    node: Node
    instance_id: str
    reason: str  # empty | underutilized
    utilisation: float


def utilisation(node: Node, pods: Sequence[Pod]) -> float:
    """Requested share of the node: of its GPUs for a GPU node, else the larger of CPU and memory."""
    requested = requests_of(pods)
    gpus = node.allocatable.gpus()
    if gpus > 0:
        return requested.gpus() / gpus
    shares = [
        requested.cpu_millis / node.allocatable.cpu_millis if node.allocatable.cpu_millis else 0.0,
        requested.memory_bytes / node.allocatable.memory_bytes if node.allocatable.memory_bytes else 0.0,
    ]
    return max(shares)


def threshold(node: Node, config: Config) -> float:
    if node.labels.get(lbl.BIN_KIND) == BinKind.SELECT.value:
        return config.scale_down.bin_select_utilization_threshold
    return config.scale_down.bin_pack_utilization_threshold


class BlockReports:
    """`Node X cannot be removed because pod Y ...`: logged and posted as a ScaleDownBlocked Event on the node,
    once per node and cause until the cause changes, so a blocked node does not flood the log every cycle."""

    def __init__(self, cluster: Cluster, metrics: Metrics, *, dry_run: bool) -> None:
        self._cluster = cluster
        self._metrics = metrics
        self._dry_run = dry_run
        self._reported: dict[str, str] = {}

    def report(self, node: str, why: str, cause: str) -> None:
        if self._reported.get(node) == why:
            return
        self._reported[node] = why
        message = f"Node {node} cannot be removed because {why}"
        self._metrics.scale_down_blocked.labels(cause).inc()
        log.info("scale_down.blocked", node=node, cause=cause, message=message)
        if not self._dry_run:
            post_event(self._cluster, ObjectRef("Node", node), "ScaleDownBlocked", message, warning=True)

    def clear(self, node: str) -> None:
        self._reported.pop(node, None)


class ScaleDown:
    def __init__(self, blocks: BlockReports, metrics: Metrics) -> None:
        self._blocks = blocks
        self._metrics = metrics
        self.unneeded_since: dict[str, datetime] = {}

    def find_unneeded(
        self,
        view: ClusterView,
        config: Config,
        catalog: Catalog,
        *,
        exclude: frozenset[str],
        reserved: Mapping[str, Resources],
    ) -> list[Candidate]:
        """Owned, Ready, schedulable nodes (not in `exclude`) whose pods can all go elsewhere now."""
        destinations = {c.name: c for c in view.capacity(exclude, reserved)}
        examined: list[tuple[Node, str, tuple[Pod, ...], float]] = []
        for node in view.owned_nodes():
            if node.name in exclude or not node.ready or node.unschedulable or node.name in reserved:
                continue
            instance_id = view.node_instance.get(node.name)
            if not instance_id:
                log.debug("scale_down.skip", node=node.name, why="no instance known for its provider id")
                continue
            pods = view.movable_pods(node.name)
            examined.append((node, instance_id, pods, utilisation(node, pods)))
        examined.sort(key=lambda e: (len(e[2]) > 0, e[3], e[0].name))

        no_catalog = Catalog(catalog.cloud, catalog.region, (), catalog.provenance)
        candidates: list[Candidate] = []
        for node, instance_id, pods, used in examined:
            if not pods:
                candidates.append(Candidate(node, instance_id, "empty", 0.0))
                destinations.pop(node.name, None)
                continue
            if used >= threshold(node, config):
                continue
            blocker = eviction_blocker(pods)
            if blocker is not None:
                self._blocks.report(node.name, blocker, "do-not-evict")
                continue
            others = tuple(c for name, c in destinations.items() if name != node.name)
            placed = self._place_elsewhere(pods, others, no_catalog, config)
            if placed is None:
                continue
            for pod in pods:
                target = destinations[placed[pod.key]]
                destinations[target.name] = replace(target, free=target.free - pod.requests)
            destinations.pop(node.name, None)
            candidates.append(Candidate(node, instance_id, "underutilized", used))
        return candidates

    def _place_elsewhere(
        self, pods: Sequence[Pod], others: tuple[CapacityNode, ...], no_catalog: Catalog, config: Config
    ) -> Mapping[str, str] | None:
        """Pod key → node for every pod, using only existing free capacity; None if any pod has no place."""
        started = time.perf_counter()
        result = plan(
            PlanRequest(
                pods=tuple(as_pending(p) for p in pods),
                catalog=no_catalog,
                config=config,
                nodes=others,
                limits=Limits(nodes=0, gpus=0, hourly_cost_usd=0.0),
            )
        )
        self._metrics.planner_duration.labels("scale-down").observe(time.perf_counter() - started)
        if result.unplaced or result.new_nodes or any(p.key not in result.on_existing for p in pods):
            return None
        return result.on_existing

    def due(self, candidates: Sequence[Candidate], now: datetime, config: Config) -> list[Candidate]:
        """Start or keep each candidate's unneeded timer (dropping the others'); those past the duration."""
        names = {c.node.name for c in candidates}
        for name in [n for n in self.unneeded_since if n not in names]:
            del self.unneeded_since[name]
        for c in candidates:
            if c.node.name not in self.unneeded_since:
                self.unneeded_since[c.node.name] = now
                log.info("scale_down.unneeded", node=c.node.name, reason=c.reason, utilisation=round(c.utilisation, 3))
        wait = timedelta(seconds=config.scale_down.node_unneeded_duration_seconds)
        return [c for c in candidates if now - self.unneeded_since[c.node.name] >= wait]

    def forget(self, node: str) -> None:
        self.unneeded_since.pop(node, None)
