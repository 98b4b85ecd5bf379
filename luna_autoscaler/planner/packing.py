"""Choosing node shapes and filling them: a greedy for the cutting-stock problem, anchored on the dearest pods.

The problem: classes of identical pods (counts, request vectors), each compatible with some node shapes
(offering x GPU mode, with allocatable and price); buy the cheapest multiset of nodes that holds every pod. It
is the cutting-stock problem with many stock sizes and multi-dimensional items; its LP relaxation is the
yardstick (behaviour.md: first-fit-decreasing lands at 1.33-2.0x of it, one node type per group at 1.08-1.27x).

What we do, and why:

1. Every class gets a *value*: the cheapest fractional share of a compatible node it could occupy,
   min over shapes of price x max over resources of request/allocatable. It is what a pod would cost on a
   perfectly packed node of its best shape, so value/price of a filled node measures how well the node is used
   (1.0: no waste anywhere).
2. Classes are taken dearest first (highest value: GPU and large pods shape the fleet; small pods fill holes).
   For the anchor class, a few candidate shapes are tried: the best by fractional share and the best by cost per
   pod when filled with the anchor alone. Each candidate is filled with as many anchor pods as fit (and, to
   leave room for partners, one or two fewer, or half), then the remaining room with other compatible classes,
   dearest first. The fill with the highest value/price wins (ties: cheaper, fewer idle GPUs, less idle CPU
   and memory, then name and zone). Trying fewer anchors lowered the Alibaba plans' cost by about 1 %; more
   candidate shapes (16, 32) gained under 0.2 % for twice the time, so that is not done.
3. The winning fill is a pattern; it is repeated as many times as the counts allow, so the loop runs once per
   distinct node pattern, not once per node or pod. That is what makes 20,000 pods take about a second.
4. Each pattern is then moved to the cheapest compatible shape that still holds it (the last node of a class
   is often half empty: a smaller type may hold it).
5. Sequential value correction (SVC, a known cutting-stock heuristic): the fractional-share value ignores how
   a class actually combines with the others. After a packing, each pod is charged its node's price split in
   proportion to the values of the pods on it; a class's new value is its pods' average charge, and everything
   is packed again from scratch with these values (new anchor order, partner order and fill ranking). Up to 20
   packings; the cheapest is kept, so the plan is never dearer than the first packing. A work bound (fills
   tried plus partners looked at) starts no further packing where one is already expensive (thousands of
   distinct classes get the single packing they always had). On the Alibaba trace this lowers the cost by
   0.3-1.6 % per file (0.9 % in total) for about 2-3x the packing time.

`binSelectDedicatedNodes` makes every bin-selected node hold one pod, as Luna does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from luna_autoscaler.models.catalog import CapacityType, Offering
from luna_autoscaler.planner.classes import PodClass
from luna_autoscaler.planner.shapes import NodeKind
from luna_autoscaler.planner.types import BinKind

CANDIDATES_BY_SHARE = 8  # shapes tried per anchor, best by fractional share
CANDIDATES_BY_FILL = 8  # and best by cost per pod with the anchor alone
CORRECTION_ROUNDS = 20  # packings at most: the first, then each after value correction
CORRECTION_WORK = 2_500_000  # fills tried plus partners looked at, over all packings (Packer.pack)
COST_EPSILON = 1e-6  # $/h: a later packing must be cheaper by more than rounding to be kept
PODS_DIM = 2  # index of the pods dimension in every vector (see planning.BASE_DIMENSIONS)


@dataclass(eq=False, slots=True)
class Shape:
    """A node that could be bought: one offering of one node kind, with its allocatable after DaemonSets."""

    kind: NodeKind
    offering_index: int
    offering: Offering
    bin: BinKind
    vector: tuple[int, ...]  # allocatable over the plan's dimensions
    sort_key: tuple[object, ...]  # price, then deterministic tie-breaks
    partners: list[Demand] | None = None  # compatible demands with pods left, dearest first (filled lazily)
    pruned_at: int = 0  # the packer's pattern count when `partners` was last pruned of exhausted demands

    @property
    def price(self) -> float:
        return self.offering.price_usd_per_hour


@dataclass(eq=False, slots=True)
class Demand:
    """A class of pods to place, with its shapes: the cheapest fitting offering of each undominated node kind, in
    the class's first preferred capacity type that has any."""

    cls: PodClass
    vector: tuple[int, ...]
    remaining: int
    shapes: list[Shape]  # sorted by fractional share cost, then shape sort key
    value: float  # cheapest fractional share (module docstring)
    capacity_type: CapacityType  # the preferred capacity type that has compatible shapes
    fit_counts: list[int] = field(default_factory=list)  # pods of this class alone per node, per shape


@dataclass(slots=True)
class Pattern:
    """`repeat` identical nodes of `shape`, each holding `counts` pods of each demand."""

    shape: Shape
    counts: list[tuple[Demand, int]]
    repeat: int

    def total(self) -> list[int]:
        total = [0] * len(self.shape.vector)
        for demand, n in self.counts:
            for i, v in enumerate(demand.vector):
                total[i] += v * n
        return total


def max_fit(request: Sequence[int], free: Sequence[int], limit: int) -> int:
    """How many pods of `request` fit in `free`, at most `limit`."""
    n = limit
    for r, f in zip(request, free, strict=True):
        if r > 0:
            q = f // r
            if q < n:
                n = q
                if n <= 0:
                    return 0
    return n


def share(request: Sequence[int], allocatable: Sequence[int]) -> float:
    """The largest fraction of any resource of the node that one pod takes."""
    worst = 0.0
    for r, a in zip(request, allocatable, strict=True):
        if r > 0:
            worst = max(worst, r / a)
    return worst


@dataclass(slots=True)
class _Fill:
    shape: Shape
    counts: list[tuple[Demand, int]]
    value: float
    free: list[int]

    def rank(self) -> tuple[object, ...]:
        """Smaller is better: highest value per dollar, then cheaper, fewer idle GPUs, less idle CPU+memory."""
        vector = self.shape.vector
        idle_gpus = sum(self.free[i] for i in range(4, len(vector))) / max(1, self.shape.kind.mode.replicas)
        idle = sum(self.free[i] / vector[i] for i in (0, 1) if vector[i] > 0)
        return (
            -round(self.value / self.shape.price, 9),
            self.shape.price,
            idle_gpus,
            round(idle, 9),
            self.shape.sort_key,
        )


class Packer:
    """Packs demands of one bin kind into patterns (module docstring)."""

    def __init__(
        self,
        demands: Sequence[Demand],
        compatible: Callable[[Demand, Shape], bool],
        candidates: Callable[[Shape], Iterable[Demand]],
        *,
        dedicated: bool,
    ) -> None:
        self.demands = sorted(demands, key=self._order)
        self.compatible = compatible
        self.candidates = candidates
        self.dedicated = dedicated
        self._patterns = 0  # patterns chosen so far: demands may have run out since a partner list was pruned
        self._counts = {id(d): d.remaining for d in demands}
        self._listed: list[tuple[Shape, list[Demand]]] = []  # shapes whose partners were listed, with all of them
        self._work = 0  # fills tried plus partners looked at in them, over all packings

    @staticmethod
    def _order(demand: Demand) -> tuple[float, int]:
        return (-demand.value, demand.cls.index)

    def _partners(self, shape: Shape) -> list[Demand]:
        """Compatible demands with pods left, dearest first."""
        if shape.partners is None:
            compatible = [d for d in self.candidates(shape) if self.compatible(d, shape)]
            self._listed.append((shape, compatible))
            shape.partners = sorted(compatible, key=self._order)
        elif shape.pruned_at != self._patterns:
            shape.partners = [d for d in shape.partners if d.remaining]
        shape.pruned_at = self._patterns
        return shape.partners

    def _fill(self, shape: Shape, anchor: Demand, k: int) -> _Fill:
        free = list(shape.vector)
        for i, r in enumerate(anchor.vector):
            free[i] -= r * k
        counts = [(anchor, k)]
        value = k * anchor.value
        self._work += 1
        if not self.dedicated:
            partners = self._partners(shape)
            self._work += len(partners)
            for d in partners:
                if d.vector[0] > free[0] or d.vector[1] > free[1] or d.remaining == 0 or d is anchor:
                    continue  # CPU and memory first: cheap, and where most pods stop fitting
                m = max_fit(d.vector, free, d.remaining)
                if m:
                    for i, r in enumerate(d.vector):
                        free[i] -= r * m
                    counts.append((d, m))
                    value += m * d.value
                    if free[PODS_DIM] <= 0:
                        break
        return _Fill(shape, counts, value, free)

    def _anchor_counts(self, shape: Shape, anchor: Demand) -> list[int]:
        """How many anchor pods to put on the node: as many as fit, or a little fewer to leave room."""
        most = max_fit(anchor.vector, shape.vector, 1 if self.dedicated else anchor.remaining)
        return sorted({k for k in (most, most - 1, most - 2, (most + 1) // 2) if k > 0}, reverse=True)

    def _candidates(self, anchor: Demand) -> list[Shape]:
        chosen: dict[int, Shape] = {}
        for shape in anchor.shapes[:CANDIDATES_BY_SHARE]:
            chosen[id(shape)] = shape
        limit = 1 if self.dedicated else anchor.remaining
        by_fill = sorted(
            (s.price / min(k, limit), i) for i, (s, k) in enumerate(zip(anchor.shapes, anchor.fit_counts, strict=True))
        )
        for _, i in by_fill[:CANDIDATES_BY_FILL]:
            chosen[id(anchor.shapes[i])] = anchor.shapes[i]
        return list(chosen.values())

    def pack(self) -> list[Pattern]:
        """The cheapest of a few packings, each after value correction from the one before (module docstring).
        At most `CORRECTION_ROUNDS`; another packing starts only if one as long as the last keeps the work within
        `CORRECTION_WORK`, so thousands of distinct classes get the single packing they always had."""
        values = [d.value for d in self.demands]
        patterns = self._pack_once()
        best, best_cost = patterns, _cost(patterns)
        rounds, last_work = 1, self._work
        while rounds < CORRECTION_ROUNDS and self._work + last_work <= CORRECTION_WORK:
            self._correct_values(patterns)
            before = self._work
            patterns = self._pack_once()
            rounds, last_work = rounds + 1, self._work - before
            cost = _cost(patterns)
            if cost < best_cost - COST_EPSILON:
                best, best_cost = patterns, cost
        for d, value in zip(self.demands, values, strict=True):
            d.value, d.remaining = value, 0
        return best

    def _pack_once(self) -> list[Pattern]:
        """One greedy packing of every demand from its full count, at the demands' current values."""
        self.demands.sort(key=self._order)
        for d in self.demands:
            d.remaining = self._counts[id(d)]
        for shape, compatible in self._listed:
            shape.partners = sorted(compatible, key=self._order)
        self._patterns += 1  # lists sorted above hold every demand: prune them at first use
        patterns: list[Pattern] = []
        for anchor in self.demands:
            while anchor.remaining > 0:
                fills = [
                    self._fill(s, anchor, k) for s in self._candidates(anchor) for k in self._anchor_counts(s, anchor)
                ]
                best = min(fills, key=_Fill.rank)
                repeat = min(d.remaining // n for d, n in best.counts)
                for d, n in best.counts:
                    d.remaining -= n * repeat
                self._patterns += 1
                patterns.append(Pattern(best.shape, best.counts, repeat))
        return [self._downsized(p) for p in patterns]

    def _correct_values(self, patterns: Sequence[Pattern]) -> None:
        """Sequential value correction: each pod is charged its node's price split in proportion to the values of
        the pods on it, and a class's new value is its pods' average charge. The values then sum to the packing's
        cost; classes that end up on well-filled nodes get cheaper, those that leave room no one takes dearer, so
        the next packing anchors and partners them differently."""
        charged = dict.fromkeys(self._counts, 0.0)
        for p in patterns:
            price_per_value = p.shape.price / sum(n * d.value for d, n in p.counts)
            for d, n in p.counts:
                charged[id(d)] += p.repeat * n * d.value * price_per_value
        for d in self.demands:
            d.value = charged[id(d)] / self._counts[id(d)]

    def _downsized(self, pattern: Pattern) -> Pattern:
        """The same pods on the cheapest compatible shape that holds them."""
        total = pattern.total()
        anchor = pattern.counts[0][0]
        best = pattern.shape
        for shape in anchor.shapes:
            if shape.sort_key >= best.sort_key:
                continue
            if all(t <= a for t, a in zip(total, shape.vector, strict=True)) and all(
                self.compatible(d, shape) for d, _ in pattern.counts
            ):
                best = shape
        pattern.shape = best
        return pattern


def _cost(patterns: Sequence[Pattern]) -> float:
    return sum(p.shape.price * p.repeat for p in patterns)
