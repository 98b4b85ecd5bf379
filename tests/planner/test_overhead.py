"""Node overhead and what it does to what gets bought: the catalog's reservations, or what registered nodes report."""

from __future__ import annotations

from dataclasses import replace

from luna_autoscaler.models import scheduling as lbl
from luna_autoscaler.models.catalog import Catalog, InstanceType
from luna_autoscaler.models.pod import Node
from luna_autoscaler.models.resources import Resources
from luna_autoscaler.planner import plan
from luna_autoscaler.planner.shapes import PreparedOfferings, observed_node_resources
from luna_autoscaler.planner.types import PlanRequest
from tests.planner.conftest import (
    PROVENANCE,
    config,
    daemonset,
    node_of,
    offering,
    on_demand_catalog,
    pod,
    run,
    types_bought,
)

GIB = 2**30


def test_a_pod_that_fits_the_raw_size_but_not_allocatable_gets_the_next_size():
    cat = on_demand_catalog("m5.large", "m5.xlarge")
    assert types_bought(run([pod("a", "2", "4Gi")], cat)) == ["m5.xlarge"]  # 2 CPU > 1930m allocatable
    assert types_bought(run([pod("a", "1900m", "6Gi")], cat)) == ["m5.large"]
    assert types_bought(run([pod("a", "1", "7680Mi")], cat)) == ["m5.xlarge"]  # 7.5 GiB > allocatable of 8 GiB


def test_max_pods_bounds_a_node():
    cat = on_demand_catalog("c5.large", "m5.4xlarge")
    result = run([pod(f"p{i}", "10m", "10Mi") for i in range(30)], cat)
    assert sum(len(n.pods) for n in result.new_nodes) == 30
    assert all(len(n.pods) <= n.offering.instance_type.max_pods for n in result.new_nodes)
    assert types_bought(result) == ["c5.large", "c5.large"]  # 29 pods per c5.large, cheaper than one m5.4xlarge


def test_daemonsets_take_their_share_of_every_node_they_run_on():
    cat = on_demand_catalog("m5.large", "m5.xlarge")
    assert types_bought(run([pod("a", "1500m", "2Gi")], cat)) == ["m5.large"]
    agent = daemonset("agent", "500m", "256Mi")
    assert types_bought(run([pod("a", "1500m", "2Gi")], cat, daemonsets=(agent,))) == ["m5.xlarge"]


def test_daemonsets_count_only_where_their_selector_and_tolerations_admit_them():
    cat = on_demand_catalog("m5.large", "m5.xlarge", "g4dn.xlarge", "g4dn.2xlarge")
    pods = [pod("cpu", "1500m", "2Gi"), pod("gpu", "3", "8Gi", gpus=1)]
    gpu_toleration = [{"key": "nvidia.com/gpu", "operator": "Exists"}]
    untolerated = daemonset("dcgm", "1", "1Gi", node_selector={"nvidia.com/gpu.present": "true"})
    result = run(pods, cat, daemonsets=(untolerated,))  # it cannot run on tainted GPU nodes: no overhead anywhere
    assert (node_of(result, "ns/cpu"), node_of(result, "ns/gpu")) == ("m5.large", "g4dn.xlarge")
    dcgm = daemonset("dcgm", "1", "1Gi", node_selector={"nvidia.com/gpu.present": "true"}, tolerations=gpu_toleration)
    result = run(pods, cat, daemonsets=(dcgm,))  # 3 CPU + 1 CPU exceed a g4dn.xlarge's 3920m allocatable
    assert (node_of(result, "ns/cpu"), node_of(result, "ns/gpu")) == ("m5.large", "g4dn.2xlarge")


def test_boot_volume_size_comes_from_the_cloud_section():
    it = config(aws={"rootVolumeSize": 20}).with_cloud_policy(on_demand_catalog("m5.large")).instance_types["m5.large"]
    assert it.node is not None and it.node.allocatable.ephemeral_storage_bytes == 20 * GIB - GIB - 2 * GIB
    cat = on_demand_catalog("m5.large")
    result = run([pod("a", "100m", "100Mi", **{"ephemeral-storage": "30Gi"})], cat, config(aws={"rootVolumeSize": 20}))
    assert "insufficient ephemeral-storage" in result.unplaced[0].reason


def registered(name: str, type_name: str, allocatable: Resources, *, ours: bool = True) -> Node:
    labels = {lbl.INSTANCE_TYPE: type_name, **({lbl.MANAGED_BY: lbl.MANAGED_BY_VALUE} if ours else {})}
    return Node(name, labels=labels, capacity=allocatable, allocatable=allocatable)


def test_what_registered_nodes_of_a_type_report_beats_the_formula():
    cat = on_demand_catalog("m5.large", "m5.xlarge")
    big_pod = [pod("a", "1", "7680Mi")]  # more than the formula leaves on an m5.large
    assert types_bought(run(big_pod, cat)) == ["m5.xlarge"]
    reported = Resources.of(cpu_millis=1930, memory_bytes=7800 * 2**20, pods=29, ephemeral_storage_bytes=80 * GIB)
    nodes = [
        registered("ip-1", "m5.large", reported),
        registered("ip-2", "m5.large", reported + Resources.of(cpu_millis=5)),
    ]
    observed = observed_node_resources(nodes)
    assert observed["m5.large"].allocatable == reported  # the smallest of each resource
    assert observed["m5.large"].source == "observed on 2 node(s): ip-1, ip-2"
    cfg = config()
    prepared = PreparedOfferings.build(cat, cfg, observed)
    result = plan(PlanRequest(pods=tuple(big_pod), catalog=cat, config=cfg, prepared=prepared))
    assert types_bought(result) == ["m5.large"]


def test_nodes_we_did_not_launch_are_not_taken_as_the_types_reality():
    reported = Resources.of(cpu_millis=1930, memory_bytes=7800 * 2**20, pods=29)
    assert observed_node_resources([registered("static", "m5.large", reported, ours=False)]) == {}


def test_a_prepared_value_for_another_catalog_or_config_is_not_used():
    cat, cfg = on_demand_catalog("m5.large"), config()
    stale = PreparedOfferings.build(on_demand_catalog("m5.xlarge"), cfg)
    result = plan(PlanRequest(pods=(pod("a"),), catalog=cat, config=cfg, prepared=stale))
    assert types_bought(result) == ["m5.large"]
    assert stale.current(cat, cfg).serves(cat, cfg)
    kept = PreparedOfferings.build(cat, cfg)
    assert kept.current(cat, cfg) is kept  # the caller keeps it while nothing changed


def test_a_type_the_catalog_has_no_node_resources_for_offers_its_bare_size():
    bare = InstanceType("aws", "x.large", "x", 2, 8192, max_pods=29)
    cat = Catalog("aws", "us-east-1", (replace(offering("m5.large"), instance_type=bare),), PROVENANCE)
    result = plan(PlanRequest(pods=(pod("a", "2", "8Gi"),), catalog=cat, config=config()))
    assert types_bought(result) == ["x.large"]
    assert result.new_nodes[0].allocatable.memory_bytes == 8192 * 2**20
