"""Pods that select GKE's own node labels (`cloud.google.com/gke-accelerator`, `cloud.google.com/gke-spot`), as
GKE's documentation tells users to, are planned on GCP: the offerings carry those labels (pricing.gcp)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from luna_autoscaler.cli import main


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
