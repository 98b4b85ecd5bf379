"""Pods that select GKE's own node labels (`cloud.google.com/gke-accelerator`, `cloud.google.com/gke-spot`, the
time-sharing labels), as GKE's documentation tells users to, are planned on GCP: the offerings carry those labels
(pricing.gcp.offerings), the time-sharing ones for the GPU mode a node is bought in."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from luna_autoscaler.cli import main
from pricing.catalog import load_catalog


def test_a_pod_selecting_a_gke_accelerator_on_spot_is_planned_on_such_a_node(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "infer", "namespace": "default", "labels": {"elotl-luna": "true"}},
        "spec": {
            "nodeSelector": {"cloud.google.com/gke-accelerator": "nvidia-l4", "cloud.google.com/gke-spot": "true"},
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}],
            "containers": [
                {
                    "name": "m",
                    "image": "x",
                    "resources": {"requests": {"cpu": "2", "memory": "8Gi"}, "limits": {"nvidia.com/gpu": 1}},
                }
            ],
        },
    }
    pods = tmp_path / "pods.yaml"
    pods.write_text(yaml.safe_dump(pod))

    config = tmp_path / "config.yaml"
    config.write_text("defaultOfferings: spot,on-demand\n")

    assert main(["plan", "--pods", str(pods), "--config", str(config), "--cloud", "gcp", "--output", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)

    (node,) = doc["nodes"]
    assert node["instance_type"].startswith("g2-") and node["capacity_type"] == "spot"
    assert doc["unplaced"] == []


def gke_time_sharing_pod(name: str, clients: str = "4") -> dict[str, object]:
    """A pod written as GKE's time-sharing documentation says: select the sharing labels, ask for one GPU."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"elotl-luna": "true"}},
        "spec": {
            "nodeSelector": {
                "cloud.google.com/gke-accelerator": "nvidia-l4",
                "cloud.google.com/gke-gpu-sharing-strategy": "time-sharing",
                "cloud.google.com/gke-max-shared-clients-per-gpu": clients,
            },
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}],
            "containers": [
                {
                    "name": "m",
                    "image": "x",
                    "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}, "limits": {"nvidia.com/gpu": 1}},
                }
            ],
        },
    }


def test_plan_cloud_gcp_puts_pods_selecting_gke_time_sharing_on_one_sliced_node(tmp_path: Path) -> None:
    pods = tmp_path / "pods.yaml"
    pods.write_text(
        yaml.safe_dump_all(
            [*(gke_time_sharing_pod(f"share-{i}") for i in range(4)), gke_time_sharing_pod("eight", "8")]
        )
    )
    config = tmp_path / "config.yaml"
    config.write_text("defaultOfferings: on-demand\ngpuTimeSlicing:\n  - gpuSkus: [L4]\n    replicas: 4\n")

    argv = ["plan", "--pods", str(pods), "--config", str(config), "--cloud", "gcp", "--output", "json"]
    done = subprocess.run(
        [sys.executable, "-m", "luna_autoscaler", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    (node,) = doc["nodes"]
    assert node["gpu_sku"] == "L4" and node["gpu_mode"] == "time-sliced"
    assert sorted(node["pods"]) == [f"default/share-{i}" for i in range(4)]
    bought = load_catalog("gcp", doc["region"]).instance_types[node["instance_type"]]
    assert int(node["allocatable"]["nvidia.com/gpu"]) == bought.gpus * 4  # count x replicas
    # No gpuTimeSlicing entry gives 8 replicas: GKE would never label a node so, and the pod is not planned.
    assert [u["pod"] for u in doc["unplaced"]] == ["default/eight"]
