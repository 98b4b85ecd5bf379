"""`plan` as a new user meets it (issue 18): the daemon's pod selection, what it skips and ignores and why, the
ML workload kinds it expands, the cheapest cloud marked, the spot hint, and messages that name the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from luna_autoscaler.cli import main
from luna_autoscaler.errors import ManifestError
from luna_autoscaler.models.pod_templates import pod_templates

LABEL = {"elotl-luna": "true"}


def container(cpu: str = "1", memory: str = "1Gi", gpus: int = 0) -> dict[str, Any]:
    resources: dict[str, Any] = {"requests": {"cpu": cpu, "memory": memory}}
    if gpus:
        resources["limits"] = {"nvidia.com/gpu": gpus}
    return {"name": "c", "image": "x", "resources": resources}


def template(labels: dict[str, str] | None = None, **kw: Any) -> dict[str, Any]:
    return {
        "metadata": {"labels": dict(LABEL if labels is None else labels)},
        "spec": {"containers": [container(**kw)]},
    }


def pod(name: str, labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    t = template(labels)
    t["metadata"].update(name=name, namespace="ns", annotations=annotations or {})
    return {"apiVersion": "v1", "kind": "Pod", **t}


def write(tmp_path: Path, *docs: dict[str, Any], name: str = "in.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump_all(docs))
    return str(path)


def plan_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[dict[str, Any], str]:
    assert main(["plan", *args, "--output", "json"]) == 0
    captured = capsys.readouterr()
    doc: dict[str, Any] = json.loads(captured.out)
    return doc, captured.err


def planned(doc: dict[str, Any]) -> set[str]:
    return {p for n in doc["nodes"] for p in n["pods"]} | {u["pod"] for u in doc["unplaced"]}


def test_plan_selects_pods_as_the_daemon_does_and_says_what_it_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        pod("chosen"),
        pod("unlabelled", labels={}),
        pod("by-annotation", labels={}, annotations={"team": "ml"}),
        pod("ignored", annotations={"pod.elotl.co/ignore": "true"}),
    )
    config = tmp_path / "config.yaml"
    config.write_text("labels: elotl-luna=true\npodAnnotations: team=ml\n")
    doc, _ = plan_json(capsys, "--pods", path, "--config", str(config))
    assert planned(doc) == {"ns/chosen", "ns/by-annotation"}
    skipped = {s["pod"]: s["reason"] for s in doc["skipped"]}
    assert skipped["ns/ignored"] == "pod.elotl.co/ignore=true"
    assert "label elotl-luna=true" in skipped["ns/unlabelled"] and "annotation team=ml" in skipped["ns/unlabelled"]

    everything, _ = plan_json(capsys, "--pods", path, "--config", str(config), "--all-pods")
    assert planned(everything) == {"ns/chosen", "ns/by-annotation", "ns/unlabelled"}
    assert [s["pod"] for s in everything["skipped"]] == ["ns/ignored"], "ignore=true is never planned"

    assert main(["plan", "--pods", path, "--config", str(config)]) == 0
    table = capsys.readouterr().out
    assert "Skipped 2 pods the daemon would not handle (--all-pods plans them):" in table
    assert "  1 pod.elotl.co/ignore=true" in table


def test_every_ignored_kind_is_warned_once_and_pods_as_nodes_are_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}
    path = write(tmp_path, cm, dict(cm, metadata={"name": "d"}), svc, pod("p"))
    doc, err = plan_json(capsys, "--pods", path)
    assert planned(doc) == {"ns/p"}
    assert err.splitlines() == [
        "luna-autoscaler plan: warning: ignored 2 ConfigMap objects (neither pods, workloads, DaemonSets nor Nodes)",
        "luna-autoscaler plan: warning: ignored 1 Service object (neither pods, workloads, DaemonSets nor Nodes)",
    ]
    assert main(["plan", "--pods", path, "--nodes", path]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{path}: Pod ns/p is not a Node: --nodes takes Node objects" in captured.err


def names(groups: list[tuple[str, int, Any]] | None) -> list[tuple[str, int]]:
    assert groups is not None
    return [(prefix, count) for prefix, count, _ in groups]


def test_ml_workload_kinds_expand_to_the_pods_of_their_templates() -> None:
    ray = {
        "kind": "RayCluster",
        "metadata": {"name": "r"},
        "spec": {
            "headGroupSpec": {"template": template()},
            "workerGroupSpecs": [
                {"groupName": "gpu", "replicas": 3, "template": template(gpus=1)},
                {"groupName": "tpu", "minReplicas": 2, "numOfHosts": 4, "template": template()},
            ],
        },
    }
    assert names(pod_templates(ray)) == [("r-head", 1), ("r-gpu-worker", 3), ("r-tpu-worker", 8)]
    pytorch = {
        "kind": "PyTorchJob",
        "metadata": {"name": "t"},
        "spec": {
            "pytorchReplicaSpecs": {
                "Master": {"replicas": 1, "template": template()},
                "Worker": {"replicas": 3, "template": template(gpus=8)},
            }
        },
    }
    assert names(pod_templates(pytorch)) == [("t-master", 1), ("t-worker", 3)]
    mpi = {"kind": "MPIJob", "metadata": {"name": "m"}, "spec": {"mpiReplicaSpecs": {"Launcher": {"template": {}}}}}
    assert names(pod_templates(mpi)) == [("m-launcher", 1)]
    jobset = {
        "kind": "JobSet",
        "metadata": {"name": "js"},
        "spec": {
            "replicatedJobs": [
                {"name": "w", "replicas": 2, "template": {"spec": {"parallelism": 4, "completions": 3, "template": {}}}}
            ]
        },
    }
    assert names(pod_templates(jobset)) == [("js-w-0", 3), ("js-w-1", 3)]
    lws = {
        "kind": "LeaderWorkerSet",
        "metadata": {"name": "l"},
        "spec": {"replicas": 2, "leaderWorkerTemplate": {"size": 4, "workerTemplate": template(gpus=1)}},
    }
    groups = pod_templates(lws)
    assert names(groups) == [("l-0-leader", 1), ("l-0-worker", 3), ("l-1-leader", 1), ("l-1-worker", 3)]
    assert groups is not None and groups[0][2] == groups[1][2], "no leaderTemplate: the leader runs the worker's"
    assert pod_templates({"kind": "ConfigMap"}) is None


def test_a_bad_replica_count_in_a_workload_names_the_file_object_and_field(tmp_path: Path) -> None:
    ray = {"kind": "RayCluster", "metadata": {"name": "r"}, "spec": {"workerGroupSpecs": [{"replicas": "many"}]}}
    with pytest.raises(ManifestError, match=r"f.yaml: RayCluster r: spec.workerGroupSpecs\[0\].replicas: must be"):
        pod_templates(ray, "f.yaml")


def test_plan_prices_the_pods_of_a_raycluster(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ray = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "r", "namespace": "ml"},
        "spec": {
            "headGroupSpec": {"template": template(cpu="2")},
            "workerGroupSpecs": [{"groupName": "gpu", "replicas": 2, "template": template(gpus=1)}],
        },
    }
    doc, err = plan_json(capsys, "--pods", write(tmp_path, ray))
    assert planned(doc) == {"ml/r-head-0", "ml/r-gpu-worker-0", "ml/r-gpu-worker-1"}
    assert err == ""
    gpu_nodes = [n for n in doc["nodes"] if n["gpu_sku"]]
    assert sorted(p for n in gpu_nodes for p in n["pods"]) == ["ml/r-gpu-worker-0", "ml/r-gpu-worker-1"]


def test_compare_marks_the_cheapest_cloud_and_says_the_rule(capsys: pytest.CaptureFixture[str]) -> None:
    inference = str(Path(__file__).resolve().parents[2] / "examples" / "inference.yaml")
    assert main(["plan", "--pods", inference, "--cloud", "all", "--output", "json"]) == 0
    cheapest = json.loads(capsys.readouterr().out)["cheapest"]
    assert main(["plan", "--pods", inference, "--cloud", "all"]) == 0
    table = capsys.readouterr().out.split("Comparison", 1)[1].splitlines()
    assert table[0] == " (cheapest: fewest unplaced pods first, then the lowest $/h):"
    marked = [line for line in table[1:] if line.startswith("*")]
    assert len(marked) == 1 and marked[0].split()[1] == cheapest and marked[0].endswith("<- cheapest")


def test_unplaced_pods_that_spot_would_place_are_counted_with_what_to_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    two_gpus = pod("two-gpu", annotations={"node.elotl.co/instance-max-cost": "3.0"})
    two_gpus["spec"]["containers"] = [container(cpu="8", memory="32Gi", gpus=2)]
    path = write(tmp_path, two_gpus)
    assert main(["plan", "--pods", path]) == 0  # default offerings: on-demand only
    out = capsys.readouterr().out
    assert "No new nodes needed." not in out and "Unplaced pods (1):" in out
    assert "1 pod would fit on spot; set defaultOfferings" in out and "node.elotl.co/instance-offerings" in out
    assert "Total: 0 nodes, $0.0000/h" in out
    config = tmp_path / "spot.yaml"
    config.write_text("defaultOfferings: spot,on-demand\n")
    assert main(["plan", "--pods", path, "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "would fit on spot" not in out and "Total: 1 node, $" in out


@pytest.mark.parametrize(
    ("content", "config", "message"),
    [
        ("kind: Pod\n  bad: [yaml\n", "", "{pods}: line 2, column 6: not valid YAML: mapping values are not allowed"),
        (
            "kind: Pod\nmetadata: {name: x}\nspec: {containers: [{name: c, resources: {requests: {cpu: 2x}}}]}\n",
            "",
            "{pods}: Pod default/x: spec.containers[0].resources: cpu: '2x'",
        ),
        (
            "kind: Pod\nmetadata: {name: x}\n",
            "defaultOfferings: spott\n",
            "{config}: defaultOfferings: unknown offering",
        ),
        ("kind: Pod\nmetadata: {name: x}\n", "labels: [oops\n", "{config}: line 2, column 1: not valid YAML: "),
    ],
)
def test_errors_are_one_line_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, config: str, message: str
) -> None:
    pods, config_path = tmp_path / "pods.yaml", tmp_path / "config.yaml"
    pods.write_text(content)
    config_path.write_text(config)
    assert main(["plan", "--pods", str(pods), "--config", str(config_path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "<unicode string>" not in err
    assert message.format(pods=pods, config=config_path) in err


def test_standard_input_is_named_one_way(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import io

    for content in (
        "kind: ConfigMap\n",
        "kind: Pod\nmetadata: {name: x}\nspec: {containers: [{name: c, resources: {requests: {cpu: 2x}}}]}\n",
    ):
        monkeypatch.setattr("sys.stdin", io.StringIO(content))
        assert main(["plan", "--pods", "-"]) == 2
        err = capsys.readouterr().err
        assert "standard input: " in err and "-:" not in err


def test_memory_in_tables_uses_one_unit_per_magnitude() -> None:
    from luna_autoscaler.models.quantity import format_memory

    assert [format_memory(m * 2**20) for m in (203234, 207053, 16384, 512)] == ["198.5Gi", "202.2Gi", "16Gi", "512Mi"]
