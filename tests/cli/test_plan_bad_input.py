"""Reproducers of what fuzzing `plan` found (issue 12): each used to end in a traceback (rc 1) or run for ever.

Bad input must end with a message on stderr naming the file and what is wrong, and exit code 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from luna_autoscaler.cli import EXIT_BAD_INPUT, main

CATASTROPHIC = r"^([-\w.]+)+!$"
"""Exponential for a backtracking engine against names such as `g5.xlarge`: ran for minutes with `re`."""


def _pod(annotations: dict[str, str] | None = None) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "p",
            "namespace": "default",
            "labels": {"elotl-luna": "true"},
            "annotations": annotations or {},
        },
        "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}]},
    }


def _deployment(metadata: object, template_metadata: object) -> dict[str, object]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {"replicas": 2, "template": {"metadata": template_metadata, "spec": _pod()["spec"]}},
    }


def _bad_input(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["plan", *args]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith("luna-autoscaler plan: error: ") and "Traceback" not in err, err
    return err


def test_catastrophic_regexp_annotation_is_matched_in_linear_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pods = tmp_path / "pods.json"
    pods.write_text(json.dumps(_pod({"node.elotl.co/instance-type-regexp": CATASTROPHIC})))
    assert main(["plan", "--pods", str(pods), "--cloud", "all", "--output", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["plans"]) == 4
    for plan in doc["plans"]:
        assert plan["nodes"] == []
        assert [u["pod"] for u in plan["unplaced"]] == ["default/p"]
        assert "instance type not matching" in json.dumps(plan["unplaced"][0]["rejections"])


def test_catastrophic_regexps_in_config_are_matched_in_linear_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pods, config = tmp_path / "pods.json", tmp_path / "config.json"
    pods.write_text(json.dumps(_pod()))
    slicing = [{"instanceTypeRegexp": CATASTROPHIC, "replicas": 2}]
    config.write_text(json.dumps({"binPackingNodeTypeRegexp": CATASTROPHIC, "gpuTimeSlicing": slicing}))
    assert main(["plan", "--pods", str(pods), "--config", str(config), "--cloud", "all", "--output", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [len(p["unplaced"]) for p in doc["plans"]] == [1, 1, 1, 1]


def test_regexp_syntax_re2_does_not_support_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pods = tmp_path / "pods.json"
    pods.write_text(json.dumps(_pod({"node.elotl.co/instance-type-regexp": r"^(g5)\.\1"})))
    assert main(["plan", "--pods", str(pods), "--output", "json"]) == 0
    (unplaced,) = json.loads(capsys.readouterr().out)["unplaced"]
    assert "invalid regular expression" in unplaced["reason"] and "backreferences" in unplaced["reason"]


def test_non_utf8_pod_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pods = tmp_path / "pods.yaml"
    pods.write_bytes(b"kind: Pod\nmetadata: {name: \xff\xfe}\n")
    assert "not UTF-8" in _bad_input(capsys, "--pods", str(pods))


@pytest.mark.parametrize("text", ["[" * 100_000, "{a: " * 50_000, "- " * 50_000])
def test_deeply_nested_pod_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> None:
    pods = tmp_path / "pods.yaml"
    pods.write_text(text)
    assert str(pods) in _bad_input(capsys, "--pods", str(pods))


def test_number_past_the_int_digit_limit_in_a_pod_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pods = tmp_path / "pods.yaml"
    pods.write_text("kind: Pod\nmetadata: {name: p}\nspec: {priority: " + "1" * 5000 + "}\n")
    assert str(pods) in _bad_input(capsys, "--pods", str(pods))


@pytest.mark.parametrize(
    ("metadata", "template_metadata", "field"),
    [
        (["not", "a", "mapping"], {}, "metadata"),
        ("web", {}, "metadata"),
        ({"name": "web"}, ["x"], "spec.template.metadata"),
        ({"name": "web"}, "labels", "spec.template.metadata"),
    ],
)
def test_workload_metadata_that_is_not_a_mapping(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], metadata: object, template_metadata: object, field: str
) -> None:
    pods = tmp_path / "pods.json"
    pods.write_text(json.dumps(_deployment(metadata, template_metadata)))
    err = _bad_input(capsys, "--pods", str(pods))
    assert field in err and "expected a mapping" in err


@pytest.mark.parametrize(
    "content", [b"\xff\xfe\x00k", ("[" * 100_000).encode(), b"maxNodes: " + b"9" * 5000, b"{x: " * 50_000]
)
def test_unreadable_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes) -> None:
    pods, config = tmp_path / "pods.json", tmp_path / "config.yaml"
    pods.write_text(json.dumps(_pod()))
    config.write_bytes(content)
    assert str(config) in _bad_input(capsys, "--pods", str(pods), "--config", str(config))
