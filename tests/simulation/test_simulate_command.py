"""`luna-autoscaler simulate` end to end: the fake provider found by its entry point, the summary, the report."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import pytest

from luna_autoscaler.cli import simulate
from luna_autoscaler.errors import ConfigError
from luna_autoscaler.ports import PROVIDER_ENTRY_POINT_GROUP


@pytest.fixture
def installed_fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake provider's entry point, as installing the package declares it (the dev venv runs from source)."""
    info = tmp_path / "site" / "luna_autoscaler_test_plugins-0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: luna-autoscaler-test-plugins\nVersion: 0\n")
    (info / "entry_points.txt").write_text(f"[{PROVIDER_ENTRY_POINT_GROUP}]\nfake = providers.fake:create\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))


def command(*argv: str) -> int:
    root = argparse.ArgumentParser(prog="luna-autoscaler")
    simulate.register(root.add_subparsers(dest="command", required=True))
    args = root.parse_args(["simulate", *argv])
    code: int = args.func(args)
    return code


@pytest.mark.usefixtures("installed_fake")
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


@pytest.mark.usefixtures("installed_fake")
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


@pytest.mark.usefixtures("installed_fake")
def test_a_cloud_the_simulated_provider_does_not_sell_is_refused(burst_scenario: Callable[..., Path]) -> None:
    with pytest.raises(ConfigError, match="sells the aws catalog, not gcp"):
        command("--scenario", str(burst_scenario(hours=0.1)), "--cloud", "gcp", "--no-report")


def test_a_missing_provider_says_how_to_install_it() -> None:
    with pytest.raises(ConfigError, match="no provider 'no-such-cloud' is installed"):
        simulate.provider_factory("no-such-cloud")
