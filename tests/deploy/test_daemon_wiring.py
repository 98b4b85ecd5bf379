"""The Deployment drives the daemon the code really is: its args parse with `luna-autoscaler run`'s own parser,
its ports are the ones those flags open, and its probe paths are served by the daemon's health server.
"""

from __future__ import annotations

import argparse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.error import HTTPError

import pytest
from prometheus_client import CollectorRegistry

from luna_autoscaler.cli import parser
from luna_autoscaler.observability.health import Health, HealthServer
from tests.deploy.conftest import CLOUD_OF_OVERLAY, NAMESPACE, container, find
from tests.deploy.kustomize import Manifest


def run_parser() -> argparse.ArgumentParser:
    """Built anew each time: its defaults read the environment (POD_NAMESPACE, LUNA_CLUSTER_NAME)."""
    subcommands = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert "run" in subcommands.choices, "luna-autoscaler has no `run` command"
    run: argparse.ArgumentParser = subcommands.choices["run"]
    return run


def container_env(spec: dict[str, Any]) -> dict[str, str]:
    """The container's environment as the kubelet sets it (the fieldRefs resolved for a pod in NAMESPACE)."""
    field_values = {"metadata.namespace": NAMESPACE, "metadata.name": "luna-autoscaler-7d9f8-abcde"}
    return {
        e["name"]: e["value"] if "value" in e else field_values[e["valueFrom"]["fieldRef"]["fieldPath"]]
        for e in spec["env"]
    }


def parsed_args(objects: list[Manifest], monkeypatch: pytest.MonkeyPatch) -> argparse.Namespace:
    spec = container(objects)
    env = container_env(spec)
    args = list(spec["args"])
    for name, value in env.items():  # the kubelet expands $(VAR) from the container's env
        args = [a.replace(f"$({name})", value) for a in args]
    for name in ("POD_NAMESPACE", "LUNA_CLUSTER_NAME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        return run_parser().parse_args(args)
    except SystemExit:
        pytest.fail(f"`luna-autoscaler run` rejects the Deployment's args {args}")


@pytest.mark.parametrize("overlay", CLOUD_OF_OVERLAY)
def test_args_are_flags_of_the_run_command(
    overlays: dict[str, list[Manifest]], overlay: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = parsed_args(overlays[overlay], monkeypatch)
    assert args.provider == CLOUD_OF_OVERLAY[overlay]
    assert args.namespace == NAMESPACE
    assert args.cluster_name == container_env(container(overlays[overlay]))["LUNA_CLUSTER_NAME"] != ""
    assert args.leader_elect is True
    assert args.once is False and args.dry_run is False


@pytest.mark.parametrize("overlay", CLOUD_OF_OVERLAY)
def test_ports_and_probes_are_the_ones_the_flags_open(
    overlays: dict[str, list[Manifest]], overlay: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = overlays[overlay]
    args = parsed_args(objects, monkeypatch)
    spec = container(objects)
    ports = {p["name"]: p["containerPort"] for p in spec["ports"]}
    assert ports == {"metrics": args.metrics_port, "health": args.health_port}
    for probe in ("startupProbe", "livenessProbe"):
        assert spec[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert spec["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    annotations = find(objects, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(args.metrics_port)


@pytest.fixture
def health_server() -> Iterator[HealthServer]:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    server = HealthServer(
        Health(lambda: now, interval_seconds=10), [CollectorRegistry()], host="127.0.0.1", port=0
    ).start()
    yield server
    server.stop()


@pytest.mark.parametrize("probe", ["startupProbe", "livenessProbe", "readinessProbe"])
def test_probe_paths_are_served(overlays: dict[str, list[Manifest]], health_server: HealthServer, probe: str) -> None:
    path = container(overlays["eks"])[probe]["httpGet"]["path"]
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{health_server.port}{path}", timeout=5) as response:
            status = response.status
    except HTTPError as e:
        status = e.code
    assert status == 200, f"{path} answered {status}"
    metrics = find(overlays["eks"], "Deployment")["spec"]["template"]["metadata"]["annotations"]["prometheus.io/path"]
    with urllib.request.urlopen(f"http://127.0.0.1:{health_server.port}{metrics}", timeout=5) as response:
        assert response.status == 200
