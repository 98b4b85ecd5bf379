"""Bin-selection and bin-packing: which pods share nodes, and which node shapes they get."""

from __future__ import annotations

from luna_autoscaler.planner.types import BinKind
from tests.planner.conftest import TYPES, catalog, config, offering, on_demand_catalog, pod, run, types_bought

CHEAP_4X_T4 = catalog(offering("g4dn.xlarge"), offering("g4dn.12xlarge", price=1.8))


def test_small_cpu_pods_are_bin_packed_on_the_cheapest_shape_for_all_of_them():
    pods = [pod(f"p{i}", "500m", "1Gi") for i in range(12)]
    result = run(pods, on_demand_catalog("m5.large", "m5.xlarge", "m5.2xlarge", "m5.4xlarge"))
    assert all(n.bin is BinKind.PACK for n in result.new_nodes)
    assert sum(len(n.pods) for n in result.new_nodes) == 12
    # 12 x 500m = 6 CPU: one m5.2xlarge or four m5.large (3 pods each in 1930m) cost $0.384; nothing costs less.
    assert result.total_price_usd_per_hour == 0.384


def test_bin_select_thresholds_decide_the_bin():
    cat = on_demand_catalog("m5.large", "m5.xlarge", "m5.2xlarge")
    assert run([pod("big", "2500m", "1Gi")], cat).new_nodes[0].bin is BinKind.SELECT
    assert run([pod("fat", "100m", "9Gi")], cat).new_nodes[0].bin is BinKind.SELECT
    assert run([pod("small", "2", "8Gi")], cat).new_nodes[0].bin is BinKind.PACK  # thresholds are "exceeds"
    assert (
        run([pod("small", "1", "1Gi")], cat, config(binSelectPodCpuThreshold="500m")).new_nodes[0].bin is BinKind.SELECT
    )


def test_packed_and_selected_pods_do_not_share_nodes():
    cat = on_demand_catalog("m5.large", "m5.xlarge", "m5.2xlarge")
    result = run([pod("small", "200m", "256Mi"), pod("big", "3", "4Gi")], cat)
    assert sorted(len(n.pods) for n in result.new_nodes) == [1, 1]
    assert {n.bin for n in result.new_nodes} == {BinKind.PACK, BinKind.SELECT}


def test_compatible_bin_selected_pods_share_a_node_when_it_is_cheaper():
    pods = [pod(f"p{i}", "2", "8Gi", gpus=1, annotations={"node.elotl.co/instance-gpu-skus": "T4"}) for i in range(4)]
    result = run(pods, CHEAP_4X_T4)
    assert types_bought(result) == ["g4dn.12xlarge"]
    assert len(result.new_nodes[0].pods) == 4
    assert run(pods, on_demand_catalog("g4dn.xlarge", "g4dn.12xlarge")).total_price_usd_per_hour == 4 * 0.526


def test_dedicated_nodes_give_every_bin_selected_pod_its_own_node():
    pods = [pod(f"p{i}", "2", "8Gi", gpus=1) for i in range(4)]
    result = run(pods, CHEAP_4X_T4, config(binSelectDedicatedNodes=True))
    assert types_bought(result) == ["g4dn.xlarge"] * 4
    packed = [pod(f"q{i}", "100m", "100Mi") for i in range(4)]
    assert len(run(packed, on_demand_catalog("m5.large"), config(binSelectDedicatedNodes=True)).new_nodes) == 1


def test_pods_with_incompatible_constraints_never_share():
    a10g = [pod(f"a{i}", "1", "2Gi", gpus=1, annotations={"node.elotl.co/instance-gpu-skus": "A10G"}) for i in range(2)]
    t4 = [pod(f"t{i}", "1", "2Gi", gpus=1, annotations={"node.elotl.co/instance-gpu-skus": "T4"}) for i in range(2)]
    result = run(a10g + t4, catalog(*CHEAP_4X_T4.offerings, offering("g5.xlarge")))
    for node in result.new_nodes:
        skus = {p[3] for p in node.pods}
        assert len(skus) == 1
        assert node.offering.instance_type.gpu_sku == {"a": "A10G", "t": "T4"}[skus.pop()]


def test_small_pods_fill_the_holes_big_pods_leave():
    # Three pods of 11 CPU / 44 GiB leave one T4 and ~13 CPU of a g4dn.12xlarge: a 3-CPU GPU pod fits there.
    big = [pod(f"big{i}", "11", "44Gi", gpus=1) for i in range(3)]
    small = [pod("small", "3", "5Gi", gpus=1)]
    cat = catalog(offering("g4dn.xlarge"), offering("g4dn.12xlarge", price=3.0))
    result = run(big + small, cat)
    assert types_bought(result) == ["g4dn.12xlarge"]


def test_bin_packing_config_bounds_the_shared_node_shape():
    pods = [pod(f"p{i}", "200m", "256Mi") for i in range(3)]
    cat = on_demand_catalog("c5.large", "m5.large", "m5.xlarge", "m5.2xlarge")
    assert types_bought(run(pods, cat)) == ["c5.large"]
    assert types_bought(run(pods, cat, config(binPackingNodeCpu=8))) == ["m5.2xlarge"]
    assert types_bought(run(pods, cat, config(binPackingNodeMemory="16Gi"))) == ["m5.xlarge"]
    assert types_bought(run(pods, cat, config(binPackingNodeTypeRegexp="^m5"))) == ["m5.large"]
    assert types_bought(run(pods, cat, config(binPackingNodeMinPodCount=50))) == ["m5.xlarge"]
    # The bounds apply to shared nodes only: a bin-selected pod still gets the cheapest node for itself.
    selected = run([pod("gpu", "1", "2Gi", gpus=1)], on_demand_catalog(*TYPES), config(binPackingNodeCpu=8))
    assert types_bought(selected) == ["g4dn.xlarge"]


def test_every_node_lists_bounded_alternatives_that_fit_the_same_pods():
    zones = tuple(f"us-east-1{z}" for z in "abcdefghijklmnopqrstuvwxyz")
    cat = catalog(*(offering(name, zone) for name in ("m5.large", "m5.xlarge") for zone in zones))
    node = run([pod("a", "1500m", "3Gi")], cat).new_nodes[0]
    assert (node.offering.instance_type.name, node.offering.zone) == ("m5.large", "us-east-1a")
    assert len(node.alternatives) == 20
    assert [o.zone for o in node.alternatives] == list(zones[1:21])
    assert all(o.instance_type.name == "m5.large" for o in node.alternatives)
    gpu_node = run([pod("g", "1", "2Gi", gpus=1, annotations={"node.elotl.co/instance-gpu-skus": "T4"})], CHEAP_4X_T4)
    assert [o.name for o in gpu_node.new_nodes[0].alternatives] == ["g4dn.12xlarge"]


def test_value_correction_repacks_what_the_first_greedy_pass_leaves_half_empty():
    pods = [pod(f"a{i}", "500m", "512Mi") for i in range(5)] + [pod(f"b{i}", "700m", "512Mi") for i in range(2)]
    result = run(pods, on_demand_catalog("m5.large", "m5.xlarge", "m5.2xlarge", "m5.4xlarge", "c5.large"))
    # Valued by fractional share, the 700m pods anchor a c5.large (1930m) with one 500m pod, and the last 500m pod
    # gets a c5.large alone: 3 x $0.085. Re-valued from that packing, all seven (3900m) go on one m5.xlarge
    # (3920m), which two 1930m nodes cannot hold: $0.192 is the cheapest plan.
    assert types_bought(result) == ["m5.xlarge"]
    assert result.total_price_usd_per_hour == 0.192
