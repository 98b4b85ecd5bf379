"""Scenario files: how a trace window becomes arrivals, and how bad files are reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from luna_autoscaler.errors import ConfigError
from luna_autoscaler.models.catalog import CapacityType
from luna_autoscaler.models.resources import NVIDIA_GPU, NVIDIA_GPU_SHARED
from luna_autoscaler.simulation.scenario import (
    CloudSection,
    GangOption,
    ScenarioFile,
    SpanModel,
    StaticNodes,
    TraceSource,
    load_scenario,
)

HEADER = (
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n"
)
ROWS = [
    "alive,4000,8192,1,1000,,LS,Running,500,5000,600",  # running when the window opens at 1000
    "finished-before,4000,8192,1,1000,,LS,Succeeded,100,900,110",
    "arrives,2000,4096,1,500,,BE,Succeeded,1500,2500,1600",  # shared GPU, runs 900 s
    "never-ran,2000,4096,0,0,,BE,Pending,1600,2000,",
    "cpu,8000,30517,0,0,,BE,Succeeded,2000,2600,2000",
    "after-window,2000,4096,1,1000,,BE,Succeeded,9000,9500,9000",
]


def write_scenario(tmp_path: Path, extra: str = "", trace: str = "") -> Path:
    (tmp_path / "trace.csv").write_text(HEADER + "\n".join(ROWS) + "\n")
    path = tmp_path / "scenario.yaml"
    path.write_text(
        f"""
name: tiny
hours: 2
traces:
  - file: trace.csv
    namespace: ml
    start: 1000
    end: 8000
{trace}
config:
  defaultOfferings: spot,on-demand
{extra}
"""
    )
    return path


def test_a_trace_window_becomes_arrivals_with_run_times(tmp_path: Path) -> None:
    scenario = load_scenario(write_scenario(tmp_path))
    got = [(a.pod.name, a.at_seconds, a.run_seconds) for a in scenario.arrivals]
    assert got == [("alive", 0.0, 4000.0), ("arrives", 500.0, 900.0), ("cpu", 1000.0, 600.0)]
    by_name = {a.pod.name: a.pod for a in scenario.arrivals}
    assert by_name["alive"].requests.get(NVIDIA_GPU) == 1
    assert by_name["arrives"].requests.get(NVIDIA_GPU_SHARED) == 1
    assert by_name["cpu"].namespace == "ml"
    assert scenario.config.default_offerings == (CapacityType.SPOT, CapacityType.ON_DEMAND)


def test_time_scale_replays_faster_and_filters_pick_cpu_or_gpu_pods(tmp_path: Path) -> None:
    scenario = load_scenario(write_scenario(tmp_path, trace="    timeScale: 2\n    cpuOnly: true"))
    assert [(a.pod.name, a.at_seconds, a.run_seconds) for a in scenario.arrivals] == [("cpu", 500.0, 300.0)]


def test_command_line_hours_cut_the_arrivals(tmp_path: Path) -> None:
    scenario = load_scenario(write_scenario(tmp_path), hours=0.2, seed=9)
    assert [a.pod.name for a in scenario.arrivals] == ["alive", "arrives"]
    assert (scenario.hours, scenario.seed, scenario.cloud_model.seed) == (0.2, 9, 9)


def test_unknown_keys_and_bad_values_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cloudModel\.insufficientCapacitySpotFraction"):
        load_scenario(write_scenario(tmp_path, extra="cloudModel:\n  insufficientCapacitySpotFraction: 2"))
    with pytest.raises(ConfigError, match="surprise"):
        load_scenario(write_scenario(tmp_path, extra="surprise: 1"))
    with pytest.raises(ConfigError, match="defaultOfferings"):
        load_scenario(write_scenario(tmp_path, extra="  defaultOfferings: sometimes"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_scenario(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="hours must be positive"):
        load_scenario(write_scenario(tmp_path), hours=0)


def test_a_missing_trace_file_is_reported_with_its_path(tmp_path: Path) -> None:
    path = write_scenario(tmp_path)
    (tmp_path / "trace.csv").unlink()
    with pytest.raises(ConfigError, match=r"trace\.csv: cannot read"):
        load_scenario(path)


def test_the_bundled_scenario_ships_with_the_package() -> None:
    scenario = load_scenario()
    gpu = [a for a in scenario.arrivals if a.pod.requests.gpus()]
    cpu = [a for a in scenario.arrivals if not a.pod.requests.gpus()]
    assert len(scenario.arrivals) > 300 and gpu and cpu
    assert max(a.at_seconds for a in scenario.arrivals) < scenario.hours * 3600
    assert scenario.daemonsets and scenario.static_nodes


def test_every_scenario_key_is_documented() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "simulation.md").read_text()
    models = (ScenarioFile, TraceSource, CloudSection, StaticNodes, SpanModel, GangOption)
    keys = {field.alias or name for model in models for name, field in model.model_fields.items()}
    missing = sorted(k for k in keys if f"{k}:" not in text and f"{k}: " not in text)
    assert not missing, f"docs/simulation.md does not document {missing}"
