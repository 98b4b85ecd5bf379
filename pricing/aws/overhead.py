"""What an EKS node reserves (AL2023 `nodeadm`, as the AL2 `bootstrap.sh` it replaced): cloud policy as data.

kube-reserved CPU by the EKS/GKE ladder; memory 11 MiB x maxPods + 255 MiB; ephemeral storage 1 GiB; no
system-reserved. Source: awslabs/amazon-eks-ami `nodeadm/internal/kubelet/config.go`
(`getCPUMillicoresToReserve`, `getMemoryMebibytesToReserve`); eksctl `pkg/nodebootstrap/reserved.go`. Max pods
come from `InstanceType.max_pods` (the ENI formula, pricing.shapes).
"""

from __future__ import annotations

from luna_autoscaler.models.catalog import InstanceType
from luna_autoscaler.models.resources import Resources
from pricing.kubelet import GIB, MIB, ReservationRule, ladder_cpu_millis


def kube_reserved(it: InstanceType) -> Resources:
    return Resources.of(
        cpu_millis=ladder_cpu_millis(it.vcpus),
        memory_bytes=(11 * it.max_pods + 255) * MIB,
        ephemeral_storage_bytes=GIB,
    )


RULE = ReservationRule("EKS", 100, kube_reserved)  # boot disk: aws.rootVolumeSize's default
