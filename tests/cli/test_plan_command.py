"""`luna-autoscaler plan`: the JSON contract (docs/plan-json.md), the table, and bad input."""

import json
from pathlib import Path
from typing import Any

import pytest

from luna_autoscaler.cli import main

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = str(ROOT / "examples" / "alibaba-sample.yaml")
INFERENCE = str(ROOT / "examples" / "inference.yaml")
CONFIG = str(ROOT / "examples" / "config.yaml")

NODE_FIELDS = {
    "name",
    "cloud",
    "instance_type",
    "capacity_type",
    "region",
    "zone",
    "price_usd_per_hour",
    "allocatable",
    "pods",
}


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["plan", *args, "--output", "json"]) == 0
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    return out


def check_contract(doc: dict[str, Any], expected_pods: set[str]) -> None:
    assert doc["schema"] == "luna-autoscaler/plan/v1"
    assert {"nodes", "unplaced", "total_price_usd_per_hour", "catalog"} <= doc.keys()
    assert doc["catalog"]["source"] and doc["catalog"]["as_of"]
    seen: list[str] = []
    for node in doc["nodes"]:
        assert node.keys() >= NODE_FIELDS
        assert node["capacity_type"] in ("spot", "on-demand")
        assert node["price_usd_per_hour"] > 0
        assert node["zone"].startswith(node["region"][:2]) or node["cloud"] in ("azure", "oci")
        assert node["pods"]
        seen += node["pods"]
    seen += [e["pod"] for e in doc["existing"]]
    seen += [u["pod"] for u in doc["unplaced"]]
    seen += [u["pod"] for u in doc["skipped"]]
    assert sorted(seen) == sorted(expected_pods), "every pod appears exactly once"
    assert doc["total_price_usd_per_hour"] == pytest.approx(sum(n["price_usd_per_hour"] for n in doc["nodes"]))


def test_sample_workload_plan_is_complete_and_consistent(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(capsys, "--pods", SAMPLE, "--config", CONFIG)
    import yaml

    items = yaml.safe_load(Path(SAMPLE).read_text())["items"]
    check_contract(doc, {f"{i['metadata']['namespace']}/{i['metadata']['name']}" for i in items})
    assert doc["cloud"] == "aws" and doc["region"] == "us-east-1"
    assert len(doc["nodes"]) < len(items), "pods share nodes"


def test_workloads_expand_and_malformed_annotation_is_unplaced_not_fatal(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(capsys, "--pods", INFERENCE)
    expected = {f"inference/llm-serving-{i}" for i in range(4)}
    expected |= {f"training/finetune-{i}" for i in range(2)}
    expected |= {f"web/api-{i}" for i in range(6)} | {"web/bad-annotation"}
    check_contract(doc, expected)
    bad = [u for u in doc["unplaced"] if u["pod"] == "web/bad-annotation"]
    assert bad and "node.elotl.co/instance-max-cost" in bad[0]["reason"] and "cheap" in bad[0]["reason"]
    for node in doc["nodes"]:
        if any(p.startswith("inference/") for p in node["pods"]):
            assert node["price_usd_per_hour"] <= 3.00
            assert node["gpu_sku"] in ("L4", "A10G")


def test_compare_all_clouds(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--pods", INFERENCE, "--cloud", "all", "--output", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [p["cloud"] for p in doc["plans"]] == ["aws", "gcp", "azure", "oci"]
    assert doc["cheapest"] in ("aws", "gcp", "azure", "oci")


def test_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--pods", INFERENCE]) == 0
    out = capsys.readouterr().out
    assert "INSTANCE TYPE" in out and "Total:" in out and "web/bad-annotation" in out


def test_stdin_input(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    pod = '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":{"elotl-luna":"true"}},"spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":"1","memory":"1Gi"}}}]}}'
    monkeypatch.setattr("sys.stdin", io.StringIO(pod))
    doc = run_json(capsys, "--pods", "-", "--cloud", "gcp")
    check_contract(doc, {"default/p"})
    assert not doc["skipped"] and not doc["unplaced"]


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (
            "kind: Pod\nmetadata: {name: x}\nspec: {containers: [{name: c, resources: {requests: {cpu: lots}}}]}",
            [],
            "'lots'",
        ),
        ("kind: Pod\n  bad: [yaml", [], "not valid YAML"),
        ("- 1\n- 2", [], "not a Kubernetes object"),
        ("kind: ConfigMap\nmetadata: {name: x}", [], "no pods"),
        ("kind: Pod\nmetadata: {name: x}\nspec: {containers: []}", ["--region", "mars-1"], "mars-1"),
        ("kind: Pod\nmetadata: {name: x}\nspec: {containers: []}", ["--config", "{missing}"], "cannot read"),
    ],
)
def test_bad_input_exits_2_with_a_message_and_no_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, args: list[str], message: str
) -> None:
    path = tmp_path / "pods.yaml"
    path.write_text(content)
    args = [a.replace("{missing}", str(tmp_path / "nope.yaml")) for a in args]
    assert main(["plan", "--pods", str(path), *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err


def test_invalid_config_names_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("maxNodes: lots\n")
    assert main(["plan", "--pods", INFERENCE, "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "maxNodes" in err and str(config) in err


def test_a_gang_in_a_manifest_is_planned_together_in_one_zone(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    docs = [
        {
            "apiVersion": "scheduling.x-k8s.io/v1alpha1",
            "kind": "PodGroup",
            "metadata": {"name": "train"},
            "spec": {"minMember": 3},
        },
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "train"},
            "spec": {
                "parallelism": 3,
                "completions": 3,
                "template": {
                    "metadata": {"labels": {"scheduling.x-k8s.io/pod-group": "train", "elotl-luna": "true"}},
                    "spec": {"containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": 8}}}]},
                },
            },
        },
    ]
    manifest = tmp_path / "gang.json"
    manifest.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}))

    doc = run_json(capsys, "--pods", str(manifest))

    assert sorted(p for n in doc["nodes"] for p in n["pods"]) == [
        "default/train-0",
        "default/train-1",
        "default/train-2",
    ]
    assert len({n["zone"] for n in doc["nodes"]}) == 1


def test_the_aws_sections_spot_limits_apply_to_plan_without_a_provider(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pods = tmp_path / "pods.yaml"  # g4dn.xlarge has an observed spot price in every zone: no estimate for it
    pods.write_text(
        'kind: Pod\nmetadata: {name: t, labels: {elotl-luna: "true"}, annotations: {node.elotl.co/instance-offerings: spot}}\n'
        "spec: {nodeSelector: {node.kubernetes.io/instance-type: g4dn.xlarge},"
        " containers: [{name: c, resources: {requests: {cpu: '1', nvidia.com/gpu: 1}}}]}\n"
    )
    free = run_json(capsys, "--pods", str(pods), "--cloud", "aws")
    assert [n["instance_type"] for n in free["nodes"]] == ["g4dn.xlarge"]
    limited = tmp_path / "c.yaml"
    limited.write_text("aws: {maxSpotPriceRatio: 0.01}\n")
    doc = run_json(capsys, "--pods", str(pods), "--cloud", "aws", "--config", str(limited))
    assert not doc["nodes"]
    assert "spot/on-demand price ratio above aws.maxSpotPriceRatio 0.01" in doc["unplaced"][0]["reason"]


def test_plan_loads_no_kubernetes_client_nor_daemon() -> None:
    """`plan` is an offline what-if: importing the Kubernetes client, the reconcile loop and the simulation was a
    third of a small plan's time. A fresh interpreter, since this test process has imported everything."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from luna_autoscaler.cli import main\n"
        f"assert main(['plan', '--pods', {INFERENCE!r}, '--output', 'json']) == 0\n"
        "loaded = [m for m in ('kubernetes', 'luna_autoscaler.kube', 'luna_autoscaler.reconcile',"
        " 'luna_autoscaler.simulation', 'luna_autoscaler.cli.run') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
