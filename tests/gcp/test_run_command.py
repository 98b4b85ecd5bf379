"""`luna-autoscaler run --provider gcp --once --dry-run` against the fake API server, with the recording server as
GCP: the `gcp` entry point builds the real clients from Application Default Credentials (a service-account key
file, freshly generated, whose token endpoint is the recording server) and the `gcp.*Endpoint` keys, plans for
pending GPU pods (one selecting GKE's time-sharing labels) on the live-priced GCP catalog and creates nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.gcp import world
from tests.gcp.recording_server import RecordingGcpServer
from tests.kubeapi import FakeApiServer
from tests.kubeapi import objects as k
from tests.reconcile.test_run_command import run_command


@pytest.fixture
def kube() -> Iterator[FakeApiServer]:
    with FakeApiServer() as s:
        yield s
    structlog.reset_defaults()


def test_once_dry_run_on_gcp_plans_a_gke_node_and_creates_nothing(
    kube: FakeApiServer,
    server: RecordingGcpServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    adc = tmp_path / "adc.json"
    adc.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": world.PROJECT,
                "private_key_id": "0123456789abcdef0123456789abcdef01234567",
                "private_key": pem.decode(),
                "client_email": f"luna-autoscaler@{world.PROJECT}.iam.gserviceaccount.com",
                "client_id": "104938573620571930572",
                "token_uri": f"{server.url}/token",
            }
        )
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", world.PROJECT)
    endpoints = {f"{api}Endpoint": server.url for api in ("container", "compute", "billing")}
    config = tmp_path / "config.yaml"
    gcp = {"project": world.PROJECT, "clusterName": world.CLUSTER, **endpoints}
    config.write_text(yaml.safe_dump({"gcp": gcp, "gpuTimeSlicing": [{"gpuSkus": ["L4"], "replicas": 2}]}))
    kube.create(k.pod("train", cpu="2", memory="8Gi", gpus=1, labels={"elotl-luna": "true"}, unschedulable=True))
    shared = k.pod("shared", cpu="1", memory="2Gi", gpus=1, labels={"elotl-luna": "true"}, unschedulable=True)
    shared["spec"]["nodeSelector"] = {  # as GKE's time-sharing documentation has users write
        "cloud.google.com/gke-gpu-sharing-strategy": "time-sharing",
        "cloud.google.com/gke-max-shared-clients-per-gpu": "2",
    }
    kube.create(shared)
    kubeconfig = str(kube.write_kubeconfig(tmp_path / "kubeconfig"))

    code = run_command(
        "--once",
        "--dry-run",
        "--provider",
        "gcp",
        "--kubeconfig",
        kubeconfig,
        "--cluster-name",
        world.CLUSTER,
        "--config",
        str(config),
    )

    out = capsys.readouterr().out
    assert code == 0 and "2 pending pods handled" in out
    assert "would launch" in out and "default/train" in out and "default/shared" in out
    assert {"listNodePools", "listSkus"} <= set(server.routes())  # signed by the key (self-signed JWT), live prices
    assert not server.calls("createNodePool") and not server.calls("createInstances")
