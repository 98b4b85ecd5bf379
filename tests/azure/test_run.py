"""`luna-autoscaler run --provider azure --once --dry-run` against the fake API server, with the recording ARM
server as Azure: the product's `azure` entry point (with a test credential) plans on the live-priced Azure
catalog and launches nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
import yaml

from tests.azure.arm_server import CLUSTER, RecordingArmServer
from tests.azure.test_pricing import FIXTURES
from tests.azure.world import azure_section
from tests.conftest import InstallProvider
from tests.kubeapi import FakeApiServer
from tests.kubeapi import objects as k
from tests.reconcile.test_run_command import run_command


@pytest.fixture(autouse=True)
def default_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()


@pytest.fixture
def kube() -> Iterator[FakeApiServer]:
    with FakeApiServer() as s:
        yield s


def test_once_dry_run_plans_on_azure_and_launches_nothing(
    kube: FakeApiServer,
    server: RecordingArmServer,
    tmp_path: Path,
    install_provider: InstallProvider,
    capsys: pytest.CaptureFixture[str],
) -> None:
    install_provider("azure", "tests.azure.plugin:create")
    server.price_pages = [json.loads(p.read_text()) for p in sorted(FIXTURES.glob("retail_prices_eastus_page*.json"))]
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"azure": azure_section(server, pricingRefreshInterval="1h")}))
    kubeconfig = str(kube.write_kubeconfig(tmp_path / "kubeconfig"))
    kube.create(k.pod("web", cpu="500m", memory="1Gi", labels={"elotl-luna": "true"}, unschedulable=True))

    code = run_command(
        "--once",
        "--dry-run",
        "--provider",
        "azure",
        "--kubeconfig",
        kubeconfig,
        "--cluster-name",
        CLUSTER,
        "--config",
        str(config),
    )

    out = capsys.readouterr().out
    assert code == 0
    assert "1 pending pods handled" in out and "would launch Standard_" in out
    assert not [r for r in server.requests if r.method in ("PUT", "POST")]
    assert any(r.path == "/api/retail/prices" for r in server.requests)
