"""What OKE itself puts on a node, as offering data: the taints its bootstrap (oke-install.sh) registers.

OKE taints a preemptible node `oci.oraclecloud.com/oke-is-preemptible=present:NoSchedule`, an NVIDIA GPU node
`nvidia.com/gpu=present:NoSchedule` and an AMD GPU node `amd.com/gpu=present:NoSchedule`. A pod that does not
tolerate them cannot run there, so the planner must know before it buys (`Offering.node_taints`). The bundled
catalog loader applies `apply` to every OCI offering (pricing.oci.offerings, pricing.catalog's per-cloud hook);
the live catalog (pricing.oci.live_catalog) builds on those offerings, so both carry the same taints.
"""

from __future__ import annotations

from dataclasses import replace

from luna_autoscaler.models.catalog import CapacityType, Offering
from luna_autoscaler.models.resources import AMD_GPU, NVIDIA_GPU
from luna_autoscaler.models.scheduling import Taint

PREEMPTIBLE_TAINT = Taint("oci.oraclecloud.com/oke-is-preemptible", "present", "NoSchedule")
GPU_TAINTS = {
    NVIDIA_GPU: Taint(NVIDIA_GPU, "present", "NoSchedule"),
    AMD_GPU: Taint(AMD_GPU, "present", "NoSchedule"),
}


def node_taints(offering: Offering) -> tuple[Taint, ...]:
    taints: list[Taint] = []
    if offering.capacity_type is CapacityType.SPOT:
        taints.append(PREEMPTIBLE_TAINT)
    accelerator = offering.instance_type.accelerator
    if accelerator is not None and accelerator.resource_name in GPU_TAINTS:
        taints.append(GPU_TAINTS[accelerator.resource_name])
    return tuple(taints)


def apply(offering: Offering) -> Offering:
    """The offering with OKE's bootstrap taints (idempotent: taints it already carries are not repeated); an
    on-demand one also says what a preemptible node of it would carry, for the planner's spot estimate."""
    extra = tuple(t for t in node_taints(offering) if t not in offering.node_taints)
    offering = replace(offering, node_taints=offering.node_taints + extra) if extra else offering
    if offering.capacity_type is CapacityType.SPOT:
        return offering
    as_spot = replace(offering, capacity_type=CapacityType.SPOT)
    spot_taints = offering.node_taints + tuple(t for t in node_taints(as_spot) if t not in offering.node_taints)
    return replace(offering, spot_node_taints=spot_taints)
