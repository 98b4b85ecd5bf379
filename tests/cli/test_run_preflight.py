"""`run`'s pre-flight: a wrong provider, a missing SDK extra, missing credentials or a dead API server is one line
on stderr, exit 2, before anything waits on a cluster (issue 18, point 1)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from luna_autoscaler.cli import main
from luna_autoscaler.cli.providers import preflight
from luna_autoscaler.errors import MissingExtra
from luna_autoscaler.ports import PROVIDER_ENTRY_POINT_GROUP
from providers.aws import create as create_aws
from providers.fake import create as create_fake
from tests.conftest import InstallProvider
from tests.kubeapi import FakeApiServer


def run_errors(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """`luna-autoscaler run ARGS` must fail with exit 2 and exactly one line on stderr, which is returned."""
    assert main(["run", *args]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert captured.out == ""
    return lines[0]


@pytest.fixture(autouse=True)
def no_cluster_in_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "LUNA_CLUSTER_NAME", "NIMBUS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.kube/config either


def test_an_unknown_provider_is_named_with_the_installed_ones_before_any_other_check(
    capsys: pytest.CaptureFixture[str],
) -> None:
    line = run_errors(capsys, "--provider", "nope")  # no --cluster-name, no cluster: neither is reached
    assert "no provider 'nope' is installed" in line
    installed = line.split("installed: ", 1)[1].split(")", 1)[0].split(", ")
    assert {"aws", "fake"} <= set(installed)
    assert "--cluster-name" not in line and "pip install" not in line


def test_an_extra_that_ships_no_provider_does_not_advise_installing_it(capsys: pytest.CaptureFixture[str]) -> None:
    line = run_errors(capsys, "--provider", "bench")  # a real extra of ours (scipy), with no provider behind it
    assert line.startswith("luna-autoscaler run: error: no provider 'bench' is installed: luna-autoscaler ")
    assert "ships none yet" in line and "pip install" not in line


def declare_provider(site: Path, name: str, target: str, *, requires: list[str]) -> None:
    """A distribution `nimbus-provider` declaring provider `name` and an extra of the same name needing `requires`."""
    info = site / "nimbus_provider-1.0.dist-info"
    info.mkdir(parents=True)
    metadata = ["Metadata-Version: 2.1", "Name: nimbus-provider", "Version: 1.0", f"Provides-Extra: {name}"]
    metadata += [f'Requires-Dist: {r}; extra == "{name}"' for r in requires]
    (info / "METADATA").write_text("\n".join(metadata) + "\n")
    (info / "entry_points.txt").write_text(f"[{PROVIDER_ENTRY_POINT_GROUP}]\n{name} = {target}\n")


def test_a_missing_sdk_extra_names_the_pip_install_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    declare_provider(tmp_path, "nimbus", "providers.fake:create", requires=["pyyaml>=5", "nimbus-sdk-not-here>=2"])
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(MissingExtra, match=r"needs nimbus-sdk-not-here, .*pip install 'nimbus-provider\[nimbus\]'"):
        preflight("nimbus", {})
    line = run_errors(capsys, "--provider", "nimbus")
    assert line.endswith("pip install 'nimbus-provider[nimbus]'")


def test_an_installed_extra_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    declare_provider(tmp_path, "nimbus", "providers.fake:create", requires=["pyyaml>=5"])
    monkeypatch.syspath_prepend(str(tmp_path))
    assert preflight("nimbus", {}) is create_fake


def test_the_products_own_providers_pass_their_preflight() -> None:
    assert preflight("fake", {}) is create_fake
    assert preflight("aws", {}) is create_aws  # boto3 (the [aws] extra) is installed in the test environment


def test_a_providers_own_preflight_hook_runs_with_the_environment(
    install_provider: InstallProvider, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    install_provider("nimbus", "tests.cli.nimbus_provider:create")
    line = run_errors(capsys, "--provider", "nimbus")
    assert "no nimbus credentials: set NIMBUS_TOKEN" in line
    monkeypatch.setenv("NIMBUS_TOKEN", "t0k3n")
    assert "--cluster-name is required" in run_errors(capsys, "--provider", "nimbus")  # past the hook, next check


def kubeconfig_for(path: Path, server: str) -> str:
    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: c, cluster: {{server: '{server}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"
    )
    return str(path)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_once_against_a_dead_api_server_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server = f"http://127.0.0.1:{closed_port()}"
    kubeconfig = kubeconfig_for(tmp_path / "kubeconfig", server)
    line = run_errors(capsys, "--provider", "fake", "--cluster-name", "t", "--kubeconfig", kubeconfig, "--once")
    assert f"cannot reach the Kubernetes API server {server}" in line and "Connection refused" in line


class _Answer(BaseHTTPRequestHandler):
    status = 404

    def do_GET(self) -> None:
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def answering() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("status", "message"),
    [(404, "answers, but not as a Kubernetes API server"), (401, "rejected our credentials (HTTP 401)")],
)
def test_a_server_that_is_not_a_usable_api_server_is_named(
    answering: ThreadingHTTPServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], status: int, message: str
) -> None:
    answering.status = status  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{answering.server_address[1]}"
    kubeconfig = kubeconfig_for(tmp_path / "kubeconfig", url)
    line = run_errors(capsys, "--provider", "fake", "--cluster-name", "t", "--kubeconfig", kubeconfig, "--once")
    assert message in line and url in line


def test_once_against_a_live_api_server_passes_the_preflight_and_runs_a_cycle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeApiServer() as api:
        kubeconfig = str(api.write_kubeconfig(tmp_path / "kubeconfig"))
        code = main(["run", "--provider", "fake", "--cluster-name", "t", "--kubeconfig", kubeconfig, "--once"])
    assert code == 0
    assert capsys.readouterr().out.startswith("Cycle at ")
