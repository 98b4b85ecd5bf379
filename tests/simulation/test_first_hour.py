"""`simulate` as a new user meets it (issue 18): progress on a terminal only, simulated time in the log lines, the
report in its own git-ignored directory, reasons for unserved pods, no empty columns, plots that read."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from luna_autoscaler.cli import simulate
from luna_autoscaler.simulation.engine import Simulation
from luna_autoscaler.simulation.report import Series, html_report, summary_text, svg_chart
from luna_autoscaler.simulation.results import Comparison
from luna_autoscaler.simulation.scenario import load_scenario
from tests.simulation.test_run import small_provider
from tests.simulation.test_simulate_command import command

ROOT = Path(__file__).resolve().parents[2]


def test_progress_is_told_after_every_cycle_in_simulated_time(burst_scenario: Callable[..., Path]) -> None:
    scenario = load_scenario(burst_scenario(hours=0.25), seed=None)
    told: list[tuple[float, int, int]] = []
    run = Simulation(scenario, small_provider(scenario.cluster_name), progress=lambda *a: told.append(a)).run()
    assert len(told) == run.cycles
    seconds = [t[0] for t in told]
    assert seconds == sorted(seconds) and seconds[-1] <= 0.25 * 3600
    assert told[-1][1:] == (run.pods_served, run.pods_arrived)


def test_the_bar_draws_on_a_terminal_and_nothing_elsewhere() -> None:
    screen = io.StringIO()
    with simulate.progress_bar(2.0, Console(file=screen, force_terminal=True, width=100)) as update:
        assert update is not None
        update(3600.0, 7, 9)
    assert "1.0/2 h" in screen.getvalue() and "pods served 7/9" in screen.getvalue()
    pipe = io.StringIO()
    with simulate.progress_bar(2.0, Console(file=pipe, force_terminal=False)) as update:
        assert update is None
    assert pipe.getvalue() == ""


def test_simulate_writes_its_report_in_its_own_ignored_directory_with_simulated_log_times(
    burst_scenario: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert command("--scenario", str(burst_scenario(hours=0.1)), "--no-baseline", "--log-level", "info") == 0
    captured = capsys.readouterr()
    assert (tmp_path / "luna-simulation" / "report.html").exists()
    assert "Report: luna-simulation/report.html" in captured.out
    stamps = re.findall(r"^sim (\d+\.\d{3})h ", captured.err, flags=re.MULTILINE)
    assert stamps and all(0.0 <= float(s) <= 0.1 for s in stamps), captured.err[:500]
    assert "/luna-simulation/" in (ROOT / ".gitignore").read_text().splitlines()
    # no baseline: no comparison columns, no static-cluster note
    assert "all on-demand" not in captured.out and "static cluster" not in captured.out
    assert "this run saves" not in captured.out


def test_unserved_pods_are_grouped_by_reason_in_summary_and_report(burst_scenario: Callable[..., Path]) -> None:
    scenario = load_scenario(burst_scenario(), seed=None)
    config = scenario.config.model_copy(update={"gpu_time_slicing": ()})  # nothing offers nvidia.com/gpu.shared
    run = Simulation(scenario, small_provider(scenario.cluster_name), config=config).run()
    [(why, count)] = run.never_served_why.items()
    comparison = Comparison("burst", "", "", "aws", "us-east-1", "test", 3, run, None)
    page = html_report(comparison)
    assert "<h2>Pods that never ran</h2>" in page
    assert f"<tr><td>{count}</td><td>{why}</td></tr>" in page.replace("&#x27;", "'")
    assert f"  {count} x {why}" in summary_text(comparison, None, elapsed_seconds=1.0)


def test_charts_leave_headroom_tell_lines_apart_and_skip_empty_stacks() -> None:
    flat = Series("static cluster", "#000", ((0.0, 10.0), (1.0, 10.0)), dash="2 3")
    other = Series("all on-demand", "#111", ((0.0, 4.0), (1.0, 8.0)), dash="8 4")
    chart = svg_chart("cost", [flat, other], 1.0, "$/h")
    ticks = [float(v) for v in re.findall(r'text-anchor="end">\$([\d.]+)<', chart)]
    assert max(ticks) > 10.0, "the peak line sits below the top edge"
    assert 'stroke-dasharray="2 3"' in chart and 'stroke-dasharray="8 4"' in chart
    assert chart.count("<line x1=") - chart.count('stroke="#e4e4e4"') == 2, "legend samples show the dashes"


def test_the_nodes_chart_has_no_legend_entry_for_a_kind_never_bought(burst_scenario: Callable[..., Path]) -> None:
    from luna_autoscaler.simulation.report import charts
    from tests.simulation.test_run import simulate as run_scenario

    path = burst_scenario(hours=0.5)
    spot, on_demand = run_scenario(path), run_scenario(path, on_demand=True)
    assert not any(s.nodes_on_demand for s in spot.samples) and any(s.nodes_spot for s in spot.samples)
    nodes_chart = charts(Comparison("b", "", "", "aws", "us-east-1", "t", 3, spot, on_demand))[0]
    assert ">spot</text>" in nodes_chart and ">on-demand</text>" not in nodes_chart
    nodes_chart = charts(Comparison("b", "", "", "aws", "us-east-1", "t", 3, on_demand, None))[0]
    assert ">on-demand</text>" in nodes_chart and ">spot</text>" not in nodes_chart
