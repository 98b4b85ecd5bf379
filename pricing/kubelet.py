"""What every managed Kubernetes shares when it turns a machine into a node: the memory the kernel keeps, the
kubelet's hard eviction thresholds, and the CPU reservation ladder EKS and GKE both use.

Each cloud's own reservation rule is in `pricing/<cloud>/overhead.py`; `pricing.overhead` applies them to a
catalog. docs/design/planner.md ("Node overhead") gives the sources and worked figures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from luna_autoscaler.models.catalog import InstanceType, NodeResources
from luna_autoscaler.models.resources import Resources

MIB = 2**20
GIB = 2**30

EVICTION_MEMORY_BYTES = 100 * MIB  # memory.available<100Mi: EKS, GKE, AKS >= 1.29, our OKE assumption
EVICTION_NODEFS_PERCENT = 10  # nodefs.available<10%: the kubelet's default hard eviction threshold

# Memory the kubelet does not report as capacity (kernel, page tables, firmware, crash kernel): the smaller of
# Karpenter's flat 7.5 % (`vmMemoryOverheadPercent`) and 448 MiB + 3.75 %. The flat share fits small types but
# is far too much on large ones (57 GiB of a g5.48xlarge's 768 GiB, where EC2 measurements show about 20 GiB);
# the linear bound lies at or above every measured EC2 type of 12 GiB or more in Karpenter's generated overhead
# table (aws/karpenter-provider-aws `zz_generated.memory_overhead.go`) and the i4i.32xlarge of its issue #6611.
VM_MEMORY_OVERHEAD_PERCENT_SMALL = 7.5
VM_MEMORY_OVERHEAD_FIXED_MIB = 448
VM_MEMORY_OVERHEAD_PERCENT_LARGE = 3.75

# (upper bound in millicores, reserved fraction in basis points) for the EKS/GKE CPU ladder.
_CPU_LADDER = ((1000, 600), (2000, 100), (4000, 50), (None, 25))


def ladder_cpu_millis(vcpus: int) -> int:
    """kube-reserved CPU of EKS and GKE: 6 % of the first core, 1 % of the second, 0.5 % of cores 3-4, 0.25 % above."""
    total = vcpus * 1000
    reserved, lower = 0, 0
    for upper, basis_points in _CPU_LADDER:
        top = total if upper is None else min(total, upper)
        if top > lower:
            reserved += (top - lower) * basis_points // 10_000
        if upper is None or total <= upper:
            break
        lower = upper
    return reserved


def unreported_memory_bytes(memory_mib: int) -> int:
    """Nominal memory the kubelet will not report as capacity (see VM_MEMORY_OVERHEAD_*)."""
    memory = memory_mib * MIB
    flat = memory * VM_MEMORY_OVERHEAD_PERCENT_SMALL / 100
    linear = VM_MEMORY_OVERHEAD_FIXED_MIB * MIB + memory * VM_MEMORY_OVERHEAD_PERCENT_LARGE / 100
    return int(min(flat, linear))


@dataclass(frozen=True, slots=True)
class ReservationRule:
    """One managed Kubernetes service's node reservations: kube-reserved per type, and its default boot disk."""

    service: str
    boot_disk_gib: int
    kube_reserved: Callable[[InstanceType], Resources]


def node_resources(it: InstanceType, rule: ReservationRule, boot_disk_gib: int | None = None) -> NodeResources:
    """Capacity and allocatable of a fresh node of `it`: allocatable = capacity - kube-reserved - system-reserved
    (zero on all four services) - hard eviction thresholds. The node's ephemeral storage is the type's own disk
    if the catalog knows it, else the boot disk (None: the service's default)."""
    disk = (it.ephemeral_storage_gib or (rule.boot_disk_gib if boot_disk_gib is None else boot_disk_gib)) * GIB
    capacity = Resources.of(
        cpu_millis=it.vcpus * 1000,
        memory_bytes=it.memory_mib * MIB - unreported_memory_bytes(it.memory_mib),
        pods=it.max_pods,
        ephemeral_storage_bytes=disk,
    )
    eviction = Resources.of(
        memory_bytes=EVICTION_MEMORY_BYTES, ephemeral_storage_bytes=disk * EVICTION_NODEFS_PERCENT // 100
    )
    return NodeResources(capacity, capacity - rule.kube_reserved(it) - eviction, f"{rule.service} reservation formula")
