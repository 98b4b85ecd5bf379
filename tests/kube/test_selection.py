"""Which pods the product handles and which nodes it owns (luna_autoscaler.models.selection): pure rules."""

from __future__ import annotations

from typing import Any

import pytest

from luna_autoscaler.config import Config, config_from_configmap_data
from luna_autoscaler.models.manifest import node_from_manifest, pod_from_manifest
from luna_autoscaler.models.pod import Pod
from luna_autoscaler.models.selection import is_selected, owned_nodes, select_pods
from tests.kubeapi.objects import node, pod

LUNA = {"elotl-luna": "true"}


def _pod(name: str, **kwargs: Any) -> Pod:
    deleting = kwargs.pop("deleting", False)
    manifest = pod(name, **kwargs)
    if deleting:
        manifest["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    return pod_from_manifest(manifest)


def test_pending_unschedulable_pods_with_the_default_label_need_a_node() -> None:
    pods = [
        _pod("wanted", labels=LUNA, unschedulable=True),
        _pod("no-label", unschedulable=True),
        _pod("wrong-value", labels={"elotl-luna": "false"}, unschedulable=True),
        _pod("just-created", labels=LUNA),  # the scheduler has not tried yet
        _pod("running", labels=LUNA, node_name="n1"),
        _pod("finished", labels=LUNA, phase="Succeeded", unschedulable=True),
        _pod("deleting", labels=LUNA, unschedulable=True, deleting=True),
        _pod("ignored", labels=LUNA, unschedulable=True, annotations={"pod.elotl.co/ignore": "TRUE"}),
        _pod("other-gate", labels=LUNA, scheduling_gates=["example.com/quota"]),
    ]
    selection = select_pods(pods, Config())
    assert [p.name for p in selection.pending] == ["wanted"]
    assert selection.estimate_only == ()


def test_cost_estimate_gated_pods_are_returned_separately() -> None:
    gated = _pod("estimate-me", labels=LUNA, scheduling_gates=["nodecostestimate"])
    gated_unselected = _pod("not-ours", scheduling_gates=["nodecostestimate"])
    gated_twice = _pod("two-gates", labels=LUNA, scheduling_gates=["nodecostestimate", "example.com/other"])
    selection = select_pods([gated, gated_unselected, gated_twice], Config())
    assert [p.name for p in selection.estimate_only] == ["estimate-me", "two-gates"]
    assert selection.pending == ()


def test_any_one_configured_label_or_annotation_selects() -> None:
    config = config_from_configmap_data({"labels": "team=ml,tier=gpu", "podAnnotations": "luna.io/manage=yes"})
    pods = [
        _pod("by-second-label", labels={"tier": "gpu"}, unschedulable=True),
        _pod("by-annotation", annotations={"luna.io/manage": "yes"}, unschedulable=True),
        _pod("default-label-no-longer", labels=LUNA, unschedulable=True),
        _pod("label-as-annotation", annotations={"team": "ml"}, unschedulable=True),
    ]
    assert [p.name for p in select_pods(pods, config).pending] == ["by-second-label", "by-annotation"]


@pytest.mark.parametrize(
    ("labels", "annotations", "expected"),
    [({}, {}, True), ({"a": "1"}, {}, False), ({}, {"a": "1"}, False), ({"x": "y"}, {}, True)],
)
def test_is_selected_empty_selector_matches_all(
    labels: dict[str, str], annotations: dict[str, str], expected: bool
) -> None:
    assert is_selected(_pod("p", labels={"x": "y"}), labels, annotations) is expected


def test_owned_nodes_by_label_or_provider_id() -> None:
    nodes = [
        node_from_manifest(node("ours-by-label", labels={"node.elotl.co/managed-by": "luna-autoscaler"})),
        node_from_manifest(node("ours-by-instance", provider_id="aws:///us-east-1a/i-0abc")),
        node_from_manifest(node("someone-elses", provider_id="aws:///us-east-1a/i-0def")),
        node_from_manifest(node("no-provider-id")),
    ]
    owned = owned_nodes(nodes, provider_ids={"aws:///us-east-1a/i-0abc"})
    assert [n.name for n in owned] == ["ours-by-label", "ours-by-instance"]
    assert [n.name for n in owned_nodes(nodes)] == ["ours-by-label"]
