"""What a simulated run produced, and the figures people compare: pods served, time pending, node-hours, cost.

A run keeps its raw record (a sample of the cluster every reconcile interval, the pending time of every pod, the
life of every machine) so that the summary, the report and the tests all compute from the same facts instead of
from counters that could drift apart. The static-cluster baseline is derived, not simulated: a fixed cluster as
large as the all-on-demand run's peak, paid at on-demand prices for the whole run.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from luna_autoscaler.simulation.cloud import Machine


@dataclass(frozen=True, slots=True)
class Sample:
    """The cluster at one instant (taken after each reconcile cycle)."""

    at_seconds: float
    pending_pods: int  # workload pods not bound to a node
    running_pods: int
    nodes_on_demand: int  # registered nodes the autoscaler owns, by capacity type
    nodes_spot: int
    launching: int  # machines launched whose node has not registered yet
    gpus: int  # physical GPUs of every live machine
    cost_usd_per_hour: float  # every live machine, plus the static nodes


@dataclass(frozen=True)
class RunResult:
    """One run of the loop over a scenario."""

    label: str  # "spot,on-demand" | "on-demand"
    started_at: datetime
    hours: float
    samples: tuple[Sample, ...]
    pending_seconds: tuple[float, ...]  # per pod bound during the run (replacements included)
    pods_arrived: int  # trace pods (not counting replacements)
    pods_served: int  # trace pods that ran at least once
    pods_completed: int
    pods_never_served: int  # still pending, never bound, at the end
    pods_disrupted: Mapping[str, int]  # replacements created, by cause (evicted, node-lost, node-deleted)
    machines: tuple[Machine, ...]
    static_cost_usd_per_hour: float
    interruptions: int
    insufficient_capacity_errors: int
    launch_errors: Mapping[str, int]  # by error kind, as the loop reported them
    cycles: int
    cycle_errors: int  # cycles that raised (the daemon would back off and go stale)
    first_cycle_error: str  # "" when none did
    violations: tuple[str, ...]
    events: Mapping[str, int] = field(default_factory=dict)  # Events by reason
    never_served_why: Mapping[str, int] = field(default_factory=dict)  # last NotTriggerScaleUp message → pods
    partial_gang_gpu_hours: float = 0.0  # GPUs idle for gangs that never bound on them (simulation.gangs)
    gang_wait_gpu_hours: float = 0.0  # GPUs idle while a gang waited for its last nodes, then bound
    wall_seconds: float = 0.0

    @property
    def ended_at(self) -> datetime:
        return self.started_at + timedelta(hours=self.hours)

    def node_hours(self, capacity_type: str | None = None) -> float:
        return sum(
            m.hours(self.ended_at)
            for m in self.machines
            if capacity_type is None or m.offering.capacity_type.value == capacity_type
        )

    def gpu_hours(self) -> float:
        return sum(m.hours(self.ended_at) * m.gpus for m in self.machines)

    def cost_usd(self) -> float:
        """Every machine, per second from launch to termination, plus the static nodes for the whole run."""
        return sum(m.cost_usd(self.ended_at) for m in self.machines) + self.static_cost_usd_per_hour * self.hours

    def pending_percentile(self, q: float) -> float | None:
        return percentile(self.pending_seconds, q)

    def peak_cost_usd_per_hour(self) -> float:
        return max((s.cost_usd_per_hour for s in self.samples), default=self.static_cost_usd_per_hour)

    def launches(self) -> Counter[str]:
        return Counter(m.offering.capacity_type.value for m in self.machines)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Comparison:
    """The scenario's run against its baselines."""

    scenario: str
    description: str
    workload: str  # the pods in one line (Scenario.workload)
    cloud: str
    region: str
    catalog: str  # provenance of the prices
    seed: int
    run: RunResult
    on_demand: RunResult | None  # the same loop with defaultOfferings: on-demand (None if not run)

    def static_cost_usd(self) -> float | None:
        """A fixed cluster as large as the on-demand run's peak, at on-demand prices for the whole run."""
        if self.on_demand is None:
            return None
        return self.on_demand.peak_cost_usd_per_hour() * self.on_demand.hours

    def savings(self, baseline_usd: float | None) -> float | None:
        if not baseline_usd:
            return None
        return 1.0 - self.run.cost_usd() / baseline_usd
