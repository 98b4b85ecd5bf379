"""The LP relaxation of the node-buying problem, by column generation: the yardstick behaviour.md names.

Benchmark only (needs scipy: the `bench` extra); the product never runs it. The problem is the planner's own,
after `planning.prepare`: pod classes (`Problem.demands`: identical requests and constraints, `n_c` pods each)
and the nodes they may go on. A *shape* is a node kind (instance type x GPU mode) bought as one offering, with
the planner's allocatable after overhead and DaemonSets (`Problem.shape`); a class may go on it when
`Problem.compatible` would say so (bin kind, the class's chosen capacity type, every constraint, room for one
pod). Unlike the planner, which only looks at the cheapest offering of each undominated kind per class, every
(kind, offering) of the catalog is a shape here, so the bound holds for any plan under the planner's rules.

    LP:  min sum_p price(p) x_p   s.t.  sum_p a_cp x_p >= n_c for every class c,  x >= 0

over patterns p = (shape s, a) with a_c integer, 0 <= a_c <= n_c, a_c = 0 for classes s does not accept, and
sum_c a_c v_c <= V_s in every resource (CPU, memory, pod slots, ephemeral storage, GPUs). Every node of every
plan is such a pattern (counts above n_c never help), so LP <= the cost of any plan.

Shapes that accept the same classes with the same allocatable keep their cheapest offering; a shape that costs
no less, accepts no more classes and offers no more of any resource than another is dropped (any pattern on it
fits the other at no greater price). Column generation: the restricted master (seeded with each class alone on
its cheapest shape per pod and with the planner's own patterns) is solved by HiGHS (scipy.optimize.linprog);
duals y, smoothed towards the best so far (Wentges), price every shape's bounded multi-dimensional knapsack
max y.a s.t. the shape's room: first by greedy fills, and when those find nothing, by HiGHS's MILP (a short
time limit each) on the shapes whose knapsack LP bound still exceeds their price.

What is guaranteed: the bound returned is Farley's, n.y / theta for some y >= 0 priced exactly, with theta >=
max(1, max over shapes of (max pattern value)/price). Per shape, the max pattern value is bounded by the smaller of
the Lagrangian bound L_s(mu) = mu.V_s + sum_c u_c max(0, y_c - mu.v_c), u_c = min(n_c, pods of c alone on s) (valid
for any mu >= 0; mu from the knapsack LP's dual, evaluated here, so it does not rest on a solver's tolerance) and,
where that is not enough, the MILP's dual bound (HiGHS's branch and bound: valid up to its feasibility tolerance of
1e-7 on the normalised rows). y/theta is then feasible for the dual of the full LP, so n.y/theta <= LP optimum <=
the cost of any plan. `master`, the last restricted master's optimum, is an upper bound of the LP optimum; the two
meet (within GAP_TOLERANCE) when column generation converges, otherwise the LP optimum lies between them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from luna_autoscaler.models.resources import NVIDIA_GPU
from luna_autoscaler.planner.master import generated_patterns
from luna_autoscaler.planner.packing import Demand, Packer, Pattern
from luna_autoscaler.planner.planning import Problem
from luna_autoscaler.planner.types import BinKind

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]
RATIO_TOLERANCE = 1e-6  # relative reduced cost below which a column is not worth adding
GAP_TOLERANCE = 1e-4  # stop when the bound is this close to the restricted master's optimum
MILP_NODES = 500  # per pricing MILP: its dual bound stays valid when it stops early
MILP_SECONDS = 1.0  # and a guard: a node limit does not depend on the machine's load, a time limit does
SMOOTHING = 0.5  # Wentges: price at this mix of the best duals so far and the master's


@dataclass
class KnapsackShape:
    """A shape as the LP sees it: price, room, the classes it accepts and how many of each fit alone."""

    name: str
    price: float
    room: Ints  # allocatable over the problem's dimensions
    classes: Ints  # indexes into the demand list
    limits: Ints  # per accepted class: min(n_c, pods of c alone on the shape)


@dataclass
class LpResult:
    bound: float  # Farley's bound: a valid lower bound of the LP optimum (module docstring)
    master: float  # the last restricted master's optimum (an upper bound of the LP optimum)
    theta: float
    shapes: int
    columns: int
    iterations: int
    seconds: float
    converged: bool


def _accepted_signatures(problem: Problem) -> dict[tuple[int, int, object], list[int]]:
    """(kind, offering, bin) -> signatures that accept that kind bought as that offering (room aside)."""
    comp = problem.compatibility
    accepted: dict[tuple[int, int, object], list[int]] = {}
    for index, sig in problem.signatures.items():
        for kind in problem.kinds:
            if comp.kind_rejection(sig, kind) is not None:
                continue
            for i in comp.offerings_of_type.get(kind.instance_type.name, ()):
                if comp.offering_rejection(sig, i, kind) is None:
                    accepted.setdefault((kind.index, i, sig.bin), []).append(index)
    return accepted


def knapsack_shapes(problem: Problem, demands: list[Demand]) -> list[KnapsackShape]:
    """Every (kind, offering) the classes may use, less duplicates and dominated ones (module docstring)."""
    vectors = np.array([d.vector for d in demands], dtype=np.int64)
    counts = np.array([d.cls.count for d in demands], dtype=np.int64)
    by_signature: dict[int, list[int]] = {}
    for c, d in enumerate(demands):
        by_signature.setdefault(d.cls.signature.index, []).append(c)
    kinds = {k.index: k for k in problem.kinds}
    best: dict[tuple[object, ...], KnapsackShape] = {}
    for (kind_index, offering_index, bin_kind), signatures in _accepted_signatures(problem).items():
        kind = kinds[kind_index]
        shape = problem.shape(kind, offering_index, bin_kind)  # type: ignore[arg-type]
        sliced_gpu = kind.mode.sliced and kind.mode.resource == NVIDIA_GPU
        ct = shape.offering.capacity_type
        candidates = [
            c
            for index in signatures
            for c in by_signature[index]
            if demands[c].capacity_type is ct and not (sliced_gpu and demands[c].cls.requests.get(NVIDIA_GPU) > 1)
        ]
        if not candidates:
            continue
        room = np.array(shape.vector, dtype=np.int64)
        rows = vectors[candidates]
        fit = np.where(rows > 0, room // np.maximum(rows, 1), np.iinfo(np.int64).max).min(axis=1)
        keep = fit >= 1
        if not keep.any():
            continue
        classes = np.array(candidates, dtype=np.int64)[keep]
        order = np.argsort(classes)
        classes = classes[order]
        limits = np.minimum(fit[keep][order], counts[classes])
        key = (bin_kind, tuple(classes.tolist()), shape.vector)
        name = f"{shape.offering.instance_type.name}/{kind.mode.config_name or 'plain'}/{shape.offering.zone}"
        if key not in best or shape.price < best[key].price:
            best[key] = KnapsackShape(name, shape.price, room, classes, limits)
    # Dominance: drop a shape when another is no dearer, accepts a superset and offers at least as much.
    shapes = sorted(best.values(), key=lambda s: (s.price, -len(s.classes), s.name))
    kept: list[KnapsackShape] = []
    kept_sets: list[set[int]] = []
    for s in shapes:
        members = set(s.classes.tolist())
        if any(
            k.price <= s.price and bool(np.all(k.room >= s.room)) and members <= ks
            for k, ks in zip(kept, kept_sets, strict=True)
        ):
            continue
        kept.append(s)
        kept_sets.append(members)
    return kept


class _Pricing:
    """The knapsack of one shape, in units of its room (so all resources weigh alike)."""

    def __init__(self, shape: KnapsackShape, vectors: Ints) -> None:
        self.shape = shape
        self.rows = vectors[shape.classes]  # integer requests of the accepted classes
        used = self.shape.room > 0
        self.used = used
        self.normalised = (self.rows[:, used] / self.shape.room[used]).astype(np.float64)
        self.size = self.normalised.sum(axis=1)
        self.biggest = self.normalised.max(axis=1)

    def greedy(self, y: Floats) -> tuple[float, Ints]:
        """Best of a few greedy fills (by value per normalised size, and by value)."""
        values = y[self.shape.classes]
        best_value, best = 0.0, np.zeros(len(values), dtype=np.int64)
        positive = values > 1e-12
        if not positive.any():
            return best_value, best
        orders = (
            np.argsort(-values / self.size, kind="stable"),
            np.argsort(-values / self.biggest, kind="stable"),
            np.argsort(-values, kind="stable"),
        )
        for order in orders:
            free = self.shape.room.copy()
            counts = np.zeros(len(values), dtype=np.int64)
            for j in order:
                if not positive[j]:
                    continue
                row = self.rows[j]
                need = row > 0
                m = int(min(self.shape.limits[j], (free[need] // row[need]).min()))
                if m > 0:
                    counts[j] = m
                    free -= m * row
            value = float(values @ counts)
            if value > best_value:
                best_value, best = value, counts
        return best_value, best

    def upper_bound(self, y: Floats) -> float:
        """max y.a over the shape's patterns is at most L(mu) for any mu >= 0; mu from the knapsack LP's dual."""
        values = y[self.shape.classes]
        limits = self.shape.limits.astype(np.float64)
        if not (values > 0).any():
            return 0.0
        res = linprog(
            -values,
            A_ub=self.normalised.T,
            b_ub=np.ones(self.normalised.shape[1]),
            bounds=list(zip(np.zeros(len(values)), limits, strict=True)),
            method="highs",
        )
        mu = np.maximum(-res.ineqlin.marginals, 0.0) if res.status == 0 else np.zeros(self.normalised.shape[1])
        return float(mu.sum() + limits @ np.maximum(0.0, values - self.normalised @ mu))

    def exact(self, y: Floats) -> tuple[float, Ints, float]:
        """The best pattern by HiGHS's MILP, checked in integers (a solver tolerance must not overfill a node),
        and the MILP's dual bound on the best value."""
        values = y[self.shape.classes]
        res = milp(
            -values,
            constraints=LinearConstraint(self.normalised.T, -np.inf, 1.0),
            integrality=np.ones(len(values)),
            bounds=Bounds(0, self.shape.limits.astype(np.float64)),
            options={"mip_rel_gap": 1e-4, "node_limit": MILP_NODES, "time_limit": MILP_SECONDS},
        )
        dual_bound = getattr(res, "mip_dual_bound", None)
        bound = -float(dual_bound) if dual_bound is not None and np.isfinite(dual_bound) else float("inf")
        if res.x is None:  # out of time before any pattern (a loaded machine): no column, no tighter bound
            return 0.0, np.zeros(len(values), dtype=np.int64), bound
        counts = np.round(res.x).astype(np.int64)
        while True:
            over = counts @ self.rows > self.shape.room
            if not over.any():
                break
            j = int(np.argmax(np.where(counts > 0, self.rows[:, over].sum(axis=1), -1)))
            counts[j] -= 1
        return float(values @ counts), counts, bound


def _generated(problem: Problem) -> list[Pattern]:
    """The patterns the planner's column generation ends with, per bin kind, from a fresh greedy packing."""
    out: list[Pattern] = []
    for bin_kind in BinKind:
        demands = [d for d in problem.demands if d.cls.signature.bin is bin_kind]
        if not demands or (bin_kind is BinKind.SELECT and problem.config.bin_select_dedicated_nodes):
            continue
        for d in demands:
            d.remaining = d.cls.count  # Problem.pack() left them at 0
        greedy = Packer(demands, problem.compatible, problem.accepts, dedicated=False).pack()
        out.extend(generated_patterns(greedy, demands, problem.accepts, problem.config.plan_optimization_rounds))
    return out


def lp_bound(problem: Problem, *, time_limit_seconds: float = 60.0, max_iterations: int = 500) -> LpResult:
    """Farley's lower bound of the LP relaxation by column generation (module docstring)."""
    start = time.perf_counter()
    demands = list(problem.demands)
    vectors = np.array([d.vector for d in demands], dtype=np.int64)
    n = np.array([d.cls.count for d in demands], dtype=np.float64)
    shapes = knapsack_shapes(problem, demands)
    pricing = [_Pricing(s, vectors) for s in shapes]
    columns: list[tuple[int, Ints]] = []  # (shape index, counts over its classes)
    seen: set[tuple[int, bytes]] = set()

    def add(s: int, counts: Ints) -> bool:
        key = (s, counts.tobytes())
        if key in seen or not counts.any():
            return False
        seen.add(key)
        columns.append((s, counts))
        return True

    # Start from each class alone on the shape where its pods cost least each: the master is feasible.
    for c in range(len(demands)):
        options = [
            (shapes[s].price / int(shapes[s].limits[j]), s, j)
            for s in range(len(shapes))
            for j in np.flatnonzero(shapes[s].classes == c)
        ]
        _, s, j = min(options)
        counts = np.zeros(len(shapes[s].classes), dtype=np.int64)
        counts[j] = shapes[s].limits[j]
        add(s, counts)

    # And from the planner's own patterns and the columns of its column generation (planner/master.py), each on a
    # kept shape that holds it: the master starts at or below the plan, with duals near the LP optimum's.
    index_of = {id(d): c for c, d in enumerate(demands)}
    for pattern in [*problem.pack(), *_generated(problem)]:
        members = [index_of[id(d)] for d, _ in pattern.counts]
        total = np.array(pattern.total(), dtype=np.int64)
        fitting = [
            s
            for s, shape in enumerate(shapes)
            if shape.price <= pattern.shape.price
            and np.all(shape.room >= total)
            and set(members) <= set(shape.classes.tolist())
        ]
        if fitting:
            s = min(fitting, key=lambda s: shapes[s].price)
            counts = np.zeros(len(shapes[s].classes), dtype=np.int64)
            for (_, k), c in zip(pattern.counts, members, strict=True):
                counts[int(np.flatnonzero(shapes[s].classes == c)[0])] += k
            add(s, counts)

    def master_lp() -> tuple[float, Floats]:
        matrix = np.zeros((len(demands), len(columns)))
        for p, (s, counts) in enumerate(columns):
            matrix[shapes[s].classes, p] = counts
        prices = np.array([shapes[s].price for s, _ in columns])
        res = linprog(prices, A_ub=-matrix, b_ub=-n, bounds=(0, None), method="highs")
        if res.status != 0:
            raise RuntimeError(f"restricted master LP failed: {res.message}")
        return float(res.fun), np.maximum(-res.ineqlin.marginals, 0.0)

    def exact_pricing(y: Floats) -> tuple[float, int]:
        """theta(y) (Lagrangian bounds, MILP dual bounds where those are not enough) and columns added."""
        theta, added = 1.0, 0
        for s, p in enumerate(pricing):
            bound = p.upper_bound(y)
            if bound > shapes[s].price * (1 + RATIO_TOLERANCE):
                value, counts, milp_bound = p.exact(y)
                bound = min(bound, milp_bound)
                if value > shapes[s].price * (1 + RATIO_TOLERANCE):
                    added += add(s, counts)
            theta = max(theta, bound / shapes[s].price)
        return theta, added

    iterations, converged = 0, False
    master, y_master = master_lp()
    best_bound, best_theta = 0.0, float("inf")
    center: Floats | None = None  # Wentges smoothing: duals with the best bound so far
    while iterations < max_iterations and time.perf_counter() - start < time_limit_seconds:
        iterations += 1
        y = y_master if center is None else SMOOTHING * center + (1 - SMOOTHING) * y_master
        added = 0
        for s, p in enumerate(pricing):
            value, counts = p.greedy(y)
            if value > shapes[s].price * (1 + RATIO_TOLERANCE):
                added += add(s, counts)
        if not added:
            theta, added = exact_pricing(y)
            bound = float(n @ y) / theta
            if bound > best_bound:
                best_bound, best_theta, center = bound, theta, y
            if best_bound >= master * (1 - GAP_TOLERANCE):
                converged = True
                break
            if not added:
                if center is None:
                    break  # nothing better at the master's own duals, as far as the MILP time limit lets us see
                center = None  # a mispricing: price at the master's duals next
                continue
        master, y_master = master_lp()
    if not converged:  # the latest duals may give a better bound than the best so far
        theta, _ = exact_pricing(y_master)
        if float(n @ y_master) / theta > best_bound:
            best_bound, best_theta = float(n @ y_master) / theta, theta
    return LpResult(
        bound=best_bound,
        master=master,
        theta=best_theta,
        shapes=len(shapes),
        columns=len(columns),
        iterations=iterations,
        seconds=time.perf_counter() - start,
        converged=converged,
    )
