"""Node patterns chosen against each other: column generation over the packer's patterns, then an integer master.

The greedy packer (packing.py) builds good nodes one at a time, but never weighs one node pattern against a
combination of others. The cutting-stock formulation does:

    min sum_p price_p x_p   s.t.  sum_p a_cp x_p >= n_c for every class c,  x_p >= 0 integer

over patterns p (a shape and how many pods of each class it holds). Its LP relaxation is the yardstick the
benchmarks measure plans against. What is done here, per bin kind:

1. The restricted master starts with the greedy packing's patterns and one pattern per class (the class alone
   on its best shape, as many as fit), so it is feasible and its optimum is never above the greedy cost.
2. Column generation: HiGHS solves the master's LP; its duals y_c price the pods; for each candidate shape (the
   best PRICING_SHAPES of each class by fractional share, which covers the non-dominated ones that matter), the
   pricing knapsack max y.a within the shape's room (knapsack.py) is solved by a ladder, each rung only when
   the one before found no pattern worth more than its price: greedy fills on every candidate (until a round
   where they find none: near the LP optimum they never do again); LP rounding with a short dive (DIVE_STEPS
   knapsack LPs) on the ROUNDED_PER_ROUND candidates whose upper bound per price is highest; HiGHS's branch and
   bound (EXACT_NODES nodes) on the EXACT_PER_ROUND best of those, EXACT_PRICINGS times at most. Greedy
   pricing alone stalls a few per cent above the LP optimum; the other rungs find the mixed patterns it misses.
   Improving patterns are added, the most negative reduced costs first, COLUMNS_PER_ROUND per round at most,
   until a round adds none or after `rounds` rounds (the `planOptimizationRounds` setting): the work bound that
   trades time for cost (docs/design/planner.md, "Choosing patterns against each other", has the trade-off).
3. Rounding: the LP optimum rounded down, the pods that leaves covered by a small integer master over the
   columns the LP uses fractionally (and the single-class ones), so the plan costs the LP optimum plus a few
   nodes; small masters also get HiGHS's branch and bound over every column from the best plan so far. Pods a
   pattern over-covers are dropped from its last nodes (a node with fewer pods still fits them), nodes left
   empty are not bought, and each node is then downsized.
4. The result is kept only if it is cheaper than the greedy packing: the greedy plan is the floor.

Deterministic: the model is built in a fixed order from the deterministic packing, HiGHS runs single-threaded
with a fixed seed, and every loop is bounded by counts (rounds, columns, LPs per dive, exact pricings,
branch-and-bound nodes), never by time. Problems with more than MAX_CLASSES classes keep the greedy packing: the
master's work grows faster than linearly with them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from luna_autoscaler.planner.knapsack import Pricing
from luna_autoscaler.planner.packing import COST_EPSILON, Demand, Packer, Pattern, Shape, downsized, max_fit
from luna_autoscaler.planner.solver import Master

MAX_CLASSES = 600  # beyond this many classes in one bin kind, the greedy packing alone
PRICING_SHAPES = 16  # shapes priced per class: its best by fractional share
COLUMNS_PER_ROUND = 100  # new patterns added per round at most
MIP_NODES = 20  # branch-and-bound nodes for an integer master
FULL_MASTER = 5_000  # columns x classes up to which the whole integer master is searched too
ROUNDED_PER_ROUND = 96  # shapes priced by LP rounding per round at most, when greedy fills find nothing
DIVE_STEPS = 3  # knapsack LPs per LP-rounding pricing (a dive: knapsack.Pricing.rounded)
EXACT_PER_ROUND = 8  # shapes priced exactly per round at most, when LP rounding finds nothing
EXACT_NODES = 200  # branch-and-bound nodes per exact pricing
EXACT_PRICINGS = 48  # exact pricings per bin kind at most
REDUCED_COST = 1e-6  # relative: a pattern must be worth this much more than its price to be added


Column = tuple[Shape, list[tuple[int, int]]]  # a node pattern: its shape, and (class index, pods) by class


def choose(
    greedy: list[Pattern],
    demands: Sequence[Demand],
    compatible: Callable[[Demand, Shape], bool],
    accepts: Callable[[Demand, Shape], bool],
    rounds: int,
) -> list[Pattern]:
    """The cheaper of the greedy patterns and the column-generation plan over them (module docstring).
    `compatible`: constraints and room for one pod; `accepts`: constraints only, the same per Demand.group;
    `rounds`: column generation rounds at most (0: the greedy plan)."""
    if not greedy or not demands or len(demands) > MAX_CLASSES or rounds <= 0:
        return greedy
    generated = _generate(greedy, demands, accepts, rounds)
    if generated is None:
        return greedy
    master, columns, relaxed, start = generated
    counts = [d.cls.count for d in demands]
    values = _integer(master, columns, relaxed, counts, start)
    cheapest, ceiling = greedy, _cost(greedy) - COST_EPSILON  # the greedy plan is the floor
    for plan in (
        _patterns(columns, values, demands, counts, compatible),
        _floor_packed(columns, relaxed, demands, counts, compatible=compatible, accepts=accepts),
    ):
        if plan is not None and _cost(plan) < ceiling:
            cheapest, ceiling = plan, _cost(plan) - COST_EPSILON
    return cheapest


def generated_patterns(
    greedy: list[Pattern], demands: Sequence[Demand], accepts: Callable[[Demand, Shape], bool], rounds: int
) -> list[Pattern]:
    """Every pattern column generation ends with (one node each): benchmarks/lp_bound.py seeds its LP with them."""
    generated = _generate(greedy, demands, accepts, rounds)
    columns = generated[1] if generated is not None else []
    return [Pattern(shape, [(demands[c], n) for c, n in pattern], 1) for shape, pattern in columns]


def _generate(
    greedy: list[Pattern], demands: Sequence[Demand], accepts: Callable[[Demand, Shape], bool], rounds: int
) -> tuple[Master, list[Column], NDArray[np.float64], list[float]] | None:
    """Steps 1-2 of the module docstring: the master, its columns, its LP optimum over them, and the greedy plan
    as a solution of it; None if HiGHS solved no LP."""
    index = {id(d): c for c, d in enumerate(demands)}
    counts = [d.cls.count for d in demands]
    master = Master([float(n) for n in counts])
    columns: list[Column] = []
    column_of: dict[tuple[int, tuple[tuple[int, int], ...]], int] = {}

    def add(shape: Shape, pattern: list[tuple[int, int]]) -> int:
        """The pattern's column, added if new."""
        key = (id(shape), tuple(pattern))
        if key not in column_of:
            column_of[key] = len(columns)
            columns.append((shape, pattern))
            master.add(shape.price, [c for c, _ in pattern], [n for _, n in pattern])
        return column_of[key]

    start: dict[int, float] = {}
    for p in greedy:
        column = add(p.shape, sorted((index[id(d)], n) for d, n in p.counts))
        start[column] = start.get(column, 0.0) + p.repeat
    for c, d in enumerate(demands):
        best = min(range(len(d.shapes)), key=lambda i: (d.shapes[i].price / d.fit_counts[i], i))
        add(d.shapes[best], [(c, d.fit_counts[best])])
    pricing = _pricing_shapes(demands, counts, accepts)
    effort = Effort()
    solved = None
    for _ in range(rounds):
        solution = master.solve()
        if solution is None:
            break
        solved = solution
        before = len(columns)
        for shape, pattern in _priced(pricing, solution.duals, effort)[:COLUMNS_PER_ROUND]:
            add(shape, pattern)
        if len(columns) == before:
            break
    if solved is not None and len(solved.values) < len(columns):  # the last round added columns: solve again
        solved = master.solve() or solved
    if solved is None:
        return None
    relaxed = np.zeros(len(columns))  # columns added after the last LP solved are at 0 in it
    relaxed[: len(solved.values)] = solved.values
    return master, columns, relaxed, [start.get(i, 0.0) for i in range(len(columns))]


def _floor_packed(
    columns: Sequence[Column],
    relaxed: NDArray[np.float64],
    demands: Sequence[Demand],
    counts: Sequence[int],
    *,
    compatible: Callable[[Demand, Shape], bool],
    accepts: Callable[[Demand, Shape], bool],
) -> list[Pattern]:
    """The other rounding: the LP optimum's whole nodes, and the pods they leave (a few per class, of many
    classes) packed by the greedy packer, which mixes such remnants better than a short branch and bound."""
    patterns, left = _nodes(columns, np.floor(relaxed + 1e-9), demands, counts)
    for d, n in zip(demands, left, strict=True):
        d.remaining = n  # what the packer packs; it leaves every remaining at 0 again
    rest = [d for d in demands if d.remaining > 0]
    packed = Packer(rest, compatible, accepts, dedicated=False).pack() if rest else []
    return [downsized(p, compatible) for p in patterns] + packed


class Effort:
    """Where the pricing ladder stands in one column generation (module docstring)."""

    def __init__(self) -> None:
        self.greedy = True  # greedy fills still find columns
        self.exact = 0  # exact pricings done


def _priced(pricing: Sequence[Pricing], duals: NDArray[np.float64], effort: Effort) -> list[Column]:
    """This round's improving patterns, most negative reduced cost first: by greedy fills on every candidate
    (until a round where they find none); then by LP rounding on the ROUNDED_PER_ROUND candidates with the best
    bound per price; if those find none, exactly on the EXACT_PER_ROUND best (within the EXACT_PRICINGS left)."""
    found: list[tuple[float, tuple[object, ...], list[tuple[int, int]], Shape]] = []

    def keep(candidate: Pricing, value: float, pattern: list[tuple[int, int]]) -> None:
        price = candidate.shape.price
        if pattern and value > price * (1 + REDUCED_COST):
            found.append(((price - value) / price, candidate.shape.sort_key, pattern, candidate.shape))

    if effort.greedy:
        for candidate in pricing:
            keep(candidate, *candidate.greedy(duals))
        effort.greedy = bool(found)
    if not found:
        ranked = []
        for i, candidate in enumerate(pricing):
            bound = candidate.bound(duals)
            if bound > candidate.shape.price * (1 + REDUCED_COST):
                ranked.append((-bound / candidate.shape.price, candidate.shape.sort_key, i))
        ranked.sort()
        starts: dict[int, list[tuple[int, int]]] = {}
        for _, _, i in ranked[:ROUNDED_PER_ROUND]:
            value, starts[i] = pricing[i].rounded(duals, DIVE_STEPS)
            keep(pricing[i], value, starts[i])
        if not found:
            for _, _, i in ranked[: max(0, min(EXACT_PER_ROUND, EXACT_PRICINGS - effort.exact))]:
                effort.exact += 1
                keep(pricing[i], *pricing[i].exact(duals, starts.get(i, []), EXACT_NODES))
    found.sort(key=lambda f: f[:3])
    return [(shape, pattern) for _, _, pattern, shape in found]


def _integer(
    master: Master,
    columns: Sequence[Column],
    relaxed: NDArray[np.float64],
    counts: Sequence[int],
    greedy: Sequence[float],
) -> NDArray[np.float64]:
    """An integer solution of the master, the cheapest of: the greedy plan; the LP optimum rounded down with the
    pods that leaves uncovered covered by a small integer master (`_rounded`); and, for a small master (at most
    FULL_MASTER columns x classes), HiGHS's branch and bound over the whole master from the better of those."""
    prices = np.array([shape.price for shape, _ in columns])
    best = np.asarray(greedy, dtype=np.float64)
    rounded = _rounded(columns, relaxed, counts)
    if rounded is not None and prices @ rounded < prices @ best - COST_EPSILON:
        best = rounded
    if len(columns) * len(counts) <= FULL_MASTER:
        values = master.solve_integer(MIP_NODES, best.tolist())
        if values is not None and prices @ values < prices @ best - COST_EPSILON:
            best = values
    return best


def _rounded(
    columns: Sequence[Column], relaxed: NDArray[np.float64], counts: Sequence[int]
) -> NDArray[np.float64] | None:
    """The LP optimum rounded down, plus what covers the pods that leaves: an integer master over the columns
    the LP uses fractionally and the single-class ones, for the uncovered pods only (a few nodes per class at
    most), by branch and bound from the fractional columns rounded up, MIP_NODES nodes."""
    floor = np.floor(relaxed + 1e-9)
    left = np.asarray(counts, dtype=np.float64)
    for i, (_, pattern) in enumerate(columns):
        if floor[i]:
            for c, n in pattern:
                left[c] -= n * floor[i]
    left = np.maximum(left, 0.0)
    if not left.any():
        return floor
    fraction = relaxed - floor
    support = [i for i in range(len(columns)) if fraction[i] > 1e-9 or len(columns[i][1]) == 1]
    residual = Master([float(x) for x in left])
    for i in support:
        shape, pattern = columns[i]
        residual.add(shape.price, [c for c, _ in pattern], [n for _, n in pattern])
    values = residual.solve_integer(MIP_NODES, [float(np.ceil(fraction[i] - 1e-9)) for i in support])
    if values is None:
        return None
    floor[support] += values
    return floor


def _pricing_shapes(
    demands: Sequence[Demand], counts: Sequence[int], accepts: Callable[[Demand, Shape], bool]
) -> list[Pricing]:
    """The candidate shapes (each class's best PRICING_SHAPES), each with the classes it accepts."""
    shapes: dict[int, Shape] = {}
    for d in demands:
        for shape in d.shapes[:PRICING_SHAPES]:
            shapes.setdefault(id(shape), shape)
    ordered = sorted(shapes.values(), key=lambda s: s.sort_key)
    accepted: dict[tuple[object, int], bool] = {}
    out = []
    for shape in ordered:
        classes = []
        for c, d in enumerate(demands):
            key = (d.group, id(shape))
            if key not in accepted:
                accepted[key] = accepts(d, shape)
            if accepted[key] and max_fit(d.vector, shape.vector, 1):
                classes.append(c)
        if classes:
            out.append(Pricing(shape, classes, demands, counts))
    return out


def _patterns(
    columns: Sequence[Column],
    values: NDArray[np.float64],
    demands: Sequence[Demand],
    counts: Sequence[int],
    compatible: Callable[[Demand, Shape], bool],
) -> list[Pattern] | None:
    """The integer solution as downsized patterns, or None if it leaves pods out."""
    patterns, left = _nodes(columns, values, demands, counts)
    if any(left):
        return None
    return [downsized(p, compatible) for p in patterns]


def _nodes(
    columns: Sequence[Column],
    values: NDArray[np.float64],
    demands: Sequence[Demand],
    counts: Sequence[int],
) -> tuple[list[Pattern], list[int]]:
    """Integer column values as patterns, over-covered pods dropped from the last nodes, empty nodes not bought;
    and the pods of each class they leave out."""
    left = list(counts)
    patterns: list[Pattern] = []
    order = sorted(range(len(columns)), key=lambda i: (-columns[i][0].price, i))  # dearest nodes filled first
    for i in order:
        shape, pattern = columns[i]
        for _ in range(int(values[i])):
            held = [(c, min(n, left[c])) for c, n in pattern if min(n, left[c]) > 0]
            if not held:
                break
            for c, n in held:
                left[c] -= n
            dearest_first = sorted(held, key=lambda h: (-demands[h[0]].value, h[0]))
            node = [(demands[c], n) for c, n in dearest_first]
            last = patterns[-1] if patterns else None
            if (
                last is not None
                and last.shape is shape
                and [(id(d), n) for d, n in last.counts] == [(id(d), n) for d, n in node]
            ):
                last.repeat += 1
            else:
                patterns.append(Pattern(shape, node, 1))
    return patterns, left


def _cost(patterns: Sequence[Pattern]) -> float:
    return sum(p.shape.price * p.repeat for p in patterns)
