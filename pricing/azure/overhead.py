"""What an AKS node reserves (Kubernetes 1.29 and later): cloud policy as data.

CPU by core count 1→60m, 2→100m, 4→140m, 8→180m, 16→260m, 32→420m, 64→740m (interpolated linearly between, and
10m per core above 64, the slope of the table from 4 cores up); memory the smaller of 20 MiB x maxPods + 50 MiB
and 25 % of the memory; eviction 100 MiB (750 MiB before 1.29). Source:
https://learn.microsoft.com/azure/aks/node-resource-reservations.
"""

from __future__ import annotations

from luna_autoscaler.models.catalog import InstanceType
from luna_autoscaler.models.resources import Resources
from pricing.kubelet import MIB, ReservationRule

_CPU_TABLE = ((1, 60), (2, 100), (4, 140), (8, 180), (16, 260), (32, 420), (64, 740))  # (cores, millicores)


def cpu_millis(vcpus: int) -> int:
    previous_cores, previous_millis = _CPU_TABLE[0]
    if vcpus <= previous_cores:
        return previous_millis
    for cores, millis in _CPU_TABLE[1:]:
        if vcpus <= cores:
            return previous_millis + (millis - previous_millis) * (vcpus - previous_cores) // (cores - previous_cores)
        previous_cores, previous_millis = cores, millis
    return previous_millis + 10 * (vcpus - previous_cores)


def kube_reserved(it: InstanceType) -> Resources:
    memory = min((20 * it.max_pods + 50) * MIB, it.memory_mib * MIB // 4)
    return Resources.of(cpu_millis=cpu_millis(it.vcpus), memory_bytes=memory)


RULE = ReservationRule("AKS", 128, kube_reserved)  # boot disk: azure.osDiskSizeGb's default
