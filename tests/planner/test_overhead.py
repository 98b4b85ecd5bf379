"""Node overhead per managed service: the figures each one documents, and their effect on what gets bought."""

from __future__ import annotations

from luna_autoscaler.config import Config
from luna_autoscaler.models.catalog import InstanceType
from luna_autoscaler.planner.overhead import (
    MIB,
    VM_MEMORY_OVERHEAD_FRACTION,
    kube_reserved,
    node_allocatable,
    node_overhead,
)
from tests.planner.conftest import TYPES, config, daemonset, node_of, on_demand_catalog, pod, run, types_bought

GIB = 2**30


def test_eks_reserves_the_ladder_cpu_and_11_mib_per_pod_plus_255():
    m5_large = TYPES["m5.large"][0]  # 2 vCPU, 29 pods
    reserved = kube_reserved(m5_large)
    assert reserved.cpu_millis == 60 + 10  # 6 % of the first core, 1 % of the second
    assert reserved.memory_bytes == (11 * 29 + 255) * MIB
    big = InstanceType("aws", "m5.24xlarge", "m5", 96, 393216, max_pods=737)
    assert kube_reserved(big).cpu_millis == 60 + 10 + 10 + 230  # 0.5 % of cores 3-4, 0.25 % of the 92 above
    assert kube_reserved(big).memory_bytes == (11 * 737 + 255) * MIB


def test_gke_reserves_the_memory_ladder():
    def memory(gib: int) -> int:
        return kube_reserved(InstanceType("gcp", "x", "n2", 4, gib * 1024)).memory_bytes

    assert memory(4) == GIB  # 25 % of 4 GiB
    assert memory(16) == 4 * GIB * 25 // 100 + 4 * GIB * 20 // 100 + 8 * GIB * 10 // 100
    assert memory(256) == memory(128) + 128 * GIB * 2 // 100
    assert kube_reserved(InstanceType("gcp", "e2-micro", "e2", 2, 1000)).memory_bytes == 255 * MIB


def test_aks_reserves_its_cpu_table_and_the_smaller_of_20_mib_per_pod_and_a_quarter():
    def reserved(vcpus: int, memory_mib: int, max_pods: int = 250) -> tuple[int, int]:
        r = kube_reserved(InstanceType("azure", "x", "D", vcpus, memory_mib, max_pods=max_pods))
        return r.cpu_millis, r.memory_bytes

    assert [reserved(c, 65536)[0] for c in (1, 2, 4, 8, 16, 32, 64)] == [60, 100, 140, 180, 260, 420, 740]
    assert reserved(96, 65536)[0] == 740 + 32 * 10
    assert reserved(8, 8192, max_pods=30)[1] == (20 * 30 + 50) * MIB  # 650 MiB, the AKS docs' example
    assert reserved(2, 4096, max_pods=70)[1] == 1024 * MIB  # 25 % of 4 GiB is smaller than 1450 MiB


def test_allocatable_subtracts_vm_memory_reservations_and_eviction():
    it = TYPES["m5.large"][0]
    allocatable = node_allocatable(it, Config())
    capacity_memory = 8192 * MIB - int(8192 * MIB * VM_MEMORY_OVERHEAD_FRACTION)
    assert allocatable.memory_bytes == capacity_memory - (11 * 29 + 255) * MIB - 100 * MIB
    assert allocatable.cpu_millis == 2000 - 70
    assert allocatable.pods == 29
    assert node_overhead(it, Config()).ephemeral_storage_bytes == GIB + 10 * GIB  # 1 GiB reserved, 10 % of 100 GiB


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
    it = TYPES["m5.large"][0]
    small_disk = node_allocatable(it, config(aws={"rootVolumeSize": 20}))
    assert small_disk.ephemeral_storage_bytes == 20 * GIB - GIB - 2 * GIB
    cat = on_demand_catalog("m5.large")
    result = run([pod("a", "100m", "100Mi", **{"ephemeral-storage": "30Gi"})], cat, config(aws={"rootVolumeSize": 20}))
    assert "insufficient ephemeral-storage" in result.unplaced[0].reason
