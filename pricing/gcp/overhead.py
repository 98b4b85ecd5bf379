"""What a GKE node reserves: cloud policy as data.

kube-reserved CPU by the EKS/GKE ladder; memory 255 MiB below 1 GiB, else 25 % of the first 4 GiB, 20 % of the
next 4, 10 % of the next 8, 6 % of the next 112, 2 % above 128 GiB. Source:
https://cloud.google.com/kubernetes-engine/docs/concepts/plan-node-sizes (memory and CPU reservations).
"""

from __future__ import annotations

from luna_autoscaler.models.catalog import InstanceType
from luna_autoscaler.models.resources import Resources
from pricing.kubelet import GIB, MIB, ReservationRule, ladder_cpu_millis

# (upper bound in GiB, reserved fraction in percent)
_MEMORY_LADDER = ((4, 25), (8, 20), (16, 10), (128, 6), (None, 2))


def memory_bytes(memory_mib: int) -> int:
    if memory_mib < 1024:
        return 255 * MIB
    total = memory_mib * MIB
    reserved, lower = 0, 0
    for upper_gib, percent in _MEMORY_LADDER:
        top = total if upper_gib is None else min(total, upper_gib * GIB)
        if top > lower:
            reserved += (top - lower) * percent // 100
        if upper_gib is None or total <= upper_gib * GIB:
            break
        lower = upper_gib * GIB
    return reserved


def kube_reserved(it: InstanceType) -> Resources:
    return Resources.of(cpu_millis=ladder_cpu_millis(it.vcpus), memory_bytes=memory_bytes(it.memory_mib))


RULE = ReservationRule("GKE", 100, kube_reserved)  # boot disk: gcp.diskSizeGb's default
