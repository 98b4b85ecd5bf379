"""Consolidation (config `scaleDown.consolidation`, off by default): replace one of our nodes by a cheaper set of
nodes that holds the same pods, as Karpenter's single-node replace consolidation does.

Deliberately simple, so that it is obviously safe:
- it acts only when the cluster is at rest: no pending pods to handle, no launch in flight, no drain under way,
  no scale-up within `scaleDown.delayAfterScaleUp`, and one replacement at a time;
- a node qualifies once it is older than `scaleDown.nodeUnneededDuration`, holds only pods that may be evicted,
  and the planner, given the other nodes' free capacity and the catalog, finds a home for every one of its pods
  at a price at least `MIN_SAVING` below the node's own (an empty "new set" is allowed: the pods fit elsewhere);
- the replacement nodes are launched first; the old node is drained only once every one of them is
  initialised. If any of them fails, the replacement is abandoned and the old node stays; nodes that did come up
  are then ordinary empty nodes, which scale-down removes.
It moves running pods, which is why it is opt-in.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import structlog

from luna_autoscaler.config import Config
from luna_autoscaler.models.catalog import Catalog
from luna_autoscaler.models.pod import Node
from luna_autoscaler.observability.metrics import Metrics
from luna_autoscaler.planner import plan
from luna_autoscaler.planner.shapes import PreparedOfferings
from luna_autoscaler.planner.types import Limits, Plan, PlanRequest
from luna_autoscaler.reconcile.launches import LaunchFailure, LaunchTracker
from luna_autoscaler.reconcile.view import ClusterView, as_pending, eviction_blocker, is_movable

log = structlog.get_logger("luna_autoscaler.reconcile")

MIN_SAVING = 0.10
"""A replacement must cost at least 10 % less per hour than the node it replaces: smaller savings do not pay
for moving the pods (and price noise would make nodes churn)."""


@dataclass(frozen=True, slots=True)
class Replacement:
    node: str
    instance_id: str
    launch_ids: frozenset[str]
    started_at: datetime


@dataclass(frozen=True, slots=True)
class Decision:
    """What the consolidator wants this cycle: drain `node` now (its replacements are up, or none is needed)."""

    node: str
    instance_id: str


class Consolidator:
    def __init__(self, tracker: LaunchTracker, metrics: Metrics, *, dry_run: bool) -> None:
        self._tracker = tracker
        self._metrics = metrics
        self._dry_run = dry_run
        self.replacement: Replacement | None = None
        self._initialised: set[str] = set()

    def launches_ended(self, initialised: Collection[str], failed: Collection[str]) -> None:
        """Follow the replacement's launches (ids the tracker reports as initialised, or as failed/timed out)."""
        if self.replacement is None:
            return
        self._initialised |= set(initialised) & self.replacement.launch_ids
        if set(failed) & self.replacement.launch_ids:
            log.warning("consolidation.abandoned", node=self.replacement.node, why="a replacement launch failed")
            self.replacement, self._initialised = None, set()

    def step(
        self,
        view: ClusterView,
        catalog: Catalog,
        config: Config,
        *,
        prepared: PreparedOfferings | None = None,
        at_rest: bool,
        limits: Callable[[], Limits],
        now: datetime,
    ) -> Decision | None:
        """Finish the replacement under way, or start one when the cluster is at rest."""
        if self.replacement is not None:
            return self._finish(view)
        if not at_rest:
            return None
        for node, price in self._candidates(view, config, now):
            result = self._replan(
                view, node, PlanRequest(pods=(), catalog=catalog, config=config, prepared=prepared), limits()
            )
            if result is None or result.total_price_usd_per_hour > price * (1 - MIN_SAVING):
                continue
            instance_id = view.node_instance[node.name]
            log.info(
                "consolidation.replace",
                node=node.name,
                price_usd_per_hour=price,
                replacement=[n.offering.name for n in result.new_nodes],
                replacement_usd_per_hour=result.total_price_usd_per_hour,
                dry_run=self._dry_run,
            )
            if self._dry_run:
                return None
            if not result.new_nodes:
                return Decision(node.name, instance_id)
            self._launch(node, instance_id, result, config, now)
            return None
        return None

    def _candidates(self, view: ClusterView, config: Config, now: datetime) -> list[tuple[Node, float]]:
        old_enough = timedelta(seconds=config.scale_down.node_unneeded_duration_seconds)
        out = []
        for node in view.owned_nodes():
            if not node.ready or node.unschedulable or node.name not in view.node_instance:
                continue
            if node.created_at is not None and now - node.created_at < old_enough:
                continue
            pods = [p for p in view.pods_on(node.name) if is_movable(p)]
            if not pods or eviction_blocker(pods) is not None:
                continue  # empty nodes are scale-down's; blocked ones stay
            out.append((node, view.price_of(node)))
        return sorted(out, key=lambda e: (-e[1], e[0].name))

    def _replan(self, view: ClusterView, node: Node, base: PlanRequest, limits: Limits) -> Plan | None:
        """Plan the node's movable pods elsewhere, with `base`'s catalog, config and prepared offerings."""
        pods = tuple(as_pending(p) for p in view.pods_on(node.name) if is_movable(p))
        started = time.perf_counter()
        result = plan(
            replace(
                base,
                pods=pods,
                nodes=view.capacity(frozenset({node.name})),
                daemonsets=view.snapshot.daemonsets,
                limits=limits,
            )
        )
        self._metrics.planner_duration.labels("consolidation").observe(time.perf_counter() - started)
        return None if result.unplaced else result

    def _launch(self, node: Node, instance_id: str, result: Plan, config: Config, now: datetime) -> None:
        launch_ids = set()
        for planned in result.new_nodes:
            outcome = self._tracker.launch(self._tracker.new_record(planned, config, now), config, now)
            if isinstance(outcome, LaunchFailure):
                log.warning("consolidation.abandoned", node=node.name, why=f"{outcome.kind}: {outcome.message}")
                return
            launch_ids.add(outcome.launch_id)
        self.replacement = Replacement(node.name, instance_id, frozenset(launch_ids), now)

    def _finish(self, view: ClusterView) -> Decision | None:
        replacement = self.replacement
        assert replacement is not None
        if not any(n.name == replacement.node for n in view.nodes):
            log.info("consolidation.abandoned", node=replacement.node, why="the node is gone")
            self.replacement, self._initialised = None, set()
            return None
        if self._initialised != replacement.launch_ids:
            return None
        self.replacement, self._initialised = None, set()
        return Decision(replacement.node, replacement.instance_id)
