"""HiGHS (through highspy) as the planner uses it: quiet, single-threaded, bounded by work, never by time.

HiGHS is the LP/MIP solver SciPy, JuMP and PuLP ship: a dual simplex with warm starts for the restricted master
of column generation and a branch and bound for its integer version, MIT-licensed, in one wheel with no system
libraries. The planner needs both to be deterministic (the same request gives the same plan), so every model
runs on one thread with HiGHS's fixed random seed, and stops on iteration and node counts, not on a clock.

highspy's first `Highs()` of a process writes HiGHS's banner straight to file descriptor 1, which would corrupt
`plan --output json`: it is made once, here, at import (before any thread), with that descriptor pointed at
/dev/null for the moment.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import highspy
import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float64]
SIMPLEX_ITERATIONS = 200_000  # per LP solve: a guard, far above what a planning master needs
INFINITY = highspy.kHighsInf


def _quiet_first_instance() -> None:
    sys.stdout.flush()
    saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        highspy.Highs()  # type: ignore[no-untyped-call]
        ctypes.CDLL(None).fflush(None)  # the banner is in C's stdout buffer: out to /dev/null with it
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


_quiet_first_instance()


def _quiet_highs() -> highspy.Highs:
    """A HiGHS instance that prints nothing, runs on one thread with its fixed seed, bounded by iterations."""
    highs = highspy.Highs()  # type: ignore[no-untyped-call]
    for option, value in (
        ("output_flag", False),
        ("threads", 1),
        ("random_seed", 0),
        ("simplex_iteration_limit", SIMPLEX_ITERATIONS),
    ):
        highs.setOptionValue(option, value)
    return highs


@dataclass(frozen=True)
class Solution:
    values: Floats  # per column
    duals: Floats  # per row (>= 0 for the covering rows of a minimisation)
    objective: float


class Master:
    """min c.x  s.t.  A x >= demand, x >= 0 (integer on request): columns added as they are priced out."""

    def __init__(self, demand: Sequence[float]) -> None:
        self._highs = _quiet_highs()
        rows = len(demand)
        lower = np.asarray(demand, dtype=np.float64)
        none = np.zeros(0, dtype=np.int32)
        self._highs.addRows(rows, lower, np.full(rows, INFINITY), 0, none, none, np.zeros(0))
        self.columns = 0

    def add(self, cost: float, rows: Sequence[int], counts: Sequence[int]) -> None:
        """A column: a node pattern of this price holding counts[i] pods of class rows[i]."""
        self._highs.addCol(
            cost,
            0.0,
            INFINITY,
            len(rows),
            np.asarray(rows, dtype=np.int32),
            np.asarray(counts, dtype=np.float64),
        )
        self.columns += 1

    def solve(self) -> Solution | None:
        """The LP relaxation's optimum with duals, or None if HiGHS did not reach one."""
        self._highs.run()
        if self._highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        solution = self._highs.getSolution()
        return Solution(
            np.asarray(solution.col_value, dtype=np.float64),
            np.maximum(np.asarray(solution.row_dual, dtype=np.float64), 0.0),
            float(self._highs.getInfo().objective_function_value),
        )

    def solve_integer(self, max_nodes: int, start: Sequence[float]) -> Floats | None:
        """The best integer solution branch and bound finds within `max_nodes` nodes, starting from `start` (a
        feasible integer solution: the greedy plan), or None."""
        highs = self._highs
        highs.setOptionValue("mip_max_nodes", max_nodes)
        highs.changeColsIntegrality(
            self.columns,
            np.arange(self.columns, dtype=np.int32),
            np.full(self.columns, highspy.HighsVarType.kInteger),
        )
        solution = _branch_and_bound(highs, start)
        return None if solution is None else np.rint(solution)


class Knapsack:
    """max v.a  s.t.  sizes^T a <= 1 (sizes: items x resources, each a share of the node), 0 <= a <= limits:
    the pricing problem of one shape, built once and re-solved with each round's values, relaxed or integer."""

    def __init__(self, sizes: Floats, limits: Sequence[float]) -> None:
        self._highs = highs = _quiet_highs()
        items, resources = sizes.shape
        self._items = np.arange(items, dtype=np.int32)
        self._limits = np.asarray(limits, dtype=np.float64)
        zeros = np.zeros(0, dtype=np.int32)
        highs.addCols(
            items, np.zeros(items), np.zeros(items), np.asarray(limits, dtype=np.float64), 0, zeros, zeros, np.zeros(0)
        )
        starts: list[int] = []
        indexes: list[int] = []
        values: list[float] = []
        for r in range(resources):
            held = np.flatnonzero(sizes[:, r] > 0)
            starts.append(len(indexes))
            indexes.extend(held.tolist())
            values.extend(sizes[held, r].tolist())
        highs.addRows(
            resources,
            np.full(resources, -INFINITY),
            np.ones(resources),
            len(indexes),
            np.asarray(starts, dtype=np.int32),
            np.asarray(indexes, dtype=np.int32),
            np.asarray(values, dtype=np.float64),
        )
        # A knapsack of a few dozen items: HiGHS's primal heuristics and symmetry detection cost more than the
        # search they would save (measured: 45 -> 16 ms per pricing, the same patterns within 0.01 %).
        for option, value in (
            ("mip_rel_gap", 1e-6),
            ("mip_heuristic_effort", 0.0),
            ("mip_heuristic_run_feasibility_jump", False),
            ("mip_heuristic_run_rins", False),
            ("mip_heuristic_run_rens", False),
            ("mip_heuristic_run_root_reduced_cost", False),
            ("mip_detect_symmetry", False),
        ):
            highs.setOptionValue(option, value)
        self._integer = False

    def relaxed(self, values: Floats, lower: Floats | None = None) -> Floats | None:
        """The LP relaxation's optimum (at most one fractional item per resource), with items at least `lower`
        if given, or None."""
        self._set(values, integer=False)
        floor = np.zeros(len(self._items)) if lower is None else lower
        self._highs.changeColsBounds(len(self._items), self._items, floor, self._limits)
        self._highs.run()
        if self._highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        return np.asarray(self._highs.getSolution().col_value, dtype=np.float64)

    def integer(self, values: Floats, start: Floats, max_nodes: int) -> Floats | None:
        """The best a branch and bound of `max_nodes` nodes finds, from the feasible `start`; None if none."""
        highs = self._highs
        self._set(values, integer=True)
        highs.changeColsBounds(len(self._items), self._items, np.zeros(len(self._items)), self._limits)
        highs.setOptionValue("mip_max_nodes", max_nodes)
        return _branch_and_bound(highs, start)

    def _set(self, values: Floats, *, integer: bool) -> None:
        items = len(self._items)
        self._highs.changeColsCost(items, self._items, -np.asarray(values, dtype=np.float64))
        if integer is not self._integer:
            kind = highspy.HighsVarType.kInteger if integer else highspy.HighsVarType.kContinuous
            self._highs.changeColsIntegrality(items, self._items, np.full(items, kind))
            self._integer = integer


def _branch_and_bound(highs: highspy.Highs, start: Sequence[float] | Floats) -> Floats | None:
    """Run the integer model from the feasible `start` (HiGHS keeps the better of it and what it finds); the
    solution's values, or None if HiGHS has none."""
    initial = highspy.HighsSolution()
    initial.col_value = list(map(float, start))
    initial.value_valid = True
    highs.setSolution(initial)
    highs.run()
    solution = highs.getSolution()
    if not solution.value_valid:
        return None
    return np.asarray(solution.col_value, dtype=np.float64)
