"""Cost estimates for pods gated with `nodecostestimate`: what their nodes would cost, without buying them.

The pods of one controller (a Deployment's ReplicaSet, a Job) are estimated together, so the node count says
how many nodes that workload would take; a pod without a controller is estimated alone. The message format is
behaviour.md's: `Estimated cost $<price>/h for <instance type> (<capacity type>); estimated node count N`, with
the price of one node of the type most of the planned nodes have, or `No node type found: <reasons>`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence

from luna_autoscaler.config import Config
from luna_autoscaler.errors import OfferingRef
from luna_autoscaler.models.catalog import Catalog
from luna_autoscaler.models.pod import Pod
from luna_autoscaler.observability.metrics import Metrics
from luna_autoscaler.planner import plan
from luna_autoscaler.planner.shapes import PreparedOfferings
from luna_autoscaler.planner.types import Plan, PlanRequest
from luna_autoscaler.reconcile.events import PodEvents

REASON = "NodeCostEstimate"


def _workload(pod: Pod) -> tuple[str, str, str]:
    owner = next((o for o in pod.owners if o.controller), None)
    return (pod.namespace, owner.kind, owner.name) if owner else (pod.namespace, "Pod", pod.name)


def estimate_message(pod: Pod, result: Plan) -> str:
    """The Event message for one pod of a planned workload."""
    if not result.new_nodes or any(u.pod == pod.key for u in result.unplaced):
        reasons = (
            [u.reason for u in result.unplaced if u.pod == pod.key]
            or [u.reason for u in result.unplaced]
            or ["no new node needed"]
        )
        return f"No node type found: {reasons[0]}"
    by_offering = Counter(n.offering.ref for n in result.new_nodes)
    ref, _ = min(by_offering.items(), key=lambda kv: (-kv[1], str(kv[0])))
    offering = next(n.offering for n in result.new_nodes if n.offering.ref == ref)
    return (
        f"Estimated cost ${offering.price_usd_per_hour:.4f}/h for {offering.name} "
        f"({offering.capacity_type.value}); estimated node count {len(result.new_nodes)}"
    )


class CostEstimates:
    def __init__(self, events: PodEvents, metrics: Metrics) -> None:
        self._events = events
        self._metrics = metrics
        self._estimated: set[str] = set()  # pods (uid or key) that have their estimate

    def post(
        self,
        pods: Sequence[Pod],
        catalog: Catalog,
        config: Config,
        unavailable: frozenset[OfferingRef],
        prepared: PreparedOfferings | None = None,
    ) -> None:
        """Plan each gated workload with a pod not yet estimated, on new nodes only, and post the estimate on each
        of its pods. A pod is estimated once: the gate is there for a person to read the answer and lift it."""
        self._estimated &= {p.uid or p.key for p in pods}
        groups: dict[tuple[str, str, str], list[Pod]] = {}
        for pod in pods:
            groups.setdefault(_workload(pod), []).append(pod)
        for members in groups.values():
            if all((p.uid or p.key) in self._estimated for p in members):
                continue
            started = time.perf_counter()
            request = PlanRequest(
                pods=tuple(members), catalog=catalog, config=config, unavailable=unavailable, prepared=prepared
            )
            result = plan(request)
            self._metrics.planner_duration.labels("estimate").observe(time.perf_counter() - started)
            for pod in members:
                self._events.post(pod, REASON, estimate_message(pod, result))
                self._estimated.add(pod.uid or pod.key)
