"""`plan(PlanRequest) -> Plan`: for every pending pod, an existing node, a new node, or a reason.

The steps, each in its own module:

1. `classes`: pods → equivalence classes (pods with annotation problems are unplaced, naming the annotation).
2. `existing`: pods that existing or in-flight capacity will take.
3. `shapes`: instance types x GPU modes (time-slicing) with allocatable after overhead; offerings with estimated
   spot prices and policy exclusions.
4. `compatibility`: per class, the cheapest offering of every compatible node kind in its preferred capacity type
   (spot first when it accepts spot and any spot offering fits, else the next); classes with none are unplaced
   with counted reasons.
5. `packing`: bin-packed and bin-selected classes packed separately into node patterns.
6. Here: patterns → PlannedNodes with fallback alternatives; cluster limits; deterministic names.

Pure and deterministic: pods are sorted by key before anything else and every choice has a total tie-break, so
the same request (in any pod order) gives the same plan.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
from numpy.typing import NDArray

from luna_autoscaler.models import scheduling as lbl
from luna_autoscaler.models.catalog import CapacityType, Offering
from luna_autoscaler.models.resources import CPU, EPHEMERAL_STORAGE, MEMORY, NVIDIA_GPU, PODS, Resources
from luna_autoscaler.planner.classes import PodClass, Run, Signature, classify, run_keys
from luna_autoscaler.planner.compatibility import Compatibility
from luna_autoscaler.planner.existing import place_on_existing
from luna_autoscaler.planner.master import choose
from luna_autoscaler.planner.packing import Demand, Packer, Pattern, Shape, max_fit
from luna_autoscaler.planner.shapes import NodeKind
from luna_autoscaler.planner.types import BinKind, Limits, Plan, PlannedNode, PlanRequest, Unplaced

MAX_ALTERNATIVES = 20
ALTERNATIVES_CHUNK = 64  # candidate offerings looked at per step
BASE_DIMENSIONS = (CPU, MEMORY, PODS, EPHEMERAL_STORAGE)


def _covers(big: Sequence[int], small: Sequence[int]) -> bool:
    return all(b >= s for b, s in zip(big, small, strict=True))


def _rejection_reason(counts: Counter[str], total: int) -> str:
    if not total:
        return "0/0 offerings: the catalog has no offerings"
    parts = ", ".join(f"{n} {why}" for why, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    return f"0/{total} offerings: {parts}"


@dataclass(frozen=True, slots=True)
class _Option:
    """A node kind a signature accepts, with the offerings of one capacity type it accepts."""

    kind: NodeKind
    vector: tuple[int, ...]  # the kind's allocatable before DaemonSets
    sliced_gpu: bool  # time-sliced nvidia.com/gpu: never for pods requesting several GPUs
    offerings: tuple[int, ...]  # accepted offerings of one capacity type, cheapest first
    cheapest: Shape  # the first of them, after DaemonSets


@dataclass(frozen=True, slots=True)
class _Tier:
    """A signature's options of one capacity type as arrays: which of them a class fits, at what share and how
    many times are then a few vector operations per class, not a loop over every node kind."""

    options: list[_Option]  # by the cheapest offering's sort key, so a position is a rank
    room: NDArray[np.int64]  # the options' vectors (before DaemonSets), one row each
    cheapest: NDArray[np.int64]  # their cheapest shapes' vectors (after DaemonSets)
    sliced_gpu: NDArray[np.bool_]
    prices: NDArray[np.float64]


class Problem:
    """The planning problem after classification and existing capacity: classes, shapes and their demands."""

    def __init__(self, request: PlanRequest, classes: Sequence[PodClass]) -> None:
        self.config = request.config
        extended = sorted({name for c in classes for name in c.requests.extended})
        self.dimensions = (*BASE_DIMENSIONS, *extended)
        prepared = request.prepared_offerings()
        self.offerings, self.kinds = prepared.offerings, prepared.kinds
        self.compatibility = Compatibility(
            request.config, self.offerings, self.kinds, request.daemonsets, request.unavailable
        )
        self._shapes: dict[tuple[int, int, BinKind], Shape] = {}
        self._signature_options: dict[int, list[_Tier]] = {}
        self.demands: list[Demand] = []
        self.unplaced: list[Unplaced] = []
        self.demands_of_signature: dict[int, list[Demand]] = {}
        self.signatures: dict[int, Signature] = {}
        self._groups: dict[tuple[object, ...], _AlternativeGroup] = {}
        for cls in classes:
            self._add_demand(cls)

    def vector(self, resources: Resources) -> tuple[int, ...]:
        return tuple(resources.get(name) for name in self.dimensions)

    def shape(self, kind: NodeKind, offering_index: int, bin_kind: BinKind) -> Shape:
        key = (kind.index, offering_index, bin_kind)
        shape = self._shapes.get(key)
        if shape is None:
            offering = self.offerings[offering_index].offering
            allocatable = self.compatibility.allocatable(kind, offering_index, bin_kind)
            sort_key = (
                offering.price_usd_per_hour,
                offering.instance_type.name,
                offering.zone,
                offering.capacity_type.value,
                kind.mode.key or "",  # MIG: `mig:all-...` (a default layout) sorts before `mig:luna-mig-...`
            )
            shape = self._shapes[key] = Shape(
                kind, offering_index, offering, bin_kind, self.vector(allocatable), sort_key
            )
        return shape

    def _options_for(self, sig: Signature) -> list[_Tier]:
        """Per preferred capacity type, the node kinds the signature accepts with the offerings it accepts, less
        the dominated ones: a kind whose cheapest offering costs no less and offers no more (after DaemonSets)
        than another's can never make a plan cheaper, and dropping it keeps per-class work small."""
        tiers = self._signature_options.get(sig.index)
        if tiers is None:
            comp = self.compatibility
            accepted: list[list[tuple[NodeKind, list[int]]]] = [[] for _ in sig.capacity_types]
            for kind in self.kinds:
                if comp.kind_rejection(sig, kind) is not None:
                    continue
                per_type: list[list[int]] = [[] for _ in sig.capacity_types]
                for i in comp.offerings_of_type.get(kind.instance_type.name, ()):
                    ct = self.offerings[i].offering.capacity_type
                    if ct in sig.capacity_types and comp.offering_rejection(sig, i, kind) is None:
                        per_type[sig.capacity_types.index(ct)].append(i)
                for tier, indexes in enumerate(per_type):
                    if indexes:
                        accepted[tier].append((kind, indexes))
            tiers = self._signature_options[sig.index] = [self._tier(self._undominated(sig, a)) for a in accepted]
        return tiers

    def _tier(self, options: list[_Option]) -> _Tier:
        width = len(self.dimensions)
        return _Tier(
            options,
            np.array([o.vector for o in options], dtype=np.int64).reshape(-1, width),
            np.array([o.cheapest.vector for o in options], dtype=np.int64).reshape(-1, width),
            np.array([o.sliced_gpu for o in options], dtype=np.bool_),
            np.array([o.cheapest.price for o in options], dtype=np.float64),
        )

    def _undominated(self, sig: Signature, accepted: list[tuple[NodeKind, list[int]]]) -> list[_Option]:
        options = sorted(
            (
                _Option(
                    kind,
                    self.vector(kind.allocatable),
                    kind.mode.sliced and kind.mode.resource == NVIDIA_GPU,
                    tuple(indexes),
                    self.shape(kind, indexes[0], sig.bin),
                )
                for kind, indexes in accepted
            ),
            key=lambda o: o.cheapest.sort_key,
        )
        kept: list[_Option] = []
        for option in options:
            vector = option.cheapest.vector
            if not any(k.sliced_gpu == option.sliced_gpu and _covers(k.cheapest.vector, vector) for k in kept):
                kept.append(option)
        return kept

    def _first_tier(
        self, cls: PodClass, request: NDArray[np.int64]
    ) -> tuple[CapacityType, list[Shape], NDArray[np.int64], NDArray[np.float64], bool] | None:
        """The class's first preferred capacity type with shapes that take it, those shapes (the cheapest fitting
        offering of every undominated kind, in the tier's order), their vectors and prices as arrays, and whether
        they are in sort key order (they are when every kind's cheapest offering takes the class: the usual case,
        which then needs no loop over the shapes)."""
        sig = cls.signature
        for capacity_type, tier in zip(sig.capacity_types, self._options_for(sig), strict=True):
            fits = (tier.room >= request).all(axis=1)  # as Compatibility.fit_rejection
            if cls.requests.get(NVIDIA_GPU) > 1:
                fits &= ~tier.sliced_gpu
            positions = np.flatnonzero(fits)
            if not len(positions):
                continue
            covered: NDArray[np.bool_] = np.all(tier.cheapest[positions] >= request, axis=1)
            if covered.all():
                options = tier.options
                shapes = [options[p].cheapest for p in positions.tolist()]
                return capacity_type, shapes, tier.cheapest[positions], tier.prices[positions], True
            shapes = []
            for position, cheapest in zip(positions.tolist(), covered.tolist(), strict=True):
                option = tier.options[position]
                if cheapest:
                    shapes.append(option.cheapest)
                    continue
                for i in option.offerings[1:]:  # DaemonSets may leave too little on some offerings
                    shape = self.shape(option.kind, i, sig.bin)
                    if max_fit(request.tolist(), shape.vector, 1):
                        shapes.append(shape)
                        break
            if shapes:
                rooms = np.array([s.vector for s in shapes], dtype=np.int64)
                return capacity_type, shapes, rooms, np.array([s.price for s in shapes]), False
        return None

    def _add_demand(self, cls: PodClass) -> None:
        vector = self.vector(cls.requests)
        request = np.array(vector, dtype=np.int64)
        tier = self._first_tier(cls, request)
        if tier is None:
            counts = self.compatibility.rejection_counts(cls)
            reason = _rejection_reason(counts, len(self.offerings))
            rejections = MappingProxyType(dict(counts))
            self.unplaced.extend(Unplaced(key, reason, rejections) for key in run_keys(cls.take(cls.count)))
            return
        capacity_type, shapes, vectors, prices, in_key_order = tier
        # By fractional share cost (packing.share), then sort key; and pods of the class alone per shape.
        asked = request > 0
        rooms = vectors[:, asked]
        costs = prices * (request[asked] / rooms).max(axis=1, initial=0.0)
        fits = np.minimum((rooms // request[asked]).min(axis=1, initial=cls.count), cls.count)
        if in_key_order:
            order = np.argsort(costs, kind="stable")
        else:
            by_key = sorted(range(len(shapes)), key=lambda i: shapes[i].sort_key)  # in tier order: mostly sorted
            ranks = np.empty(len(shapes), dtype=np.int64)
            ranks[by_key] = np.arange(len(shapes))
            order = np.lexsort((ranks, costs))
        listed: list[int] = order.tolist()
        demand = Demand(cls, vector, cls.count, [shapes[i] for i in listed], float(costs[listed[0]]), capacity_type)
        demand.prices, demand.fits = prices[order], fits[order]
        demand.fit_counts = demand.fits.tolist()
        self.demands.append(demand)
        self.signatures[cls.signature.index] = cls.signature
        self.demands_of_signature.setdefault(cls.signature.index, []).append(demand)

    def _accepted(self, signatures: Sequence[Signature], multi_gpu: bool, kind: NodeKind, offering_index: int) -> bool:
        """Whether pods of these signatures may run on this kind bought as this offering (room aside)."""
        if multi_gpu and kind.mode.sliced and kind.mode.resource == NVIDIA_GPU:
            return False
        comp = self.compatibility
        return all(
            comp.kind_rejection(sig, kind) is None and comp.offering_rejection(sig, offering_index, kind) is None
            for sig in signatures
        )

    def compatible(self, demand: Demand, shape: Shape) -> bool:
        """Whether the demand's pods may go on a node of this shape: constraints, preferred capacity type, room."""
        return self.accepts(demand, shape) and max_fit(demand.vector, shape.vector, 1) == 1

    def accepts(self, demand: Demand, shape: Shape) -> bool:
        """Whether the demand's constraints and preferred capacity type accept the shape, room aside: the same for
        every demand of a group (Demand.group)."""
        return (
            shape.bin is demand.cls.signature.bin
            and shape.offering.capacity_type is demand.capacity_type
            and self._accepted((demand.cls.signature,), demand.group[2], shape.kind, shape.offering_index)
        )

    def pack(self) -> list[Pattern]:
        patterns: list[Pattern] = []
        dedicated = self.config.bin_select_dedicated_nodes
        for bin_kind in (BinKind.SELECT, BinKind.PACK):
            demands = [d for d in self.demands if d.cls.signature.bin is bin_kind]
            packer = Packer(
                demands,
                self.compatible,
                self.accepts,
                dedicated=dedicated and bin_kind is BinKind.SELECT,
            )
            packed = packer.pack()
            if not packer.dedicated:
                packed = choose(packed, demands, self.compatible, self.accepts, self.config.plan_optimization_rounds)
            patterns.extend(packed)
        return patterns

    def alternatives(self, pattern: Pattern) -> tuple[Offering, ...]:
        """Other offerings (same GPU mode, labels and taints) that take the same pods under all their constraints:
        the chosen capacity type first, then the others every pod accepts, each by price. Per capacity type, one
        vector operation over the group's node kinds keeps the kinds with room for the pattern, and only their
        offerings are checked one by one (thousands of distinct patterns each look at a few dozen)."""
        chosen = pattern.shape
        demands = [d for d, _ in pattern.counts]
        signatures = list({d.cls.signature.index: d.cls.signature for d in demands}.values())
        multi_gpu = any(d.cls.requests.get(NVIDIA_GPU) > 1 for d in demands)
        anchor_sig = demands[0].cls.signature
        order = [chosen.offering.capacity_type] + [
            ct for ct in anchor_sig.capacity_types if ct is not chosen.offering.capacity_type
        ]
        total = pattern.total()
        group = self._alternative_group(chosen.kind)
        start = bisect.bisect_left(group.prices, chosen.price) if len(order) == 1 else 0
        roomy_kinds: NDArray[np.bool_] = np.all(group.kind_rooms >= np.array(total, dtype=np.int64), axis=1)
        roomy_kinds &= self._kinds_accepted(group, signatures, multi_gpu)
        found: list[Offering] = []
        for ct in order:
            positions = group.positions.get(ct)
            if positions is None:
                continue
            positions = positions[np.searchsorted(positions, start) :]
            candidates = positions[roomy_kinds[group.kind_of[positions]]]
            for chunk in range(0, len(candidates), ALTERNATIVES_CHUNK):  # most patterns need only the first
                for position in candidates[chunk : chunk + ALTERNATIVES_CHUNK].tolist():
                    if len(found) >= MAX_ALTERNATIVES:
                        return tuple(found)
                    i, kind = group.entries[position]
                    if i == chosen.offering_index and kind is chosen.kind:
                        continue
                    if self._accepted(signatures, multi_gpu, kind, i) and _covers(
                        self.shape(kind, i, chosen.bin).vector, total
                    ):
                        found.append(self.offerings[i].offering)
        return tuple(found[:MAX_ALTERNATIVES])

    def _kinds_accepted(
        self, group: _AlternativeGroup, signatures: Sequence[Signature], multi_gpu: bool
    ) -> NDArray[np.bool_]:
        """Which of the group's kinds these signatures accept, offerings aside (once per group and signatures)."""
        key = (tuple(sig.index for sig in signatures), multi_gpu)
        accepted = group.accepted.get(key)
        if accepted is None:
            comp = self.compatibility
            accepted = group.accepted[key] = np.array(
                [
                    not (multi_gpu and kind.mode.sliced and kind.mode.resource == NVIDIA_GPU)
                    and all(comp.kind_rejection(sig, kind) is None for sig in signatures)
                    for kind in group.kinds
                ],
                dtype=np.bool_,
            )
        return accepted

    def _alternative_group(self, kind: NodeKind) -> _AlternativeGroup:
        """Offerings of every node kind with the same planner labels and taints as `kind`, by price."""
        key = (tuple(kind.labels.items()), kind.taints)
        group = self._groups.get(key)
        if group is None:
            offerings = self.compatibility.offerings_of_type
            ranked = sorted(
                (
                    self.offerings[i].offering.price_usd_per_hour,
                    k.instance_type.name,
                    self.offerings[i].offering.zone,
                    self.offerings[i].offering.capacity_type.value,
                    i,
                    k,
                )
                for k in self.kinds
                if (tuple(k.labels.items()), k.taints) == key
                for i in offerings.get(k.instance_type.name, ())
            )
            kinds = list({entry[5].index: entry[5] for entry in ranked}.values())
            kind_position = {k.index: p for p, k in enumerate(kinds)}
            by_type: dict[CapacityType, list[int]] = {}
            for position, entry in enumerate(ranked):
                by_type.setdefault(self.offerings[entry[4]].offering.capacity_type, []).append(position)
            group = self._groups[key] = _AlternativeGroup(
                kinds,
                [(entry[4], entry[5]) for entry in ranked],
                [entry[0] for entry in ranked],
                {ct: np.array(p, dtype=np.int64) for ct, p in by_type.items()},
                np.array([kind_position[entry[5].index] for entry in ranked], dtype=np.int64),
                np.array([self.vector(k.allocatable) for k in kinds], dtype=np.int64).reshape(-1, len(self.dimensions)),
            )
        return group


@dataclass(frozen=True, slots=True)
class _AlternativeGroup:
    """The offerings of node kinds with the same planner labels and taints, by price (then type, zone, capacity
    type), with what finding a pattern's alternatives needs as arrays."""

    kinds: list[NodeKind]
    entries: list[tuple[int, NodeKind]]  # (offering index, kind), in that order
    prices: list[float]
    positions: dict[CapacityType, NDArray[np.int64]]  # the entries of each capacity type
    kind_of: NDArray[np.int64]  # per entry, its kind's row in kind_rooms
    kind_rooms: NDArray[np.int64]  # each kind's allocatable before DaemonSets
    accepted: dict[tuple[tuple[int, ...], bool], NDArray[np.bool_]] = field(default_factory=dict)  # _kinds_accepted


@dataclass
class _Draft:
    """A new node before limits and naming."""

    pattern: Pattern
    runs: list[Run]
    alternatives: tuple[Offering, ...]

    @property
    def priority(self) -> int:
        return max(pod.priority for pod, _ in self.runs)

    @property
    def size(self) -> int:
        return sum(len(indexes) for _, indexes in self.runs)


def _drafts(problem: Problem, patterns: Sequence[Pattern]) -> list[_Draft]:
    drafts = []
    for pattern in patterns:
        alternatives = problem.alternatives(pattern)
        for _ in range(pattern.repeat):
            runs = [run for demand, n in pattern.counts for run in demand.cls.take(n)]
            drafts.append(_Draft(pattern, runs, alternatives))
    return drafts


def _within_limits(drafts: Sequence[_Draft], limits: Limits) -> tuple[list[_Draft], list[Unplaced]]:
    """Keep the nodes that fit the cluster limits, highest pod priority and lowest cost per pod first."""
    if limits.nodes is None and limits.gpus is None and limits.hourly_cost_usd is None:
        return list(drafts), []
    ranked = sorted(
        range(len(drafts)),
        key=lambda i: (
            -drafts[i].priority,
            drafts[i].pattern.shape.price / drafts[i].size,
            i,
        ),
    )
    kept: set[int] = set()
    held: list[Unplaced] = []
    nodes = gpus = 0
    cost = 0.0
    for i in ranked:
        offering = drafts[i].pattern.shape.offering
        node_gpus = offering.instance_type.gpus
        reason = None
        if limits.nodes is not None and nodes + 1 > limits.nodes:
            reason = f"held back by cluster limit maxNodes ({limits.nodes} new nodes allowed)"
        elif limits.gpus is not None and gpus + node_gpus > limits.gpus:
            reason = f"held back by cluster limit maxGpus ({limits.gpus} more GPUs allowed, the node has {node_gpus})"
        elif limits.hourly_cost_usd is not None and cost + offering.price_usd_per_hour > limits.hourly_cost_usd + 1e-9:
            reason = (
                f"held back by cluster limit maxHourlyCost (${limits.hourly_cost_usd:.2f}/h left, "
                f"${cost:.2f}/h used by this plan, the node costs ${offering.price_usd_per_hour:.2f}/h)"
            )
        if reason is None:
            kept.add(i)
            nodes += 1
            gpus += node_gpus
            cost += offering.price_usd_per_hour
        else:
            held.extend(Unplaced(key, reason) for key in run_keys(drafts[i].runs))
    return [d for i, d in enumerate(drafts) if i in kept], held


def _planned_node(problem: Problem, name: str, draft: _Draft) -> PlannedNode:
    shape = draft.pattern.shape
    labels: Mapping[str, str] = MappingProxyType(
        {**problem.config.node_labels, **shape.kind.labels, lbl.BIN_KIND: shape.bin.value}
    )
    return PlannedNode(
        name=name,
        offering=shape.offering,
        pods=tuple(run_keys(draft.runs)),
        allocatable=shape.kind.allocatable,
        bin=shape.bin,
        labels=labels,
        taints=shape.kind.taints,
        alternatives=draft.alternatives,
        gpu_mode=shape.kind.mode,
    )


def prepare(request: PlanRequest) -> tuple[Problem | None, dict[str, str], list[Unplaced]]:
    """Steps 1-4: the problem left for new nodes (None if nothing is), pods on existing nodes, unplaced pods."""
    classes, unplaced = classify(request.pods, request.config)
    on_existing = place_on_existing(classes, request.nodes)
    pending = [c for c in classes if c.count]
    if not pending:
        return None, on_existing, unplaced
    problem = Problem(request, pending)
    return problem, on_existing, unplaced + problem.unplaced


def plan(request: PlanRequest) -> Plan:
    """The cheapest nodes for the pending pods (module docstring)."""
    problem, on_existing, unplaced = prepare(request)
    nodes: list[PlannedNode] = []
    if problem is not None:
        drafts, held = _within_limits(_drafts(problem, problem.pack()), request.limits)
        unplaced += held
        nodes = [_planned_node(problem, f"{request.name_prefix}-{i:04d}", d) for i, d in enumerate(drafts)]
    return Plan(
        new_nodes=tuple(nodes),
        on_existing=MappingProxyType(dict(sorted(on_existing.items()))),
        unplaced=tuple(sorted(unplaced, key=lambda u: u.pod)),
    )
