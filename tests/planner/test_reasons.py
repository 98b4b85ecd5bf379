"""Unplaced pods get reasons a person can act on, counted per cause like kube-scheduler's."""

from __future__ import annotations

from tests.planner.conftest import TYPES, on_demand_catalog, pod, run

CAT = on_demand_catalog(*TYPES)  # 10 types, one zone: 10 on-demand + 10 estimated spot offerings


def test_counts_cover_every_offering_once_under_its_first_failing_check():
    t4_cheap = pod(
        "a",
        "1",
        "2Gi",
        gpus=1,
        annotations={"node.elotl.co/instance-gpu-skus": "T4", "node.elotl.co/instance-max-cost": "0.50"},
    )
    result = run([t4_cheap], CAT)
    unplaced = result.unplaced[0]
    assert unplaced.rejections == {
        "no nvidia.com/gpu": 10,  # the five CPU types, on-demand and spot
        "fractional GPU, only for nvidia.com/gpu.shared": 2,
        "gpu-sku not in [T4]": 2,  # g5.xlarge (A10G)
        "over max cost 0.50": 4,  # g4dn on-demand, and g4dn.12xlarge spot (estimated at $1.37)
        "capacity type spot not in [on-demand]": 2,  # g4dn.xlarge and 2xlarge spot, estimated under $0.50
    }
    assert sum(unplaced.rejections.values()) == 20
    assert unplaced.reason == (
        "0/20 offerings: 10 no nvidia.com/gpu, 4 over max cost 0.50, 2 capacity type spot not in [on-demand], "
        "2 fractional GPU, only for nvidia.com/gpu.shared, 2 gpu-sku not in [T4]"
    )


def test_too_big_for_any_type():
    result = run([pod("huge", "100", "1Ti")], CAT)
    assert result.unplaced[0].reason.startswith("0/20 offerings: ")
    assert "insufficient cpu, memory" in result.unplaced[0].reason


def test_invalid_annotations_name_the_annotation_and_why_and_the_rest_goes_on():
    bad = pod("bad", annotations={"node.elotl.co/instance-max-cost": "abc"})
    regexp = pod("regexp", annotations={"node.elotl.co/instance-type-regexp": "g5.(["})
    good = pod("good")
    result = run([bad, regexp, good], CAT)
    assert [n.pods for n in result.new_nodes] == [("ns/good",)]
    reasons = {u.pod: u.reason for u in result.unplaced}
    assert reasons["ns/bad"] == (
        "invalid annotation node.elotl.co/instance-max-cost='abc': not a number (expected USD per hour, e.g. 4.75)"
    )
    assert reasons["ns/regexp"].startswith("invalid annotation node.elotl.co/instance-type-regexp='g5.([': ")


def test_an_empty_catalog_says_so():
    from luna_autoscaler.models.catalog import Catalog
    from tests.planner.conftest import PROVENANCE

    result = run([pod("a")], Catalog("aws", "us-east-1", (), PROVENANCE))
    assert result.unplaced[0].reason == "0/0 offerings: the catalog has no offerings"
