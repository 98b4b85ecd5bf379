"""`luna-autoscaler run --provider oci --once --dry-run` against the fake API server, with the recording server as
OCI: the entry point, `oci.auth: apiKey` from an OCI config file, `oci.serviceEndpoint`, the live price list."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
import yaml

from tests.kubeapi import FakeApiServer
from tests.kubeapi import objects as k
from tests.oci import world
from tests.oci.recording_server import RecordingOciServer
from tests.reconcile.test_run_command import run_command


@pytest.fixture
def api() -> Iterator[FakeApiServer]:
    with FakeApiServer() as s:
        yield s
    structlog.reset_defaults()


def oci_config_file(tmp_path: Path) -> Path:
    """An OCI SDK config file (the `apiKey` auth) with a freshly generated key."""
    sdk = world.sdk_config()
    key = tmp_path / "oci_api_key.pem"
    key.write_text(sdk.pop("key_content"))
    lines = ["[DEFAULT]", *(f"{k}={v}" for k, v in sdk.items()), f"key_file={key}"]
    path = tmp_path / "oci-config"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_once_dry_run_plans_an_oke_cpu_node_and_launches_nothing(
    api: FakeApiServer, server: RecordingOciServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.create(k.pod("web", cpu="3", memory="6Gi", labels={"elotl-luna": "true"}, unschedulable=True))
    config = tmp_path / "config.yaml"
    section = world.section(
        server, auth="apiKey", configFile=str(oci_config_file(tmp_path)), serviceEndpoint=server.url
    )
    config.write_text(yaml.safe_dump({"oci": section}))
    kubeconfig = str(api.write_kubeconfig(tmp_path / "kubeconfig"))

    code = run_command(
        "--once", "--dry-run", "--provider", "oci", "--kubeconfig", kubeconfig, "--cluster-name", "oke",
        "--config", str(config),
    )  # fmt: skip

    out = capsys.readouterr().out
    assert code == 0
    assert "1 pending pods handled" in out
    assert "would launch VM.Standard." in out and ".Flex." in out and "for default/web" in out
    assert not server.calls("LaunchInstance")
    assert server.calls("ListProducts") and server.calls("ListAvailabilityDomains")
    assert all(
        r.headers["authorization"].startswith("Signature ") for r in server.requests if r.operation != "ListProducts"
    )
