"""Node reservations per managed service, as catalog data: the figures each one documents (pricing/<cloud>/overhead.py)."""

from __future__ import annotations

from luna_autoscaler.models.catalog import InstanceType
from pricing.aws.overhead import kube_reserved as eks_reserved
from pricing.azure.overhead import kube_reserved as aks_reserved
from pricing.catalog import load_catalog
from pricing.gcp.overhead import kube_reserved as gke_reserved
from pricing.kubelet import MIB, unreported_memory_bytes
from pricing.overhead import with_node
from tests.planner.conftest import TYPES

GIB = 2**30


def test_eks_reserves_the_ladder_cpu_and_11_mib_per_pod_plus_255():
    m5_large = TYPES["m5.large"][0]  # 2 vCPU, 29 pods
    reserved = eks_reserved(m5_large)
    assert reserved.cpu_millis == 60 + 10  # 6 % of the first core, 1 % of the second
    assert reserved.memory_bytes == (11 * 29 + 255) * MIB
    big = InstanceType("aws", "m5.24xlarge", "m5", 96, 393216, max_pods=737)
    assert eks_reserved(big).cpu_millis == 60 + 10 + 10 + 230  # 0.5 % of cores 3-4, 0.25 % of the 92 above
    assert eks_reserved(big).memory_bytes == (11 * 737 + 255) * MIB


def test_gke_reserves_the_memory_ladder():
    def memory(gib: int) -> int:
        return gke_reserved(InstanceType("gcp", "x", "n2", 4, gib * 1024)).memory_bytes

    assert memory(4) == GIB  # 25 % of 4 GiB
    assert memory(16) == 4 * GIB * 25 // 100 + 4 * GIB * 20 // 100 + 8 * GIB * 10 // 100
    assert memory(256) == memory(128) + 128 * GIB * 2 // 100
    assert gke_reserved(InstanceType("gcp", "e2-micro", "e2", 2, 1000)).memory_bytes == 255 * MIB


def test_aks_reserves_its_cpu_table_and_the_smaller_of_20_mib_per_pod_and_a_quarter():
    def reserved(vcpus: int, memory_mib: int, max_pods: int = 250) -> tuple[int, int]:
        r = aks_reserved(InstanceType("azure", "x", "D", vcpus, memory_mib, max_pods=max_pods))
        return r.cpu_millis, r.memory_bytes

    assert [reserved(c, 65536)[0] for c in (1, 2, 4, 8, 16, 32, 64)] == [60, 100, 140, 180, 260, 420, 740]
    assert reserved(96, 65536)[0] == 740 + 32 * 10
    assert reserved(8, 8192, max_pods=30)[1] == (20 * 30 + 50) * MIB  # 650 MiB, the AKS docs' example
    assert reserved(2, 4096, max_pods=70)[1] == 1024 * MIB  # 25 % of 4 GiB is smaller than 1450 MiB


def test_allocatable_subtracts_unreported_memory_reservations_and_eviction():
    node = with_node(TYPES["m5.large"][0]).node
    assert node is not None and node.source == "EKS reservation formula"
    capacity_memory = 8192 * MIB - 8192 * MIB * 75 // 1000  # small types: Karpenter's 7.5 %
    assert node.capacity.memory_bytes == capacity_memory
    assert node.allocatable.memory_bytes == capacity_memory - (11 * 29 + 255) * MIB - 100 * MIB
    assert node.allocatable.cpu_millis == 2000 - 70
    assert node.allocatable.pods == 29
    assert node.capacity.ephemeral_storage_bytes - node.allocatable.ephemeral_storage_bytes == GIB + 10 * GIB


def test_large_types_lose_448_mib_and_3_75_percent_not_7_5():
    assert unreported_memory_bytes(8192) == 8192 * MIB * 75 // 1000
    assert unreported_memory_bytes(786432) == 448 * MIB + 786432 * MIB * 375 // 10000  # g5.48xlarge: 29.2 GiB, not 57.6


def test_a_120_cpu_720_gib_8_a10g_pod_fits_a_g5_48xlarge_with_eks_reservations():
    g5 = load_catalog("aws").instance_types["g5.48xlarge"]
    assert g5.node is not None
    assert g5.node.allocatable.memory_bytes >= 720 * GIB
    assert g5.node.allocatable.cpu_millis >= 120_000


def test_every_bundled_type_carries_its_clouds_node_resources():
    for cloud, source in (("aws", "EKS"), ("gcp", "GKE"), ("azure", "AKS"), ("oci", "OKE")):
        types = load_catalog(cloud).instance_types.values()
        assert all(it.node is not None and it.node.source.startswith(source) for it in types), cloud
