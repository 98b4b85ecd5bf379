"""Gangs planned as wholes: capacity for a gang's pods in one zone, bought together, or nothing and a reason.

A gang scheduler binds none of a group's pods until `minMember` of them fit; half a gang's nodes burn GPU hours
and run nothing. So each gang is planned on its own, once per zone with its pods pinned to that zone (a gang
split across zones would pay cross-zone latency and traffic, and an ICE in one zone would strand the other half;
a gang whose pods ask for a placement group, EFA or InfiniBand, has its new nodes marked to share one),
and the cheapest zone that places enough of its pods wins; if no zone does, none of its pods gets a node and
each says why. Gangs go first (higher priority first, then by key), each taking the capacity it uses from the
existing and in-flight nodes and from the cluster limits as a whole; the other pods are then planned as usual
with what is left. `plan` itself is unchanged: this wraps it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType

from luna_autoscaler.models.pod import Pod
from luna_autoscaler.models.scheduling import ZONE, NodeSelector, Operator, Requirement
from luna_autoscaler.models.workloads import Gang, wants_placement_group
from luna_autoscaler.planner.planning import plan
from luna_autoscaler.planner.types import CapacityNode, Limits, Plan, PlannedNode, PlanRequest, Unplaced


@dataclass(frozen=True, slots=True)
class GangSpec:
    """A gang for the planner: its pending pods (keys) and how many of them must be placed together."""

    key: str
    pods: tuple[str, ...]
    needed: int
    min_member: int
    placement: bool = False  # its new nodes go in one cluster placement group

    @staticmethod
    def of(gang: Gang, pods: Iterable[Pod] | None = None) -> GangSpec:
        """The spec of a gang, for `pods` of its pending pods (default: all of them)."""
        chosen = gang.pending if pods is None else tuple(pods)
        placement = any(wants_placement_group(p) for p in chosen)
        return GangSpec(gang.key, tuple(p.key for p in chosen), gang.needed, gang.min_member, placement)

    @staticmethod
    def whole(key: str, pods: Sequence[Pod]) -> GangSpec:
        """Pods that must all be placed together (a ProvisioningRequest's)."""
        return GangSpec(key, tuple(p.key for p in pods), len(pods), len(pods))


@dataclass(frozen=True)
class GangPlan:
    """A plan, and for every gang that got new nodes the names of those nodes (launched as one)."""

    plan: Plan
    gangs: Mapping[str, tuple[str, ...]]
    placement: frozenset[str] = frozenset()  # gangs whose new nodes go in one cluster placement group

    def gang_of(self) -> dict[str, str]:
        """New node name → the gang it belongs to."""
        return {node: gang for gang, nodes in self.gangs.items() for node in nodes}


def _in_zone(pod: Pod, zone: str) -> Pod:
    selector = pod.node_selector
    pinned = NodeSelector((*selector.selector, Requirement(ZONE, Operator.IN, (zone,))), selector.terms)
    return replace(pod, node_selector=pinned)


def _held_by_limits(nodes: Sequence[PlannedNode], limits: Limits) -> str | None:
    count = len(nodes)
    gpus = sum(n.offering.instance_type.gpus for n in nodes)
    cost = sum(n.price_usd_per_hour for n in nodes)
    if limits.nodes is not None and count > limits.nodes:
        return f"maxNodes ({limits.nodes} new nodes allowed, the gang needs {count})"
    if limits.gpus is not None and gpus > limits.gpus:
        return f"maxGpus ({limits.gpus} more GPUs allowed, the gang needs {gpus})"
    if limits.hourly_cost_usd is not None and cost > limits.hourly_cost_usd + 1e-9:
        return f"maxHourlyCost (${limits.hourly_cost_usd:.2f}/h left, the gang's nodes cost ${cost:.2f}/h)"
    return None


def _less(limits: Limits, nodes: Sequence[PlannedNode]) -> Limits:
    return Limits(
        nodes=None if limits.nodes is None else limits.nodes - len(nodes),
        gpus=None if limits.gpus is None else limits.gpus - sum(n.offering.instance_type.gpus for n in nodes),
        hourly_cost_usd=None
        if limits.hourly_cost_usd is None
        else round(limits.hourly_cost_usd - sum(n.price_usd_per_hour for n in nodes), 6),
    )


def _taken(
    nodes: Sequence[CapacityNode], on_existing: Mapping[str, str], pods: Mapping[str, Pod]
) -> list[CapacityNode]:
    """The capacity nodes, less the requests of the pods a gang's plan put on them."""
    out = []
    for node in nodes:
        placed = [pods[k].requests for k, n in on_existing.items() if n == node.name]
        free = node.free
        for requests in placed:
            free = free - requests
        out.append(replace(node, free=free) if placed else node)
    return out


@dataclass(frozen=True)
class _Choice:
    zone: str
    plan: Plan
    placed: int


def _zones_used(result: Plan, nodes: Sequence[CapacityNode]) -> set[str]:
    zone_of = {n.name: n.labels.get(ZONE, "") for n in nodes}
    return {n.offering.zone for n in result.new_nodes} | {zone_of.get(n, "") for n in result.on_existing.values()}


def _best_zone(request: PlanRequest, pods: Sequence[Pod], nodes: Sequence[CapacityNode], prefix: str) -> _Choice | None:
    """The zone whose plan places the most of the gang's pods, then the cheapest, then fewer nodes, then by name.

    The gang is first planned with no zone pinned: when that plan places every pod within one zone it is the
    answer (pinning can only add constraints, so no zone plan is cheaper), one planner call instead of one per
    zone. Only a plan that spreads or falls short is searched zone by zone."""
    base = replace(request, pods=tuple(pods), nodes=tuple(nodes), limits=Limits(), name_prefix=prefix)
    free = plan(base)
    used = _zones_used(free, nodes)
    if not free.unplaced and len(used) == 1 and "" not in used:
        return _Choice(used.pop(), free, len(pods))
    best: tuple[tuple[int, float, int, str], _Choice] | None = None
    for zone in request.catalog.zones():
        result = plan(replace(base, pods=tuple(_in_zone(p, zone) for p in pods)))
        choice = _Choice(zone, result, len(pods) - len(result.unplaced))
        rank = (-choice.placed, result.total_price_usd_per_hour, len(result.new_nodes), zone)
        if best is None or rank < best[0]:
            best = (rank, choice)
    return None if best is None else best[1]


def plan_gangs(request: PlanRequest, gangs: Sequence[GangSpec]) -> GangPlan:
    """`plan`, with each gang planned whole in one zone or not at all (module docstring)."""
    if not gangs:
        return GangPlan(plan(request), MappingProxyType({}))
    by_key = {p.key: p for p in request.pods}
    members = {k for g in gangs for k in g.pods}
    nodes = list(request.nodes)
    limits = request.limits
    new_nodes: list[PlannedNode] = []
    on_existing: dict[str, str] = {}
    unplaced: list[Unplaced] = []
    gang_nodes: dict[str, tuple[str, ...]] = {}
    placement: set[str] = set()
    ordered = sorted(gangs, key=lambda g: (-max((by_key[k].priority for k in g.pods if k in by_key), default=0), g.key))
    for i, gang in enumerate(ordered):
        pods = [by_key[k] for k in gang.pods if k in by_key]
        prefix = f"{request.name_prefix}-gang{i:03d}"
        if len(pods) < gang.needed:
            reason = (
                f"gang {gang.key} has {len(pods)} pending pods of the {gang.needed} that must start together "
                f"(minMember {gang.min_member}): waiting for the rest before buying nodes"
            )
            unplaced.extend(Unplaced(p.key, reason) for p in pods)
            continue
        best = _best_zone(request, pods, nodes, prefix)
        if best is None or best.placed < gang.needed:
            placed = best.placed if best is not None else 0
            detail = next((u.reason for u in best.plan.unplaced), "") if best is not None else ""
            where = f" (best zone {best.zone} places {placed})" if best is not None else ""
            reason = (
                f"gang {gang.key} needs {gang.needed} of its pods placed together in one zone and no zone can{where}"
                + (f": {detail}" if detail else "")
            )
            unplaced.extend(Unplaced(p.key, reason) for p in pods)
            continue
        held = _held_by_limits(best.plan.new_nodes, limits)
        if held is not None:
            unplaced.extend(Unplaced(p.key, f"gang {gang.key} held back by cluster limit {held}") for p in pods)
            continue
        # A provider may launch any alternative of a node: keep those of the gang's zone only.
        new_nodes.extend(
            replace(n, alternatives=tuple(o for o in n.alternatives if o.zone == best.zone))
            for n in best.plan.new_nodes
        )
        on_existing.update(best.plan.on_existing)
        unplaced.extend(best.plan.unplaced)
        nodes = _taken(nodes, best.plan.on_existing, by_key)
        limits = _less(limits, best.plan.new_nodes)
        if best.plan.new_nodes:
            gang_nodes[gang.key] = tuple(n.name for n in best.plan.new_nodes)
            if gang.placement:
                placement.add(gang.key)
    rest = plan(
        replace(request, pods=tuple(p for p in request.pods if p.key not in members), nodes=tuple(nodes), limits=limits)
    )
    combined = Plan(
        new_nodes=(*new_nodes, *rest.new_nodes),
        on_existing=MappingProxyType(dict(sorted({**on_existing, **rest.on_existing}.items()))),
        unplaced=tuple(sorted((*unplaced, *rest.unplaced), key=lambda u: u.pod)),
    )
    return GangPlan(combined, MappingProxyType(gang_nodes), frozenset(placement))
