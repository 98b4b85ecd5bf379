"""What a launched machine looks like once its kubelet registers: the Node the loop will see.

Labels are the kubelet's well-known ones (instance type, zone, region, arch, os, hostname) plus the labels and
taints the launch request asked for (on a real cloud they travel in the node bootstrap configuration), so a loop
that forgets to ask for a label gets a node without it, as it would on EKS. Capacity and allocatable follow the
managed service's reservations (`planner.overhead`, the formulas of EKS, GKE, AKS and OKE). GPUs are exposed as
the NVIDIA device plugin would: whole devices, or time-sliced replicas when the node's
`nvidia.com/device-plugin.config` label selects one of the slicing configurations (`planner.shapes.gpu_modes`),
and only once the plugin has started: until then allocatable has no GPUs, which is what the loop must wait for.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

from luna_autoscaler.config import Config
from luna_autoscaler.models import scheduling as lbl
from luna_autoscaler.models.catalog import InstanceType, Offering
from luna_autoscaler.models.gpu_mode import GpuMode
from luna_autoscaler.models.pod import Node
from luna_autoscaler.models.resources import Resources
from luna_autoscaler.models.scheduling import Taint
from luna_autoscaler.planner.overhead import node_allocatable, node_capacity

_KUBELET_LABELS = (
    lbl.INSTANCE_TYPE,
    lbl.INSTANCE_TYPE_BETA,
    lbl.ARCH,
    lbl.ARCH_BETA,
    lbl.OS,
    lbl.ZONE,
    lbl.ZONE_BETA,
    lbl.REGION,
    lbl.REGION_BETA,
)


def device_plugin_mode(it: InstanceType, labels: Mapping[str, str]) -> GpuMode:
    """How the device plugin exposes this node's accelerators, given the configuration its label selects."""
    acc = it.accelerator
    if acc is None:
        return GpuMode()
    return GpuMode.recorded(
        acc.resource_name,
        acc.count,
        labels,
        fractional=acc.fractional,
        sku=acc.sku,
        memory_mib_per_device=acc.memory_mib_per_device,
    )


def gpu_resources(it: InstanceType, labels: Mapping[str, str]) -> Resources:
    return Resources.of(extended=dict(device_plugin_mode(it, labels).extended()) or None)


def registered_node(
    name: str,
    offering: Offering,
    *,
    provider_id: str,
    requested_labels: Mapping[str, str],
    taints: tuple[Taint, ...],
    config: Config,
    at: datetime,
) -> Node:
    """The Node a kubelet registers: Ready, GPUs not yet allocatable (see `with_gpus`)."""
    it = offering.instance_type
    well_known = offering.labels()
    labels = {k: well_known[k] for k in _KUBELET_LABELS} | {lbl.HOSTNAME: name} | dict(requested_labels)
    gpus = gpu_resources(it, labels)
    return Node(
        name=name,
        labels=MappingProxyType(labels),
        taints=taints,
        capacity=node_capacity(it, config) + gpus,
        allocatable=node_allocatable(it, config),
        provider_id=provider_id,
        ready=True,
        created_at=at,
    )


def with_gpus(node: Node, it: InstanceType, config: Config) -> Resources:
    """The node's allocatable once the device plugin has reported its GPUs."""
    return node_allocatable(it, config) + gpu_resources(it, node.labels)
