"""`luna-autoscaler simulate` end to end: the fake provider found by its entry point, the summary, the report."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from luna_autoscaler.cli import simulate
from luna_autoscaler.errors import ConfigError
from tests.conftest import InstallProvider
from tests.simulation.conftest import HEADER


def command(*argv: str) -> int:
    root = argparse.ArgumentParser(prog="luna-autoscaler")
    simulate.register(root.add_subparsers(dest="command", required=True))
    args = root.parse_args(["simulate", *argv])
    code: int = args.func(args)
    return code


def test_simulate_prints_the_comparison_and_writes_the_report(
    burst_scenario: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "out.html"
    assert command("--scenario", str(burst_scenario(hours=0.25)), "--report", str(report)) == 0
    out = capsys.readouterr().out
    assert out.startswith("Simulated 0.25 h of cluster time")
    assert "aws us-east-1, prices: " in out
    for row in ("pods served", "time pending p95", "node-hours spot", "GPU-hours", "total cost", "spot interruptions"):
        assert row in out
    assert "this run (spot,on-demand)" in out and "all on-demand" in out and "static cluster" in out
    assert f"Report: {report}" in out
    assert report.read_text().count("<svg") == 3


def test_without_baseline_or_report_only_the_run_is_shown(
    burst_scenario: Callable[..., Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert command("--scenario", str(burst_scenario(hours=0.1)), "--no-baseline", "--no-report", "--seed", "5") == 0
    out = capsys.readouterr().out
    assert "(seed 5)" in out and "Report:" not in out
    assert not (tmp_path / simulate.DEFAULT_REPORT).exists()


def test_another_cloud_prices_the_run_from_its_bundled_catalog(
    install_provider: InstallProvider, burst_scenario: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    install_provider(simulate.SIMULATED_PROVIDER, "tests.simulation.plugins:selling_the_given_catalog")
    scenario = str(burst_scenario(hours=0.1))
    assert command("--scenario", scenario, "--cloud", "gcp", "--region", "us-east1", "--no-report") == 0
    out = capsys.readouterr().out
    assert "gcp us-east1, prices: " in out  # the static system nodes are e2-standard-2: GCP's catalog priced them
    assert re.search(r"pods served\s+\d+/6\s", out)  # the six pods running at time zero; the rest come later


def test_a_provider_that_sells_another_cloud_than_asked_is_refused(
    install_provider: InstallProvider, burst_scenario: Callable[..., Path]
) -> None:
    install_provider(simulate.SIMULATED_PROVIDER, "tests.simulation.plugins:selling_its_own_catalog")
    with pytest.raises(ConfigError, match="sells the aws us-east-1 catalog, not gcp us-central1"):
        command("--scenario", str(burst_scenario(hours=0.1)), "--cloud", "gcp", "--no-report")


def test_a_report_that_cannot_be_written_is_an_input_error(burst_scenario: Callable[..., Path], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot write"):
        command(
            "--scenario", str(burst_scenario(hours=0.05)), "--no-baseline", "--report", str(tmp_path / "no/dir.html")
        )


GKE_TIME_SHARING_SCENARIO = """
name: gke-time-sharing
cloud: gcp
region: us-central1
hours: 0.1
traces:
  - file: shared.csv
    start: 0
    nodeSelector:
      cloud.google.com/gke-accelerator: nvidia-l4
      cloud.google.com/gke-gpu-sharing-strategy: time-sharing
      cloud.google.com/gke-max-shared-clients-per-gpu: "4"
config:
  defaultOfferings: on-demand
  gpuTimeSlicing:
    - gpuSkus: [L4]
      replicas: 4
"""


def test_simulate_cloud_gcp_runs_pods_selecting_gke_time_sharing_labels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real fake provider sells the GCP catalog; its simulated nodes carry GKE's labels, from the offerings."""
    rows = [f"share-{i},1000,4000,1,1000,,LS,Running,0,3600,0" for i in range(4)]
    (tmp_path / "shared.csv").write_text(HEADER + "\n".join(rows) + "\n")
    scenario = tmp_path / "gke.yaml"
    scenario.write_text(GKE_TIME_SHARING_SCENARIO)

    assert command("--scenario", str(scenario), "--cloud", "gcp", "--no-baseline", "--no-report") == 0

    out = capsys.readouterr().out
    assert "gcp us-central1, prices: " in out
    assert re.search(r"pods served\s+4/4\s", out), out
