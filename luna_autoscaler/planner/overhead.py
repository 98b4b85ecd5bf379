"""What a node keeps for itself: the gap between an instance type's size and what pods may request.

A plan that ignores overhead buys a node the scheduler then refuses to use (the pod fits the type's raw size,
not its allocatable), so the planner computes allocatable as each managed Kubernetes service does:

    allocatable = capacity - kube-reserved - system-reserved - hard eviction threshold

where capacity is what the kubelet reports (memory is a little below the type's nominal size, see
`VM_MEMORY_OVERHEAD_FRACTION`). Formulas, per cloud (docs/design/planner.md has the worked figures):

- EKS (AL2023 `nodeadm`, same as the AL2 `bootstrap.sh` it replaced): kube-reserved CPU 6 % of the first core,
  1 % of the second, 0.5 % of cores 3-4, 0.25 % above 4; kube-reserved memory 11 MiB x maxPods + 255 MiB;
  kube-reserved ephemeral-storage 1 GiB; no system-reserved; eviction `memory.available<100Mi`,
  `nodefs.available<10%`. Source: awslabs/amazon-eks-ami `nodeadm/internal/kubelet/config.go`
  (`getCPUMillicoresToReserve`, `getMemoryMebibytesToReserve`); eksctl `pkg/nodebootstrap/reserved.go`.
- GKE: the same CPU ladder; memory 255 MiB below 1 GiB, else 25 % of the first 4 GiB, 20 % of the next 4,
  10 % of the next 8, 6 % of the next 112, 2 % above 128 GiB; eviction 100 MiB. Source:
  https://cloud.google.com/kubernetes-engine/docs/concepts/plan-node-sizes (memory and CPU reservations).
- AKS (1.29 and later): CPU by core count 1→60m, 2→100m, 4→140m, 8→180m, 16→260m, 32→420m, 64→740m (we
  interpolate linearly between and extend at 10m per core above 64, the slope of the table from 4 cores
  up); memory the smaller of 20 MiB x maxPods + 50 MiB and 25 % of the memory; eviction 100 MiB (750 MiB
  before 1.29). Source: https://learn.microsoft.com/azure/aks/node-resource-reservations.
- OKE: Oracle documents no default reservation (its troubleshooting page recommends setting
  `--kube-reserved`/`--system-reserved` through cloud-init, https://docs.oracle.com/en-us/iaas/Content/
  ContEng/Tasks/contengtroubleshooting_topic-node_issues.htm). We assume the GKE ladder and a 100 MiB
  eviction threshold, which is what such cloud-init recipes implement; an assumption, not a measurement.

Max pods come from `InstanceType.max_pods` (EKS: the ENI formula, computed by the catalog). DaemonSet requests
depend on the node's labels and taints, so the planner adds them per node (see `shapes`), not here.
"""

from __future__ import annotations

from luna_autoscaler.config import Config
from luna_autoscaler.models.catalog import InstanceType
from luna_autoscaler.models.resources import Resources

MIB = 2**20
GIB = 2**30

# The kubelet reports less memory than the instance type's nominal size (kernel, firmware, crash kernel). Karpenter
# subtracts 7.5 % by default (`vmMemoryOverheadPercent`, aws/karpenter PR #1953; aws/karpenter-provider-aws issue
# #5161 discusses measuring it per type). We use the same heuristic on every cloud: planning against memory the
# node will not report is how a launched node ends up unable to take the pod it was bought for.
VM_MEMORY_OVERHEAD_FRACTION = 0.075

EVICTION_MEMORY_BYTES = 100 * MIB  # memory.available<100Mi: EKS, GKE, AKS >= 1.29, our OKE assumption
EVICTION_NODEFS_FRACTION = 0.10  # nodefs.available<10%: the kubelet's default hard eviction threshold
OKE_BOOT_VOLUME_GIB = 50  # OKE's default worker boot volume

# (upper bound in millicores, reserved fraction in basis points) for the GKE/EKS CPU ladder.
_CPU_LADDER = ((1000, 600), (2000, 100), (4000, 50), (None, 25))
# (upper bound in GiB, reserved fraction in percent) for the GKE memory ladder.
_GKE_MEMORY_LADDER = ((4, 25), (8, 20), (16, 10), (128, 6), (None, 2))
# AKS kube-reserved CPU table: (cores, millicores).
_AKS_CPU_TABLE = ((1, 60), (2, 100), (4, 140), (8, 180), (16, 260), (32, 420), (64, 740))


def _ladder_cpu_millis(vcpus: int) -> int:
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


def _gke_memory_bytes(memory_mib: int) -> int:
    if memory_mib < 1024:
        return 255 * MIB
    total = memory_mib * MIB
    reserved, lower = 0, 0
    for upper_gib, percent in _GKE_MEMORY_LADDER:
        top = total if upper_gib is None else min(total, upper_gib * GIB)
        if top > lower:
            reserved += (top - lower) * percent // 100
        if upper_gib is None or total <= upper_gib * GIB:
            break
        lower = upper_gib * GIB
    return reserved


def _aks_cpu_millis(vcpus: int) -> int:
    previous_cores, previous_millis = _AKS_CPU_TABLE[0]
    if vcpus <= previous_cores:
        return previous_millis
    for cores, millis in _AKS_CPU_TABLE[1:]:
        if vcpus <= cores:
            return previous_millis + (millis - previous_millis) * (vcpus - previous_cores) // (cores - previous_cores)
        previous_cores, previous_millis = cores, millis
    return previous_millis + 10 * (vcpus - previous_cores)


def kube_reserved(it: InstanceType) -> Resources:
    """kube-reserved as the managed service of `it.cloud` sets it (system-reserved is zero on all four)."""
    if it.cloud == "aws":
        return Resources.of(
            cpu_millis=_ladder_cpu_millis(it.vcpus),
            memory_bytes=(11 * it.max_pods + 255) * MIB,
            ephemeral_storage_bytes=GIB,
        )
    if it.cloud == "azure":
        memory = min((20 * it.max_pods + 50) * MIB, it.memory_mib * MIB // 4)
        return Resources.of(cpu_millis=_aks_cpu_millis(it.vcpus), memory_bytes=memory)
    # gcp, and oci by assumption (module docstring)
    return Resources.of(cpu_millis=_ladder_cpu_millis(it.vcpus), memory_bytes=_gke_memory_bytes(it.memory_mib))


def boot_disk_gib(it: InstanceType, config: Config) -> int:
    """Ephemeral storage of a node: the type's own disk if the catalog knows it, else the configured boot volume."""
    if it.ephemeral_storage_gib:
        return it.ephemeral_storage_gib
    configured = getattr(config.sections.get(it.cloud), "node_boot_disk_gib", None)
    return configured if isinstance(configured, int) else OKE_BOOT_VOLUME_GIB


def node_capacity(it: InstanceType, config: Config) -> Resources:
    """`status.capacity` as the kubelet will report it, without accelerators (the GPU mode decides those)."""
    memory = it.memory_mib * MIB
    return Resources.of(
        cpu_millis=it.vcpus * 1000,
        memory_bytes=memory - int(memory * VM_MEMORY_OVERHEAD_FRACTION),
        pods=it.max_pods,
        ephemeral_storage_bytes=boot_disk_gib(it, config) * GIB,
    )


def node_overhead(it: InstanceType, config: Config) -> Resources:
    """Everything between capacity and allocatable: kube-reserved, system-reserved and hard eviction thresholds."""
    disk = boot_disk_gib(it, config) * GIB
    eviction = Resources.of(
        memory_bytes=EVICTION_MEMORY_BYTES, ephemeral_storage_bytes=int(disk * EVICTION_NODEFS_FRACTION)
    )
    return kube_reserved(it) + eviction


def node_allocatable(it: InstanceType, config: Config) -> Resources:
    """`status.allocatable` of a fresh node of this type, before DaemonSets and without accelerators."""
    return node_capacity(it, config) - node_overhead(it, config)
