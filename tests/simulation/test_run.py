"""The reconcile loop on the simulated cluster: it scales up for a burst, down when the burst is over, the same
way for the same seed, and the report shows it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from luna_autoscaler.models.catalog import CapacityType
from luna_autoscaler.simulation.engine import Simulation
from luna_autoscaler.simulation.report import html_report, summary_text, write_report
from luna_autoscaler.simulation.results import Comparison, RunResult, percentile
from luna_autoscaler.simulation.scenario import load_scenario
from tests.simulation.conftest import small_provider


def simulate(path: Path, *, seed: int | None = None, on_demand: bool = False) -> RunResult:
    scenario = load_scenario(path, seed=seed)
    config = scenario.config
    if on_demand:
        config = config.model_copy(update={"default_offerings": (CapacityType.ON_DEMAND,)})
    return Simulation(scenario, small_provider(scenario.cluster_name), config=config).run()


def owned_nodes(run: RunResult) -> list[int]:
    return [s.nodes_on_demand + s.nodes_spot for s in run.samples]


def test_the_loop_scales_up_for_the_burst_and_back_down_when_it_is_over(burst_scenario: Callable[..., Path]) -> None:
    run = simulate(burst_scenario())
    nodes = owned_nodes(run)
    peak_at = nodes.index(max(nodes))
    assert nodes[0] == 0 and max(nodes) > 0
    # Nodes launch within the first cycles, register minutes later, and every pending pod is bound.
    first_launch = next(s.at_seconds for s in run.samples if s.launching)
    assert first_launch <= 60
    assert run.pods_served == run.pods_arrived == 13
    assert run.samples[-1].pending_pods == 0
    # Every pod finishes, and the nodes go away after scaleDown.nodeUnneededDuration: the timeline returns to zero.
    assert run.pods_completed == 13
    empty_again = next(s.at_seconds for s in run.samples[peak_at:] if s.nodes_on_demand + s.nodes_spot == 0)
    assert empty_again < run.hours * 3600
    assert run.samples[-1].cost_usd_per_hour == pytest.approx(run.static_cost_usd_per_hour)
    # Every pod waited at least for a node to join, and GPU pods for the device plugin too.
    assert min(run.pending_seconds) >= 60
    assert len(run.pending_seconds) == 13
    assert run.violations == ()
    assert run.cycle_errors == 0
    assert run.launches()[CapacityType.SPOT.value] > 0


def test_spot_is_cheaper_than_on_demand_for_the_same_workload(burst_scenario: Callable[..., Path]) -> None:
    path = burst_scenario()
    spot, on_demand = simulate(path), simulate(path, on_demand=True)
    assert on_demand.launches()[CapacityType.SPOT.value] == 0
    assert on_demand.pods_completed == spot.pods_completed == 13
    assert spot.cost_usd() < on_demand.cost_usd()


def test_sold_out_spot_offerings_fall_back_and_pods_are_still_served(burst_scenario: Callable[..., Path]) -> None:
    run = simulate(burst_scenario(ice=1.0))
    assert run.insufficient_capacity_errors > 0
    assert run.launch_errors.get("insufficient-capacity", 0) > 0
    assert run.launches()[CapacityType.SPOT.value] == 0
    assert run.pods_served == run.pods_arrived


def test_interrupted_spot_nodes_are_replaced_and_their_pods_still_finish(burst_scenario: Callable[..., Path]) -> None:
    run = simulate(burst_scenario(hours=2, interruptions=3000.0))  # a >20 % band x 3000: most machines within the hour
    assert run.interruptions > 0
    noticed = [m for m in run.machines if m.interrupted_at is not None and m.interrupted_at < run.ended_at]
    assert noticed
    for machine in noticed:  # the loop drains and terminates it, or the cloud reclaims it at the deadline
        assert machine.ended_at is not None and machine.ended_at <= machine.interrupted_at + timedelta(minutes=2)
    assert sum(run.pods_disrupted.values()) > 0
    assert run.pods_completed == run.pods_arrived == 13
    assert run.violations == ()
    assert run.samples[-1].pending_pods == 0


def test_a_seed_fixes_the_whole_history(burst_scenario: Callable[..., Path]) -> None:
    path = burst_scenario()
    first, again, other = simulate(path), simulate(path), simulate(path, seed=4)

    def history(run: RunResult) -> tuple[object, ...]:
        return (run.samples, run.pending_seconds, [(m.instance_id, m.joins_at, m.ended_at) for m in run.machines])

    assert history(first) == history(again)
    assert history(first) != history(other)


def test_the_report_has_the_plots_and_the_summary_the_figures(
    burst_scenario: Callable[..., Path], tmp_path: Path
) -> None:
    path = burst_scenario()
    run, on_demand = simulate(path), simulate(path, on_demand=True)
    comparison = Comparison("burst", "a burst", "13 pods", "aws", "us-east-1", "test catalog", 3, run, on_demand)
    written = write_report(comparison, tmp_path / "report.html")
    page = written.read_text()
    assert page == html_report(comparison)
    assert page.count("<svg") == 3
    for title in ("Nodes the autoscaler owns", "Pods", "Cluster cost per hour"):
        assert f">{title}" in page
    for legend in ("spot", "launching", "pending", "all on-demand", "static cluster"):
        assert f">{legend}</text>" in page
    assert len(re.findall(r'<path d="M', page)) >= 6
    assert "No safety violations" in page

    text = summary_text(comparison, str(written), elapsed_seconds=1.5)
    assert f"${run.cost_usd():,.2f}" in text
    assert f"${on_demand.cost_usd():,.2f}" in text
    assert f"${comparison.static_cost_usd():,.2f}" in text
    assert f"{run.pods_served}/{run.pods_arrived}" in text
    assert str(written) in text
    assert text.startswith("Simulated 1 h of cluster time (and again all on-demand) in 1.5 s")


def test_nearest_rank_percentiles() -> None:
    assert percentile([], 50) is None
    assert percentile([5.0], 95) == 5.0
    assert percentile([float(v) for v in range(1, 101)], 95) == 95.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0


def test_pods_that_never_run_are_explained_with_the_loops_own_reason(burst_scenario: Callable[..., Path]) -> None:
    scenario = load_scenario(burst_scenario(), seed=None)
    config = scenario.config.model_copy(update={"gpu_time_slicing": ()})  # nothing offers nvidia.com/gpu.shared
    run = Simulation(scenario, small_provider(scenario.cluster_name), config=config).run()
    assert run.pods_never_served == 4
    [(why, count)] = run.never_served_why.items()
    assert count == 4 and why.startswith("pod didn't trigger scale-up: ") and "no nvidia.com/gpu.shared" in why
    comparison = Comparison("burst", "", "", "aws", "us-east-1", "test", 3, run, None)
    text = summary_text(comparison, None, elapsed_seconds=1.0)
    assert "4 pods never ran; why, from the loop's NotTriggerScaleUp Events:" in text
    assert f"  4 x {why}" in text
