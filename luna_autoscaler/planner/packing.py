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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from luna_autoscaler.models.catalog import CapacityType, Offering
from luna_autoscaler.models.resources import NVIDIA_GPU
from luna_autoscaler.planner.classes import PodClass
from luna_autoscaler.planner.shapes import NodeKind
from luna_autoscaler.planner.types import BinKind

CANDIDATES_BY_SHARE = 8  # shapes tried per anchor, best by fractional share
CANDIDATES_BY_FILL = 8  # and best by cost per pod with the anchor alone
FILL_VECTOR_WIDTH = 64  # a fill's vector operations over n classes count as n / this much work
FEW_DEMANDS = 1_000  # above this many classes, fewer shapes per anchor: candidates x classes <= 8 x FEW_DEMANDS
CORRECTION_ROUNDS = 20  # packings at most: the first, then each after value correction
CORRECTION_WORK = 2_500_000  # fills tried plus partners looked at, over all packings (Packer.pack)
COST_EPSILON = 1e-6  # $/h: a later packing must be cheaper by more than rounding to be kept
COMPACT_ABOVE = 256  # classes: fewer than this, dropping the dead from the packer's arrays is not worth it
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
    by_fill: tuple[int, list[int]] = (-1, [])  # (remaining, shape indexes by price per pod alone) when computed
    # The shapes' prices and fit counts as arrays, for by_fill (set with fit_counts).
    prices: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    fits: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # What decides which shapes' constraints accept the demand, room aside: its signature, its capacity type,
    # and whether it asks for several GPUs (never on time-sliced ones).
    group: tuple[int, CapacityType, bool] = field(init=False)

    def __post_init__(self) -> None:
        self.group = (self.cls.signature.index, self.capacity_type, self.cls.requests.get(NVIDIA_GPU) > 1)


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


def _best(fills: Sequence[_Fill]) -> _Fill:
    """The fill of smallest rank; the full rank only for those tied on value per dollar and price."""
    heads = [(-round(f.value / f.shape.price, 9), f.shape.price) for f in fills]
    top = min(heads)
    tied = [f for f, head in zip(fills, heads, strict=True) if head == top]
    return tied[0] if len(tied) == 1 else min(tied, key=_Fill.rank)


class Packer:
    """Packs demands of one bin kind into patterns (module docstring)."""

    def __init__(
        self,
        demands: Sequence[Demand],
        compatible: Callable[[Demand, Shape], bool],
        accepts: Callable[[Demand, Shape], bool],
        *,
        dedicated: bool,
    ) -> None:
        self.demands = sorted(demands, key=self._order)
        self.compatible = compatible  # constraints, capacity type and room for one pod
        self.accepts = accepts  # the same without room: one answer per demand group (Demand.group)
        self.dedicated = dedicated
        self._tries = max(1, min(CANDIDATES_BY_SHARE, CANDIDATES_BY_SHARE * FEW_DEMANDS // max(1, len(demands))))
        self._counts = {id(d): d.remaining for d in demands}
        self._group_keys = list(dict.fromkeys(d.group for d in self.demands))
        self._group_of = {key: i for i, key in enumerate(self._group_keys)}
        first: dict[tuple[int, CapacityType, bool], Demand] = {}
        for d in demands:
            first.setdefault(d.group, d)
        self._representatives = [first[key] for key in self._group_keys]
        # This packing's demands with pods left, in order, as arrays (built by _index, compacted by _consumed as
        # demands run out): a fill finds the partners whose CPU and memory fit with a few vector operations over
        # the live classes only, then walks those.
        self._rank: dict[int, int] = {}  # id(demand) -> position in this packing's order
        self._live = self._cpu = self._memory = self._group = np.zeros(0, dtype=np.int64)  # _live: positions
        self._left = np.zeros(0, dtype=np.bool_)  # pods left (a demand stays in the arrays until compaction)
        self._dead = 0  # demands in the arrays without pods left
        self._accepting_masks: dict[int, NDArray[np.bool_]] = {}  # id(shape) -> demands in the arrays accepting it
        # id(shape) -> this packer's partner groups whose constraints accept it: per packer, since a shape is shared
        # by packers over other demands (the master packs the pods its LP rounding leaves over).
        self._shape_groups: dict[int, list[int]] = {}
        self._work = 0  # fills tried plus partners looked at in them, over all packings

    @staticmethod
    def _order(demand: Demand) -> tuple[float, int]:
        return (-demand.value, demand.cls.index)

    def _index(self) -> None:
        """Index the demands in the current order (after sorting them by value)."""
        self._rank = {id(d): rank for rank, d in enumerate(self.demands)}
        self._live = np.arange(len(self.demands), dtype=np.int64)
        self._cpu = np.array([d.vector[0] for d in self.demands], dtype=np.int64)
        self._memory = np.array([d.vector[1] for d in self.demands], dtype=np.int64)
        self._group = np.array([self._group_of[d.group] for d in self.demands], dtype=np.int64)
        self._left = np.array([d.remaining > 0 for d in self.demands], dtype=np.bool_)
        self._dead = int(np.count_nonzero(~self._left))
        self._compact()

    def _consumed(self, demand: Demand) -> None:
        """The demand has no pods left: mark it, and drop the dead from the arrays once they are half of them, so
        the vector operations of a fill cost what is left to pack, not every class (amortised: each demand is
        copied O(1) times on average)."""
        self._left[np.searchsorted(self._live, self._rank[id(demand)])] = False
        self._dead += 1
        if 2 * self._dead > len(self._live) > COMPACT_ABOVE:
            self._compact()

    def _compact(self) -> None:
        keep = np.flatnonzero(self._left)
        self._live, self._group, self._left, self._dead = self._live[keep], self._group[keep], self._left[keep], 0
        self._cpu, self._memory, self._accepting_masks = self._cpu[keep], self._memory[keep], {}

    def _accepting(self, shape: Shape) -> NDArray[np.bool_]:
        """Which demands in the arrays accept the shape's constraints (cached per shape until compaction)."""
        accepting = self._accepting_masks.get(id(shape))
        if accepting is None:
            groups = self._shape_groups.get(id(shape))
            if groups is None:
                groups = self._shape_groups[id(shape)] = [
                    g for g, d in enumerate(self._representatives) if self.accepts(d, shape)
                ]
            table = np.zeros(len(self._group_keys), dtype=np.bool_)
            table[groups] = True
            accepting = self._accepting_masks[id(shape)] = table[self._group]
        return accepting

    def _fill(self, shape: Shape, anchor: Demand, k: int) -> _Fill:
        free = list(shape.vector)
        for i, r in enumerate(anchor.vector):
            free[i] -= r * k
        counts = [(anchor, k)]
        value = k * anchor.value
        self._work += 1
        if self.dedicated or free[PODS_DIM] <= 0:
            return _Fill(shape, counts, value, free)
        fitting = self._left & self._accepting(shape) & (self._cpu <= free[0]) & (self._memory <= free[1])
        positions = np.flatnonzero(fitting)  # dearest first, as one list sorted by value
        self._work += len(self.demands) // FILL_VECTOR_WIDTH + len(positions)
        cpu, memory, live, demands = self._cpu[positions], self._memory[positions], self._live[positions], self.demands
        # Walk the candidates in order. After each partner taken, those of the rest that still fit the CPU and
        # memory left (free only shrinks, so one pass suffices): a few vector operations over contiguous arrays.
        candidates, j = np.arange(len(positions)), 0
        while j < len(candidates):
            at = int(candidates[j])
            j += 1
            d = demands[live[at]]
            if d is anchor:
                continue
            m = max_fit(d.vector, free, d.remaining)
            if m:
                for i, r in enumerate(d.vector):
                    free[i] -= r * m
                counts.append((d, m))
                value += m * d.value
                if free[PODS_DIM] <= 0:
                    break
                at += 1
                candidates, j = np.flatnonzero((cpu[at:] <= free[0]) & (memory[at:] <= free[1])) + at, 0
        return _Fill(shape, counts, value, free)

    def _anchor_counts(self, shape: Shape, anchor: Demand) -> list[int]:
        """How many anchor pods to put on the node: as many as fit, or a little fewer to leave room."""
        most = max_fit(anchor.vector, shape.vector, 1 if self.dedicated else anchor.remaining)
        return sorted({k for k in (most, most - 1, most - 2, (most + 1) // 2) if k > 0}, reverse=True)

    def _candidates(self, anchor: Demand) -> list[Shape]:
        chosen: dict[int, Shape] = {}
        for shape in anchor.shapes[: self._tries]:
            chosen[id(shape)] = shape
        limit = 1 if self.dedicated else anchor.remaining
        if anchor.by_fill[0] != limit:
            per_pod = anchor.prices / np.minimum(anchor.fits, limit)
            best = np.argsort(per_pod, kind="stable")[: self._tries * CANDIDATES_BY_FILL // CANDIDATES_BY_SHARE]
            anchor.by_fill = (limit, best.tolist())
        for i in anchor.by_fill[1]:
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
        self._index()
        patterns: list[Pattern] = []
        for anchor in self.demands:
            while anchor.remaining > 0:
                fills = [
                    self._fill(s, anchor, k) for s in self._candidates(anchor) for k in self._anchor_counts(s, anchor)
                ]
                best = _best(fills)
                repeat = min(d.remaining // n for d, n in best.counts)
                for d, n in best.counts:
                    d.remaining -= n * repeat
                    if not d.remaining:
                        self._consumed(d)
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
        return downsized(pattern, self.compatible)


def downsized(pattern: Pattern, compatible: Callable[[Demand, Shape], bool]) -> Pattern:
    """The same pods on the cheapest compatible shape (of the first demand's) that holds them."""
    total = pattern.total()
    anchor = pattern.counts[0][0]
    best = pattern.shape
    for shape in anchor.shapes:
        if shape.sort_key >= best.sort_key:
            continue
        if all(t <= a for t, a in zip(total, shape.vector, strict=True)) and all(
            compatible(d, shape) for d, _ in pattern.counts
        ):
            best = shape
    pattern.shape = best
    return pattern


def _cost(patterns: Sequence[Pattern]) -> float:
    return sum(p.shape.price * p.repeat for p in patterns)
