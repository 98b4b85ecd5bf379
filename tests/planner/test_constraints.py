"""Every constraint a pod can put on its node: Luna annotations, nodeSelector/affinity, tolerations, arch."""

from __future__ import annotations

from dataclasses import replace

import pytest

from luna_autoscaler.models.catalog import Accelerator, Arch, CapacityType, InstanceType, Offering
from luna_autoscaler.models.scheduling import Toleration
from luna_autoscaler.planner.types import BinKind
from tests.planner.conftest import (
    PROVENANCE,
    TYPES,
    ZONES,
    catalog,
    config,
    node_of,
    offering,
    on_demand_catalog,
    pod,
    run,
    types_bought,
)

ALL = tuple(TYPES)


@pytest.mark.parametrize(
    ("annotation", "value", "expected"),
    [
        ("node.elotl.co/instance-type-regexp", r"^m5\.2xlarge$", "m5.2xlarge"),
        ("node.elotl.co/instance-family-inclusions", "C5,m5", "c5.large"),  # families are case-insensitive
        ("node.elotl.co/instance-family-exclusions", "c5", "m5.large"),
        ("node.elotl.co/instance-max-cost", "0.09", "c5.large"),
    ],
)
def test_instance_annotations_choose_the_cheapest_type_they_allow(annotation, value, expected):
    result = run([pod("a", "500m", "1Gi", annotations={annotation: value})], on_demand_catalog(*ALL))
    assert types_bought(result) == [expected]
    assert result.new_nodes[0].bin is BinKind.SELECT  # annotated pods are bin-selected


def test_gpu_sku_annotation_selects_the_model_and_general_names_select_variants():
    cat = on_demand_catalog(*ALL)
    assert types_bought(
        run([pod("a", "1", "2Gi", gpus=1, annotations={"node.elotl.co/instance-gpu-skus": "a10g"})], cat)
    ) == ["g5.xlarge"]
    assert types_bought(
        run([pod("a", "1", "2Gi", gpus=1, annotations={"node.elotl.co/instance-gpu-skus": "A10"})], cat)
    ) == ["g5.xlarge"]
    assert types_bought(run([pod("a", "1", "2Gi", gpus=1)], cat)) == ["g4dn.xlarge"]


def test_max_gpus_annotation_bounds_the_gpus_of_the_node():
    cheap_big = catalog(offering("g4dn.xlarge"), offering("g4dn.12xlarge", price=1.5))
    pods = [pod(f"p{i}", "1", "2Gi", gpus=1) for i in range(4)]
    assert types_bought(run(pods, cheap_big)) == ["g4dn.12xlarge"]
    limited = [pod(f"p{i}", "1", "2Gi", gpus=1, annotations={"node.elotl.co/instance-max-gpus": "2"}) for i in range(4)]
    assert types_bought(run(limited, cheap_big)) == ["g4dn.xlarge"] * 4


def test_node_price_respects_the_max_cost_of_every_pod_on_it():
    cheap_big = catalog(offering("g4dn.xlarge"), offering("g4dn.12xlarge", price=1.5))
    thrifty = pod("thrifty", "1", "2Gi", gpus=1, annotations={"node.elotl.co/instance-max-cost": "1.00"})
    others = [pod(f"p{i}", "1", "2Gi", gpus=1) for i in range(3)]
    result = run([thrifty, *others], cheap_big)
    assert node_of(result, "ns/thrifty") == "g4dn.xlarge"
    for node in result.new_nodes:
        if "ns/thrifty" in node.pods:
            assert node.price_usd_per_hour <= 1.00
            assert all(a.price_usd_per_hour <= 1.00 for a in node.alternatives)


def test_offerings_annotation_and_default_offerings():
    cat = catalog(offering("m5.large"), offering("m5.large", capacity_type=CapacityType.SPOT, price=0.04))
    a_pod = pod("a", "500m", "1Gi")
    assert run([a_pod], cat).new_nodes[0].offering.capacity_type is CapacityType.ON_DEMAND  # default on-demand
    spot = run([a_pod], cat, config(defaultOfferings="spot,on-demand")).new_nodes[0].offering
    assert (spot.capacity_type, spot.price_usd_per_hour) == (CapacityType.SPOT, 0.04)
    annotated = pod("b", "500m", "1Gi", annotations={"node.elotl.co/instance-offerings": "spot"})
    assert run([annotated], cat).new_nodes[0].offering.capacity_type is CapacityType.SPOT
    on_demand_only = pod("c", "500m", "1Gi", annotations={"node.elotl.co/instance-offerings": "on-demand"})
    assert (
        run([on_demand_only], cat, config(defaultOfferings="spot")).new_nodes[0].offering.capacity_type
        is CapacityType.ON_DEMAND
    )


def test_node_selector_on_well_known_labels():
    cat = on_demand_catalog(*ALL, zones=("us-east-1a", "us-east-1b"))
    result = run([pod("a", node_selector={"topology.kubernetes.io/zone": "us-east-1b"})], cat)
    assert result.new_nodes[0].offering.zone == "us-east-1b"
    result = run([pod("a", node_selector={"node.kubernetes.io/instance-type": "m5.xlarge"})], cat)
    assert types_bought(result) == ["m5.xlarge"]
    result = run([pod("a", node_selector={"karpenter.sh/capacity-type": "on-demand"})], cat)
    assert types_bought(result) == ["c5.large"]


def test_required_node_affinity_is_honoured():
    from luna_autoscaler.models.manifest import pod_from_manifest

    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "node.elotl.co/instance-family", "operator": "In", "values": ["m5"]}]}
                ]
            }
        }
    }
    p = pod_from_manifest(
        {
            "metadata": {"name": "a", "namespace": "ns"},
            "spec": {"affinity": affinity, "containers": [{"name": "c", "resources": {"requests": {"cpu": "1"}}}]},
        }
    )
    assert types_bought(run([p], on_demand_catalog(*ALL))) == ["m5.large"]


def test_configured_node_labels_can_be_selected_and_unknown_labels_say_so():
    cat = on_demand_catalog("m5.large")
    result = run([pod("a", node_selector={"team": "ml"})], cat, config(nodeLabels={"team": "ml"}))
    assert types_bought(result) == ["m5.large"]
    assert result.new_nodes[0].labels["team"] == "ml"
    result = run([pod("a", node_selector={"team": "web"})], cat, config(nodeLabels={"team": "ml"}))
    assert result.unplaced[0].reason == "0/2 offerings: 2 node selector team In [web]"


def test_gpu_nodes_are_tainted_and_cpu_pods_stay_off_them_unless_they_tolerate():
    only_gpu = on_demand_catalog("g4dn.xlarge")
    result = run([pod("cpu")], only_gpu)
    assert result.unplaced[0].reason == "0/2 offerings: 2 taint nvidia.com/gpu=present:NoSchedule not tolerated"
    tolerant = pod("cpu", tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}])
    assert types_bought(run([tolerant], only_gpu)) == ["g4dn.xlarge"]
    assert types_bought(run([pod("cpu")], only_gpu, config(gpuTaint=""))) == ["g4dn.xlarge"]


def test_configured_node_taints_need_tolerations():
    cat = on_demand_catalog("m5.large")
    cfg = config(nodeTaints=["dedicated=batch:NoSchedule"])
    assert "taint dedicated=batch:NoSchedule not tolerated" in run([pod("a")], cat, cfg).unplaced[0].reason
    tolerant = pod("a", tolerations=[{"key": "dedicated", "value": "batch", "effect": "NoSchedule"}])
    result = run([tolerant], cat, cfg)
    assert [str(t) for t in result.new_nodes[0].taints] == ["dedicated=batch:NoSchedule"]


def test_node_architecture_config():
    graviton = InstanceType("aws", "m7g.large", "m7g", 2, 8192, arch=Arch.ARM64, max_pods=29)
    cat = catalog(
        offering("m5.large"), Offering(graviton, "us-east-1", "us-east-1a", CapacityType.ON_DEMAND, 0.08, PROVENANCE)
    )
    assert types_bought(run([pod("a")], cat)) == ["m5.large"]  # default amd64
    assert types_bought(run([pod("a")], cat, config(nodeArchitecture="amd64+arm64"))) == ["m7g.large"]
    assert types_bought(run([pod("a")], cat, config(nodeArchitecture="arm64"))) == ["m7g.large"]


def test_non_gpu_accelerators_need_their_own_resource():
    inf2 = InstanceType(
        "aws",
        "inf2.xlarge",
        "inf2",
        4,
        16384,
        accelerator=Accelerator("INFERENTIA2", 1, "aws.amazon.com/neuron", "neuron"),
    )
    cat = catalog(
        offering("g4dn.xlarge"), Offering(inf2, "us-east-1", "us-east-1a", CapacityType.ON_DEMAND, 0.2, PROVENANCE)
    )
    assert types_bought(run([pod("gpu", gpus=1)], cat)) == ["g4dn.xlarge"]
    assert types_bought(run([pod("neuron", **{"aws.amazon.com/neuron": "1"})], cat)) == ["inf2.xlarge"]


def test_every_accelerator_node_is_tainted_by_its_resource_so_cpu_pods_never_buy_one():
    inf2 = InstanceType(
        "aws",
        "inf2.xlarge",
        "inf2",
        4,
        16384,
        accelerator=Accelerator("INFERENTIA2", 1, resource_name="aws.amazon.com/neuron", kind="neuron"),
        max_pods=58,
    )
    cheap_inf2 = Offering(inf2, "us-east-1", ZONES[0], CapacityType.ON_DEMAND, 0.05, PROVENANCE)  # below m5.large
    cat = catalog(cheap_inf2, offering("m5.large"))
    assert types_bought(run([pod("cpu")], cat)) == ["m5.large"]
    neuron = pod("neuron", **{"aws.amazon.com/neuron": "1"})
    # what ExtendedResourceToleration adds to a pod requesting the resource
    neuron = replace(neuron, tolerations=(Toleration("aws.amazon.com/neuron", "Exists", "", "NoSchedule"),))
    result = run([neuron], cat)
    assert types_bought(result) == ["inf2.xlarge"]
    assert [str(t) for t in result.new_nodes[0].taints] == ["aws.amazon.com/neuron=present:NoSchedule"]
