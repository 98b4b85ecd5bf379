"""Node patterns chosen against each other: column generation over the packer's patterns, then an integer master.

The greedy packer (packing.py) builds good nodes one at a time, but never weighs one node pattern against a
combination of others. The cutting-stock formulation does:

    min sum_p price_p x_p   s.t.  sum_p a_cp x_p >= n_c for every class c,  x_p >= 0 integer

over patterns p (a shape and how many pods of each class it holds). Its LP relaxation is the yardstick the
benchmarks measure plans against. What is done here, per bin kind:

1. The restricted master starts with the greedy packing's patterns and one pattern per class (the class alone
   on its best shape, as many as fit), so it is feasible and its optimum is never above the greedy cost.
2. Column generation: HiGHS solves the master's LP; its duals y_c price the pods; for each candidate shape (the
   best PRICING_SHAPES of each class by fractional share, which covers the non-dominated ones that matter), a
   knapsack max y.a within the shape's room is solved greedily in three orders (dual per share of the tightest
   resource, dual per summed share, dual alone); patterns worth more than their price are added, the most
   negative reduced costs first. It stops when none is found or after ROUNDS rounds.
3. Rounding: the master with integer x, solved by HiGHS's branch and bound from the greedy plan as the incumbent
   and cut off after MIP_NODES nodes. Pods a pattern over-covers are dropped from its last nodes (a node with
   fewer pods still fits them), nodes left empty are not bought, and each node is then downsized.
4. The result is kept only if it is cheaper than the greedy packing: the greedy plan is the floor.

Deterministic: the model is built in a fixed order from the deterministic packing, HiGHS runs single-threaded
with a fixed seed, and every loop is bounded by counts (rounds, columns, nodes), never by time. Problems with
more than MAX_CLASSES classes keep the greedy packing: the master's work grows faster than linearly with them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from luna_autoscaler.planner.packing import COST_EPSILON, Demand, Pattern, Shape, downsized, max_fit
from luna_autoscaler.planner.solver import Master

MAX_CLASSES = 600  # beyond this many classes in one bin kind, the greedy packing alone
PRICING_SHAPES = 16  # shapes priced per class: its best by fractional share
ROUNDS = 30  # column generation rounds at most
COLUMNS_PER_ROUND = 40  # new patterns added per round at most
MIP_NODES = 20  # branch-and-bound nodes for the integer master
REDUCED_COST = 1e-6  # relative: a pattern must be worth this much more than its price to be added


class _Pricing:
    """One candidate shape: the classes it accepts and how many of each fit alone."""

    __slots__ = ("classes", "fits", "room", "shape", "sizes")

    def __init__(self, shape: Shape, classes: list[int], demands: Sequence[Demand], counts: Sequence[int]) -> None:
        self.shape = shape
        self.classes = classes
        self.room = shape.vector
        self.fits = [max_fit(demands[c].vector, shape.vector, counts[c]) for c in classes]
        self.sizes = [
            [
                r / a if a else (0.0 if not r else float("inf"))
                for r, a in zip(demands[c].vector, shape.vector, strict=True)
            ]
            for c in classes
        ]

    def best(self, duals: NDArray[np.float64], demands: Sequence[Demand]) -> tuple[float, list[tuple[int, int]]]:
        """The most valuable pattern the greedy knapsacks find, and its value."""
        items = [(j, float(duals[c])) for j, c in enumerate(self.classes) if duals[c] > 0]
        best_value, best_counts = 0.0, []
        for order in (
            sorted(items, key=lambda it: (-it[1] / max(self.sizes[it[0]]), self.classes[it[0]])),
            sorted(items, key=lambda it: (-it[1] / sum(self.sizes[it[0]]), self.classes[it[0]])),
            sorted(items, key=lambda it: (-it[1], self.classes[it[0]])),
        ):
            free = list(self.room)
            value, counts = 0.0, []
            for j, dual in order:
                c = self.classes[j]
                m = max_fit(demands[c].vector, free, self.fits[j])
                if m:
                    for i, r in enumerate(demands[c].vector):
                        free[i] -= r * m
                    value += m * dual
                    counts.append((c, m))
            if value > best_value:
                best_value, best_counts = value, counts
        return best_value, sorted(best_counts)


def choose(
    greedy: list[Pattern],
    demands: Sequence[Demand],
    compatible: Callable[[Demand, Shape], bool],
    accepts: Callable[[Demand, Shape], bool],
) -> list[Pattern]:
    """The cheaper of the greedy patterns and the column-generation plan over them (module docstring).
    `compatible`: constraints and room for one pod; `accepts`: constraints only, the same per Demand.group."""
    if not greedy or not demands or len(demands) > MAX_CLASSES:
        return greedy
    index = {id(d): c for c, d in enumerate(demands)}
    counts = [d.cls.count for d in demands]
    master = Master([float(n) for n in counts])
    columns: list[tuple[Shape, list[tuple[int, int]]]] = []
    column_of: dict[tuple[int, tuple[tuple[int, int], ...]], int] = {}

    def add(shape: Shape, pattern: list[tuple[int, int]]) -> int:
        """The pattern's column, added if new."""
        key = (id(shape), tuple(pattern))
        if key not in column_of:
            column_of[key] = len(columns)
            columns.append((shape, pattern))
            master.add(shape.price, [c for c, _ in pattern], [n for _, n in pattern])
        return column_of[key]

    start: dict[int, float] = {}  # the greedy plan as a solution of the master
    for p in greedy:
        column = add(p.shape, sorted((index[id(d)], n) for d, n in p.counts))
        start[column] = start.get(column, 0.0) + p.repeat
    for c, d in enumerate(demands):
        best = min(range(len(d.shapes)), key=lambda i: (d.shapes[i].price / d.fit_counts[i], i))
        add(d.shapes[best], [(c, d.fit_counts[best])])
    pricing = _pricing_shapes(demands, counts, accepts)
    for _ in range(ROUNDS):
        solution = master.solve()
        if solution is None:
            return greedy
        found = []
        for candidate in pricing:
            value, pattern = candidate.best(solution.duals, demands)
            price = candidate.shape.price
            if pattern and value > price * (1 + REDUCED_COST):
                found.append(((price - value) / price, candidate.shape.sort_key, candidate.shape, pattern))
        found.sort(key=lambda f: (f[0], f[1], f[3]))
        before = len(columns)
        for _, _, shape, pattern in found[:COLUMNS_PER_ROUND]:
            add(shape, pattern)
        if len(columns) == before:
            break
    values = master.solve_integer(MIP_NODES, [start.get(i, 0.0) for i in range(len(columns))])
    if values is None:
        return greedy
    chosen = _patterns(columns, values, demands, counts, compatible)
    if chosen is None or _cost(chosen) >= _cost(greedy) - COST_EPSILON:
        return greedy
    return chosen


def _pricing_shapes(
    demands: Sequence[Demand], counts: Sequence[int], accepts: Callable[[Demand, Shape], bool]
) -> list[_Pricing]:
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
            out.append(_Pricing(shape, classes, demands, counts))
    return out


def _patterns(
    columns: Sequence[tuple[Shape, list[tuple[int, int]]]],
    values: NDArray[np.float64],
    demands: Sequence[Demand],
    counts: Sequence[int],
    compatible: Callable[[Demand, Shape], bool],
) -> list[Pattern] | None:
    """The integer solution as patterns: over-covered pods dropped from the last nodes, empty nodes not bought."""
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
    if any(left):
        return None
    return [downsized(p, compatible) for p in patterns]


def _cost(patterns: Sequence[Pattern]) -> float:
    return sum(p.shape.price * p.repeat for p in patterns)
