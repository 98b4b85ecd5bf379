"""GPU time-slicing: a node with G GPUs sliced N ways offers G x N; never buy N times the GPUs; whole-GPU pods
and multi-GPU pods never land on a share; fractional GPU types only take pods that accept a partial GPU."""

from __future__ import annotations

from dataclasses import replace

from luna_autoscaler.models.catalog import Accelerator, CapacityType, InstanceType, Offering
from luna_autoscaler.models.gpu_mode import DEVICE_PLUGIN_CONFIG_LABEL, CloudTimeSharing
from luna_autoscaler.models.resources import NVIDIA_GPU, NVIDIA_GPU_SHARED
from tests.planner.conftest import (
    PROVENANCE,
    TYPES,
    ZONES,
    catalog,
    config,
    offering,
    on_demand_catalog,
    pod,
    run,
    types_bought,
)

SHARED_T4 = config(gpuTimeSlicing=[{"gpuSkus": ["T4"], "replicas": 4, "renameByDefault": True}])
SLICED_T4 = config(gpuTimeSlicing=[{"gpuSkus": ["t4"], "replicas": 4}])


def physical_gpus(result) -> int:
    return sum(n.offering.instance_type.gpus for n in result.new_nodes)


def test_four_shared_pods_share_one_t4():
    result = run([pod(f"s{i}", "500m", "1Gi", shared_gpus=1) for i in range(4)], on_demand_catalog(*TYPES), SHARED_T4)
    assert types_bought(result) == ["g4dn.xlarge"]
    node = result.new_nodes[0]
    assert node.allocatable.get(NVIDIA_GPU_SHARED) == 4
    assert node.allocatable.get(NVIDIA_GPU) == 0
    assert node.labels[DEVICE_PLUGIN_CONFIG_LABEL] == "luna-timeslice-4-shared"
    assert [str(t) for t in node.taints] == ["nvidia.com/gpu.shared=present:NoSchedule"]


def test_no_over_buy_gpus_follow_the_replicas_not_the_pods():
    cat = catalog(offering("g4dn.xlarge"), offering("g4dn.12xlarge", price=1.9))
    result = run([pod(f"s{i}", "500m", "1Gi", shared_gpus=1) for i in range(16)], cat, SHARED_T4)
    assert physical_gpus(result) == 4
    assert types_bought(result) == ["g4dn.12xlarge"]  # 16 replicas on one 4 x T4 node: $1.90 < 4 x $0.526
    result = run([pod(f"s{i}", "500m", "1Gi", shared_gpus=1) for i in range(5)], cat, SHARED_T4)
    assert physical_gpus(result) == 2


def test_without_rename_one_gpu_pods_share_and_multi_gpu_pods_get_whole_gpus():
    cat = catalog(offering("g4dn.xlarge"), offering("g4dn.12xlarge"))
    result = run([pod(f"one{i}", "500m", "1Gi", gpus=1) for i in range(4)], cat, SLICED_T4)
    assert types_bought(result) == ["g4dn.xlarge"]
    assert result.new_nodes[0].labels[DEVICE_PLUGIN_CONFIG_LABEL] == "luna-timeslice-4"
    assert result.new_nodes[0].allocatable.get(NVIDIA_GPU) == 4
    multi = run([pod("two", "1", "2Gi", gpus=2)], cat, SLICED_T4)
    node = multi.new_nodes[0]
    assert node.offering.instance_type.name == "g4dn.12xlarge"
    assert DEVICE_PLUGIN_CONFIG_LABEL not in node.labels
    assert node.allocatable.get(NVIDIA_GPU) == 4


def test_multi_gpu_pod_is_never_put_on_a_time_sliced_share():
    only_one_t4 = catalog(offering("g4dn.xlarge"))  # sliced it would offer 4 nvidia.com/gpu
    result = run([pod("two", "1", "2Gi", gpus=2)], only_one_t4, SLICED_T4)
    assert result.new_nodes == ()
    # Each offering is counted once, under its unsliced reason: one T4 is not two.
    assert result.unplaced[0].rejections == {"insufficient nvidia.com/gpu": 2}


def test_whole_and_shared_gpu_pods_coexist_on_separately_configured_nodes():
    cat = on_demand_catalog(*TYPES)
    pods = [pod("whole", "1", "2Gi", gpus=1)] + [pod(f"s{i}", "500m", "1Gi", shared_gpus=1) for i in range(4)]
    result = run(pods, cat, SHARED_T4)
    whole = next(n for n in result.new_nodes if "ns/whole" in n.pods)
    assert DEVICE_PLUGIN_CONFIG_LABEL not in whole.labels
    assert whole.pods == ("ns/whole",)
    assert len(result.new_nodes) == 2


def test_shared_gpu_pods_need_a_slicing_config_with_rename():
    result = run([pod("s", "500m", "1Gi", shared_gpus=1)], on_demand_catalog("g4dn.xlarge"))
    assert "no nvidia.com/gpu.shared (no gpuTimeSlicing entry with renameByDefault)" in result.unplaced[0].reason


def test_fractional_gpu_types_only_take_pods_that_accept_a_partial_gpu():
    cat = on_demand_catalog("g6f.large", "g4dn.xlarge")
    whole = run([pod("whole", "500m", "1Gi", gpus=1)], cat)
    assert types_bought(whole) == ["g4dn.xlarge"]  # g6f.large costs less but is an eighth of an L4
    shared = run([pod("s", "500m", "1Gi", shared_gpus=1)], cat)
    assert types_bought(shared) == ["g6f.large"]
    assert shared.new_nodes[0].labels[DEVICE_PLUGIN_CONFIG_LABEL] == "luna-timeslice-1-shared"
    only_fractional = run([pod("whole", "500m", "1Gi", gpus=1)], on_demand_catalog("g6f.large"))
    assert only_fractional.unplaced[0].rejections == {"fractional GPU, only for nvidia.com/gpu.shared": 2}


def test_instance_type_regexp_selects_types_to_slice():
    cfg = config(gpuTimeSlicing=[{"instanceTypeRegexp": r"^g4dn\.", "replicas": 2, "renameByDefault": True}])
    result = run([pod(f"s{i}", "500m", "1Gi", shared_gpus=1) for i in range(2)], on_demand_catalog("g4dn.xlarge"), cfg)
    assert types_bought(result) == ["g4dn.xlarge"]
    assert result.new_nodes[0].allocatable.get(NVIDIA_GPU_SHARED) == 2


def test_a_fractional_device_is_sliced_so_each_replica_keeps_the_configured_share():
    def g6f(name: str, vcpus: int, share_milli: int, price: float) -> Offering:
        it = InstanceType(
            "aws", name, "g6f", vcpus, vcpus * 4096, accelerator=Accelerator("L4", 1, share_milli=share_milli)
        )
        return Offering(it, "us-east-1", ZONES[0], CapacityType.ON_DEMAND, price, PROVENANCE)

    quarter_l4 = config(gpuTimeSlicing=[{"gpuSkus": ["L4"], "replicas": 4, "renameByDefault": True}])
    eighth = run(
        [pod(f"s{i}", "100m", "256Mi", shared_gpus=1) for i in range(2)],
        catalog(g6f("g6f.large", 2, 125, 0.2)),
        quarter_l4,
    )
    # 1/8 of an L4 sliced 4 ways would give each pod 1/32 of a GPU: it stays one replica, so two pods need two nodes
    assert [n.allocatable.get(NVIDIA_GPU_SHARED) for n in eighth.new_nodes] == [1, 1]
    half = run(
        [pod(f"s{i}", "100m", "256Mi", shared_gpus=1) for i in range(2)],
        catalog(g6f("g6f.4xlarge", 16, 500, 0.9)),
        quarter_l4,
    )
    assert [n.allocatable.get(NVIDIA_GPU_SHARED) for n in half.new_nodes] == [2]  # half an L4: two quarters


CLOUD_SHARING = CloudTimeSharing((("cloud.example/gpu-sharing", "time-sharing"),), "cloud.example/clients-per-gpu")
"""A cloud that time-shares GPUs itself and labels such nodes (as GKE does), given as offering data."""


def test_pods_selecting_the_clouds_time_sharing_labels_get_a_sliced_node_of_count_times_replicas():
    cat = catalog(
        replace(offering("g4dn.xlarge"), time_sharing=CLOUD_SHARING),
        replace(offering("g4dn.12xlarge", price=1.9), time_sharing=CLOUD_SHARING),
    )
    selector = {"cloud.example/gpu-sharing": "time-sharing", "cloud.example/clients-per-gpu": "4"}
    result = run([pod(f"p{i}", gpus=1, node_selector=selector) for i in range(16)], cat, SLICED_T4)

    (node,) = result.new_nodes
    assert node.offering.instance_type.name == "g4dn.12xlarge" and not result.unplaced
    assert node.allocatable.get(NVIDIA_GPU) == 4 * 4  # 4 T4s x 4 replicas
    assert node.offering.labels(node.gpu_mode)["cloud.example/clients-per-gpu"] == "4"
    # No mode has 8 replicas, and a whole-GPU node carries no time-sharing label: neither pod is planned.
    eight = run([pod("e", gpus=1, node_selector={**selector, "cloud.example/clients-per-gpu": "8"})], cat, SLICED_T4)
    whole = run([pod("w", gpus=1, node_selector=selector)], cat, config())
    assert not eight.new_nodes and not whole.new_nodes
    assert "node selector" in whole.unplaced[0].reason
