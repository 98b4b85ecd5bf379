"""`luna-autoscaler run`: `--once` and `--dry-run` against the fake API server, and the daemon's SIGTERM path in a
real subprocess (signals, lease, health server)."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from luna_autoscaler.cli import run
from luna_autoscaler.config import config_from_file
from luna_autoscaler.errors import ConfigError
from luna_autoscaler.kube.clock import utc_now
from luna_autoscaler.kube.registration import NodeObjects
from luna_autoscaler.kube.rest import Rest
from luna_autoscaler.ports import ProviderContext
from luna_autoscaler.simulation.kubelet import Kubelet
from providers import fake
from tests.conftest import InstallProvider
from tests.kubeapi import FakeApiServer, Fault
from tests.kubeapi import objects as k
from tests.reconcile import plugins

ROOT = Path(__file__).resolve().parents[2]
# The `run` subcommand as the CLI root registers it (luna_autoscaler.cli registers every module the same way).
DRIVER = (
    "import argparse, sys\n"
    "from luna_autoscaler.cli import run\n"
    "root = argparse.ArgumentParser(prog='luna-autoscaler')\n"
    "run.register(root.add_subparsers(dest='command', required=True))\n"
    "args = root.parse_args(sys.argv[1:])\n"
    "sys.exit(args.func(args))\n"
)


def run_command(*argv: str) -> int:
    root = argparse.ArgumentParser(prog="luna-autoscaler")
    run.register(root.add_subparsers(dest="command", required=True))
    args = root.parse_args(["run", *argv])
    code: int = args.func(args)
    return code


@pytest.fixture(autouse=True)
def default_logging() -> Iterator[None]:
    """`run` configures structlog for the process; give the next tests the defaults back."""
    yield
    structlog.reset_defaults()


@pytest.fixture
def kubeconfig(server: FakeApiServer, tmp_path: Path) -> str:
    return str(server.write_kubeconfig(tmp_path / "kubeconfig"))


def pending(server: FakeApiServer, name: str) -> None:
    server.create(k.pod(name, cpu="500m", memory="1Gi", labels={"elotl-luna": "true"}, unschedulable=True))


def test_once_dry_run_prints_what_it_would_launch_and_launches_nothing(
    server: FakeApiServer, kubeconfig: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pending(server, "web")
    code = run_command("--once", "--dry-run", "--provider", "fake", "--kubeconfig", kubeconfig, "--cluster-name", "t")
    out = capsys.readouterr().out
    assert code == 0
    assert "1 pending pods handled" in out
    assert "would launch t3a.small (on-demand)" in out and "for default/web" in out
    assert not [e for e in server.list("Event", api_version="events.k8s.io/v1") if e.get("reason")]


def test_once_launches_and_uses_the_local_config_file(
    server: FakeApiServer,
    kubeconfig: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pending(server, "web")
    config = tmp_path / "config.yaml"
    config.write_text("labels: team=ml\n")  # "web" carries elotl-luna=true, not team=ml: not ours to handle
    args = ("--once", "--provider", "fake", "--kubeconfig", kubeconfig, "--cluster-name", "t")
    assert run_command(*args, "--config", str(config)) == 0
    assert "0 pending pods handled" in capsys.readouterr().out

    assert run_command(*args) == 0
    out = capsys.readouterr().out
    assert "launch t3a.small (on-demand)" in out and "as fake-000001" in out


def test_once_with_register_nodes_takes_a_pod_from_pending_to_a_node_it_can_land_on(
    server: FakeApiServer, kubeconfig: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`run --provider fake` on a local API server: before `fake.registerNodes` no Node ever appeared, so pods
    waited forever after TriggeredScaleUp. The GPU taint is on the Node from its first version, never patched on."""
    gpu_pod = k.pod("train", gpus=1, cpu="2", memory="8Gi", labels={"elotl-luna": "true"}, unschedulable=True)
    gpu_pod["spec"]["tolerations"].append({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"})
    server.create(gpu_pod)
    config = tmp_path / "config.yaml"
    config.write_text(f"fake.registerNodes: 'true'\nfake.joinDelay: 0s\nfake.stateFile: {tmp_path / 'cloud.json'}\n")
    args = ("--once", "--provider", "fake", "--kubeconfig", kubeconfig, "--cluster-name", "t", "--config", str(config))
    assert run_command(*args) == 0  # launches
    assert "as fake-000001 for default/train" in capsys.readouterr().out
    assert server.list("Node") == []  # not booted yet: the cloud registers it at its next call
    assert run_command(*args) == 0  # sees the launch in flight (launches nothing) and the machine is up
    assert "launch" not in capsys.readouterr().out

    [node] = server.list("Node")
    [first] = [c.new for c in server.store.changes_after(0) if c.resource.kind == "Node" and c.type == "ADDED"]
    assert {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"} in first["spec"]["taints"]
    assert first["spec"]["providerID"] == "fake://fake-000001"
    labels = node["metadata"]["labels"]
    assert labels["node.kubernetes.io/instance-type"].startswith("g"), labels
    assert labels["node.elotl.co/managed-by"] == "luna-autoscaler"
    assert node["status"]["allocatable"]["nvidia.com/gpu"] == "1"
    assert any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"])

    # the same fake cloud (its state file) as `run` composes it: terminating the machine deletes its Node
    api = server.client()
    try:
        local = config_from_file(str(config))
        registrar = Kubelet(NodeObjects(Rest(api, sleep=lambda s: None)), local, utc_now)
        cloud = fake.create(ProviderContext(config=local, cluster_name="t", clock=utc_now, node_registrar=registrar))
        cloud.terminate("fake-000001")
    finally:
        api.close()
    assert server.list("Node") == []


def test_bad_input_is_a_clear_error(kubeconfig: str, tmp_path: Path) -> None:
    base = ("--once", "--kubeconfig", kubeconfig, "--cluster-name", "t")
    with pytest.raises(ConfigError, match="no provider 'nimbus'"):
        run_command(*base, "--provider", "nimbus")
    bad = tmp_path / "bad.yaml"
    bad.write_text("maxNodes: -3\n")
    with pytest.raises(ConfigError, match="maxNodes"):
        run_command(*base, "--provider", "fake", "--config", str(bad))
    with pytest.raises(ConfigError, match="--cluster-name is required"):
        run_command("--once", "--kubeconfig", kubeconfig, "--provider", "fake", "--cluster-name", "")


def test_the_provider_registers_its_metrics_where_the_daemon_serves_them(
    server: FakeApiServer, kubeconfig: str, install_provider: InstallProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plugins, "CONTEXTS", [])
    install_provider("remembering", "tests.reconcile.plugins:remembering_its_context")
    args = ("--once", "--dry-run", "--provider", "remembering", "--kubeconfig", kubeconfig, "--cluster-name", "t")
    assert run_command(*args) == 0

    (context,) = plugins.CONTEXTS
    assert context.metrics_registry is not None  # e.g. the AWS provider's luna_price_age_seconds goes here
    served = {family.name for family in context.metrics_registry.collect()}
    assert {"luna_pending_pods", "luna_leader"} <= served  # the loop's own registry, the one /metrics serves


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate, timeout_seconds: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except (urllib.error.URLError, ConnectionError):
        return 0


def test_daemon_leads_acts_serves_health_and_exits_cleanly_on_sigterm(server: FakeApiServer, kubeconfig: str) -> None:
    pending(server, "web")
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = ["run", "--provider", "fake", "--kubeconfig", kubeconfig, "--cluster-name", "t", "--interval", "0.2"]
    argv += [
        "--namespace",
        "default",
        "--health-port",
        str(port),
        "--metrics-port",
        str(port),
        "--log-level",
        "warning",
    ]
    daemon = subprocess.Popen([sys.executable, "-c", DRIVER, *argv], env=env, cwd=ROOT, stderr=subprocess.PIPE)
    try:
        assert wait_until(lambda: status(f"http://127.0.0.1:{port}/readyz") == 200, 90.0), "never ready"
        assert wait_until(
            lambda: any(
                e.get("reason") == "TriggeredScaleUp" for e in server.list("Event", api_version="events.k8s.io/v1")
            )
        ), "the leader never scaled up"
        lease = server.get("Lease", "luna-autoscaler", namespace="default")
        assert lease["spec"]["holderIdentity"]
        assert status(f"http://127.0.0.1:{port}/healthz") == 200

        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=15) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    released = server.get("Lease", "luna-autoscaler", namespace="default")
    assert not released["spec"].get("holderIdentity")


def body(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as e:
        return int(e.code), e.read().decode()
    except (urllib.error.URLError, ConnectionError):
        return 0, ""


def test_health_goes_unhealthy_during_an_api_outage_and_recovers(server: FakeApiServer, kubeconfig: str) -> None:
    """From outside, as a kubelet's probes see it: every request 500 and every watch cut (issue 12: /healthz and
    /readyz stayed 200 through a 50 s outage while cycles ran on the stale cache)."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = ["run", "--provider", "fake", "--kubeconfig", kubeconfig, "--cluster-name", "t", "--interval", "0.2"]
    argv += ["--namespace", "default", "--health-port", str(port), "--metrics-port", "0", "--log-level", "error"]
    argv += ["--cache-stale-after", "1s"]
    daemon = subprocess.Popen([sys.executable, "-c", DRIVER, *argv], env=env, cwd=ROOT, stderr=subprocess.DEVNULL)
    healthz, readyz = f"http://127.0.0.1:{port}/healthz", f"http://127.0.0.1:{port}/readyz"
    try:
        # start-up (imports, first lists) takes seconds on a loaded 2-core machine
        assert wait_until(lambda: status(readyz) == 200 and status(healthz) == 200, 90.0), "never healthy"
        server.inject(Fault(path=r"^/api", status=500, times=None))
        server.drop_watches()
        assert wait_until(lambda: body(healthz)[0] == 503, 30.0), "healthz stayed 200 through the outage"
        code, text = body(readyz)
        assert code == 503 and "not refreshed" in text and "500" in text
        assert "not refreshed" in body(healthz)[1]

        server.clear_faults()
        assert wait_until(lambda: status(healthz) == 200 and status(readyz) == 200, 60.0), body(healthz)
    finally:
        daemon.terminate()
        daemon.wait(timeout=15)
