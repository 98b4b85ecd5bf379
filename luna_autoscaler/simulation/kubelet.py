"""What a launched machine looks like once its kubelet registers: the Node the loop will see.

Labels are the kubelet's well-known ones (instance type, zone, region, arch, os, hostname) plus the labels and
taints the launch request asked for (on a real cloud they travel in the node bootstrap configuration), so a loop
that forgets to ask for a label gets a node without it, as it would on EKS. Capacity and allocatable are the catalog's
(`InstanceType.node`: the managed service's reservations, pricing.overhead), and the cloud's own labels and taints
of the offering (`Offering.node_labels`, `node_taints`, and `Offering.mode_labels` for the GPU mode the node runs
in: GKE's time-sharing labels) are there as on the real cloud, whose instance-type label it is too (GKE's
`n1-standard-4` for the catalog's `n1-standard-4_t4x1`: `InstanceType.registered_as`). GPUs are exposed as
the NVIDIA device plugin would: whole devices, or time-sliced replicas when the node's
`nvidia.com/device-plugin.config` label selects one of the slicing configurations (`planner.shapes.gpu_modes`),
and only once the plugin has started: until then allocatable has no GPUs, which is what the loop must wait for.

`Kubelet` plays this part for a real API server (the `NodeRegistrar` port: `run --provider fake` with
`fake.registerNodes`), writing through whatever can create and delete Node objects (luna_autoscaler.kube's
`NodeObjects`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from types import MappingProxyType
from typing import Protocol

from luna_autoscaler.config import Config
from luna_autoscaler.models import scheduling as lbl
from luna_autoscaler.models.catalog import InstanceType, Offering
from luna_autoscaler.models.gpu_mode import GpuMode
from luna_autoscaler.models.pod import Node
from luna_autoscaler.models.resources import Resources
from luna_autoscaler.models.scheduling import Taint
from luna_autoscaler.planner.shapes import base_allocatable
from luna_autoscaler.ports import Clock, Instance

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
    labels = (
        {k: well_known[k] for k in _KUBELET_LABELS}
        | dict(offering.node_labels)
        | offering.mode_labels(device_plugin_mode(it, requested_labels))
        | {lbl.HOSTNAME: name}
        | dict(requested_labels)
    )
    gpus = gpu_resources(it, labels)
    capacity = it.node.capacity if it.node is not None else base_allocatable(it)
    return Node(
        name=name,
        labels=MappingProxyType(labels),
        taints=(*taints, *(t for t in offering.node_taints if t not in taints)),
        capacity=capacity + gpus,
        allocatable=base_allocatable(it),
        provider_id=provider_id,
        ready=True,
        created_at=at,
    )


def with_gpus(node: Node, it: InstanceType, config: Config) -> Resources:
    """The node's allocatable once the device plugin has reported its GPUs."""
    return base_allocatable(it) + gpu_resources(it, node.labels)


class NodeWriter(Protocol):
    """Where registered Nodes go: the API server, through luna_autoscaler.kube's NodeObjects."""

    def register_node(self, node: Node) -> object: ...

    def delete_node(self, node_name: str) -> None: ...


class Kubelet:
    """The `NodeRegistrar` port: registers a machine's Node as its kubelet would (labels and taints of the
    configuration it was launched with, the catalog's capacity and allocatable, GPUs allocatable at once: no
    device plugin to wait for), named after the instance; deletes it when the machine is terminated."""

    def __init__(self, nodes: NodeWriter, config: Config, clock: Clock) -> None:
        self._nodes = nodes
        self._config = config
        self._clock = clock

    @staticmethod
    def node_name(instance: Instance) -> str:
        return instance.instance_id

    def register(self, instance: Instance, offering: Offering) -> None:
        configuration = instance.configuration
        node = registered_node(
            self.node_name(instance),
            offering,
            provider_id=instance.provider_id,
            requested_labels=configuration.labels if configuration is not None else {},
            taints=configuration.taints if configuration is not None else (),
            config=self._config,
            at=self._clock(),
        )
        node = replace(node, allocatable=with_gpus(node, offering.instance_type, self._config))
        self._nodes.register_node(node)

    def deregister(self, instance: Instance) -> None:
        self._nodes.delete_node(self.node_name(instance))
