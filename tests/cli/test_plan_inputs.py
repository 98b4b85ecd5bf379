"""Reading `plan` inputs at scale: JSON and YAML alike, a workload's replicas as one value, a bound on pods."""

import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import yaml

from luna_autoscaler.cli import inputs, main
from luna_autoscaler.cli.plan import load_workload


def deployment(name: str, replicas: int, cpu: str = "500m") -> dict[str, Any]:
    container = {"name": "c", "resources": {"requests": {"cpu": cpu, "memory": "1Gi"}}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "web"},
        "spec": {
            "replicas": replicas,
            "template": {
                "metadata": {"labels": {"app": name, "elotl-luna": "true"}},
                "spec": {"containers": [container]},
            },
        },
    }


def pod(name: str, cpu: str) -> dict[str, Any]:
    container = {"name": "c", "resources": {"requests": {"cpu": cpu, "memory": "2Gi"}}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "web", "labels": {"elotl-luna": "true"}},
        "spec": {"containers": [container]},
    }


def plan_json(capsys: pytest.CaptureFixture[str], path: Path) -> dict[str, Any]:
    assert main(["plan", "--pods", str(path), "--output", "json"]) == 0
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    return out


def test_json_and_yaml_files_give_the_same_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = {"apiVersion": "v1", "kind": "List", "items": [deployment("api", 5), pod("solo", "3")]}
    as_json, as_yaml = tmp_path / "pods.json", tmp_path / "pods.yaml"
    as_json.write_text(json.dumps(doc))
    as_yaml.write_text(yaml.safe_dump(doc))
    from_json, from_yaml = plan_json(capsys, as_json), plan_json(capsys, as_yaml)
    assert from_json["nodes"] == from_yaml["nodes"] and from_json["nodes"]
    pods = sorted(p for n in from_json["nodes"] for p in n["pods"])
    assert pods == sorted([f"web/api-{i}" for i in range(5)] + ["web/solo"])


def test_yaml_without_libyaml_still_reads_with_one_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "pods.yaml"
    path.write_text(yaml.safe_dump(pod("p", "1")))
    monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    with pytest.warns(RuntimeWarning, match="libyaml"):
        docs = inputs.read_documents(str(path))
    assert [d["metadata"]["name"] for d in docs] == ["p"]


def test_json_looking_yaml_falls_back_to_the_yaml_parser(tmp_path: Path) -> None:
    path = tmp_path / "pods.yaml"
    path.write_text("{kind: Pod, metadata: {name: flow}}\n")
    assert [d["metadata"]["name"] for d in inputs.read_documents(str(path))] == ["flow"]


def test_replicas_are_one_value_with_a_count_not_objects(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_text(json.dumps(deployment("big", 200_000)))
    tracemalloc.start()
    workload = load_workload([str(path)], [])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert [(p.key, p.count) for p in workload.pending] == [("web/big", 200_000)]
    assert peak < 5_000_000, f"{peak} bytes traced: replicas were expanded"


def test_a_billion_replicas_is_a_clear_error_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text(yaml.safe_dump(deployment("huge", 1_000_000_000)))
    assert main(["plan", "--pods", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "1000000000 replicas" in captured.err and str(inputs.MAX_PODS) in captured.err


def test_pods_over_the_limit_across_workloads_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    half = inputs.MAX_PODS // 2 + 1
    path = tmp_path / "two.json"
    path.write_text(json.dumps({"kind": "List", "items": [deployment("a", half), deployment("b", half)]}))
    assert main(["plan", "--pods", str(path)]) == 2
    assert f"more than {inputs.MAX_PODS} pods" in capsys.readouterr().err


@pytest.mark.parametrize(("name", "clash"), [("api-3", True), ("api-7", False), ("api-03", False), ("api", False)])
def test_a_pod_named_like_a_replica_clashes_only_with_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, clash: bool
) -> None:
    path = tmp_path / "pods.json"
    path.write_text(json.dumps({"kind": "List", "items": [deployment("api", 7), pod(name, "1")]}))
    assert main(["plan", "--pods", str(path), "--output", "json"]) == (2 if clash else 0)
    captured = capsys.readouterr()
    if clash:
        assert f"web/{name} appears twice" in captured.err
    else:
        assert sum(len(n["pods"]) for n in json.loads(captured.out)["nodes"]) == 8
