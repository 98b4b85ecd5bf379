"""How a node's device plugin exposes its accelerators: the one concept every layer asks about GPU sharing.

A node of an instance type is not one shape. The NVIDIA device plugin can expose its G GPUs as G whole devices
(`nvidia.com/gpu`), as G x N time-sliced replicas (`nvidia.com/gpu`, or `nvidia.com/gpu.shared` when renamed),
and a fractional device (AWS g6f, Azure NV*ads_A10_v5) only as shared replicas; MIG layouts are a further mode.
The mode decides what the node offers (`extended`), which label selects it on the node (`node_labels`: the
per-node device-plugin configuration the GPU operator reads), and how it is recorded on a launch so that a restart
recovers it instead of guessing (`config_name` and `GpuMode.recorded`). The planner chooses modes, the
reconcile loop records them, providers put the labels on nodes, and the simulated kubelet exposes them: all
through this value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from luna_autoscaler.models.mig import MIG_CONFIG_LABEL, MigLayout, layout_named, mig_model
from luna_autoscaler.models.resources import NVIDIA_GPU, NVIDIA_GPU_SHARED

DEVICE_PLUGIN_CONFIG_LABEL = "nvidia.com/device-plugin.config"
"""The node label by which the NVIDIA device plugin (GPU operator) picks a per-node configuration."""

MIG_STRATEGY_LABEL = "nvidia.com/mig.strategy"
"""Put on nodes partitioned under the single strategy, so that what a node exposes reads back from its labels."""

_CONFIG_NAME = re.compile(r"^luna-timeslice-(?P<replicas>[1-9][0-9]{0,2})(?P<shared>-shared)?$")
_EMPTY: Mapping[str, str] = MappingProxyType({})


class GpuSharing(StrEnum):
    """What kind of exposure a mode is, for metrics, docs and decisions that do not need the numbers."""

    NONE = "none"  # no accelerator
    WHOLE = "whole"  # one device per physical accelerator, the plugin default
    TIME_SLICED = "time-sliced"  # N replicas of each GPU, selected by the device-plugin config label
    MIG = "mig"  # each GPU partitioned into MIG slices, selected by the MIG manager's config label


@dataclass(frozen=True, slots=True)
class CloudTimeSharing:
    """How a cloud labels a node whose GPUs it time-shares itself: cloud policy as data, set by pricing/<cloud> on
    `Offering.time_sharing`, so that pods selecting those labels are planned and simulated without the core naming
    a cloud. GKE's GPU time-sharing labels such a node `cloud.google.com/gke-gpu-sharing-strategy=time-sharing`
    and `cloud.google.com/gke-max-shared-clients-per-gpu=<replicas>`, and GKE's documentation tells users to
    select on both. Only a sliced mode that keeps the device's own resource name is the cloud's time-sharing: a
    renamed one (`nvidia.com/gpu.shared`) is the NVIDIA device plugin's, which the cloud does not label."""

    labels: tuple[tuple[str, str], ...] = ()  # on every node the cloud time-shares
    replicas_label: str = ""  # its value: the replicas of each GPU ("": none)

    def node_labels(self, mode: GpuMode, resource_name: str) -> dict[str, str]:
        """The labels a node in `mode` carries (none unless the mode is time-sliced on `resource_name`)."""
        if mode.mig is not None or not mode.sliced or mode.resource != resource_name:
            return {}
        labels = dict(self.labels)
        if self.replicas_label:
            labels[self.replicas_label] = str(mode.replicas)
        return labels


def device_plugin_config_name(replicas: int, renamed: bool) -> str:
    """Name of the NVIDIA device plugin configuration a sliced node selects (docs/gpus.md lists them)."""
    return f"luna-timeslice-{replicas}" + ("-shared" if renamed else "")


@dataclass(frozen=True, slots=True)
class GpuMode:
    """How a node exposes its accelerators: `devices` units of `resource` (None: no accelerator)."""

    resource: str | None = None
    devices: int = 0
    replicas: int = 1  # > 1 (or a fractional device): shared, time-sliced
    config_name: str | None = None  # device plugin configuration selected by label; None: the plugin default
    # MIG: the layout of every GPU (`devices` is then the number of physical GPUs; `resource` the one resource
    # the node exposes, or None when the layout mixes profiles); `mig_single`: the single strategy, which
    # exposes every slice as `nvidia.com/gpu`.
    mig: MigLayout | None = None
    mig_single: bool = False

    @property
    def sliced(self) -> bool:
        return self.config_name is not None

    @property
    def sharing(self) -> GpuSharing:
        if self.mig is not None:
            return GpuSharing.MIG
        if self.resource is None:
            return GpuSharing.NONE
        return GpuSharing.TIME_SLICED if self.sliced else GpuSharing.WHOLE

    @property
    def key(self) -> str | None:
        """What tells two modes of one instance type apart (None: the plugin default)."""
        if self.mig is not None:
            return f"mig:{self.mig.name}" + (":single" if self.mig_single else "")
        return self.config_name

    @property
    def taint_key(self) -> str | None:
        """The resource a node in this mode is tainted by so that only pods requesting it land there (the
        ExtendedResourceToleration admission plugin tolerates exactly that key for them). A MIG layout mixing
        profiles exposes several resources and is tainted by `nvidia.com/gpu`: pods must tolerate it."""
        if self.mig is not None and self.resource is None:
            return NVIDIA_GPU
        return self.resource

    def extended(self) -> Mapping[str, int]:
        """The accelerator resources a node in this mode offers once its device plugin runs."""
        if self.mig is not None:
            slices = self.mig.resources(self.devices)
            return MappingProxyType({NVIDIA_GPU: sum(slices.values())} if self.mig_single else slices)
        return MappingProxyType({self.resource: self.devices} if self.resource else {})

    def node_labels(self) -> Mapping[str, str]:
        """Labels a node in this mode must carry for its device plugin (or MIG manager) to expose it so."""
        if self.mig is not None:
            strategy = {MIG_STRATEGY_LABEL: "single"} if self.mig_single else {}
            return MappingProxyType({MIG_CONFIG_LABEL: self.mig.name, **strategy})
        return MappingProxyType({DEVICE_PLUGIN_CONFIG_LABEL: self.config_name}) if self.config_name else _EMPTY

    def as_record(self) -> list[object]:
        """The mode as plain JSON values, for providers and the fake to store with an instance (`from_record`)."""
        mig = [self.mig.name, [list(p) for p in self.mig.per_gpu], self.mig_single] if self.mig else None
        return [self.resource, self.devices, self.replicas, self.config_name, mig]

    @staticmethod
    def from_record(value: Sequence[Any]) -> GpuMode:
        """The mode `as_record` wrote (ValueError/TypeError on anything else)."""
        resource, devices, replicas, config_name, *rest = value
        mig = rest[0] if rest else None
        layout = MigLayout(str(mig[0]), tuple((str(p), int(n)) for p, n in mig[1])) if mig else None
        return GpuMode(
            None if resource is None else str(resource),
            int(devices),
            int(replicas),
            None if config_name is None else str(config_name),
            mig=layout,
            mig_single=bool(mig[2]) if mig else False,
        )

    @staticmethod
    def partitioned(layout: MigLayout, physical_devices: int, *, single: bool) -> GpuMode:
        """Every GPU of the node in `layout` (mixed strategy: one resource per profile; single: nvidia.com/gpu)."""
        if single:
            resource: str | None = NVIDIA_GPU
        else:
            resource = f"nvidia.com/mig-{layout.per_gpu[0][0]}" if len(layout.per_gpu) == 1 else None
        return GpuMode(resource, physical_devices, mig=layout, mig_single=single)

    @staticmethod
    def whole(resource: str | None, devices: int) -> GpuMode:
        return GpuMode(resource, devices) if resource else GpuMode()

    @staticmethod
    def time_sliced(physical_devices: int, replicas: int, *, renamed: bool) -> GpuMode:
        resource = NVIDIA_GPU_SHARED if renamed else NVIDIA_GPU
        return GpuMode(resource, physical_devices * replicas, replicas, device_plugin_config_name(replicas, renamed))

    @staticmethod
    def recorded(
        resource: str | None,
        physical_devices: int,
        labels: Mapping[str, str],
        *,
        fractional: bool = False,
        sku: str = "",
        memory_mib_per_device: int = 0,
    ) -> GpuMode:
        """The mode a node was launched in, from the labels recorded with it (its node configuration or the Node),
        independent of today's config: a restart must count a node in flight as it was launched, not as the
        current `gpuTimeSlicing` would launch it. An unknown or absent config name is the plugin default."""
        model = mig_model(sku, memory_mib_per_device) if resource == NVIDIA_GPU else None
        layout = layout_named(model, labels[MIG_CONFIG_LABEL]) if model and MIG_CONFIG_LABEL in labels else None
        if layout is not None:
            return GpuMode.partitioned(layout, physical_devices, single=labels.get(MIG_STRATEGY_LABEL) == "single")
        match = _CONFIG_NAME.match(labels.get(DEVICE_PLUGIN_CONFIG_LABEL, ""))
        if resource == NVIDIA_GPU and match is not None:
            return GpuMode.time_sliced(physical_devices, int(match["replicas"]), renamed=bool(match["shared"]))
        if resource == NVIDIA_GPU and fractional:
            return GpuMode.time_sliced(physical_devices, 1, renamed=True)
        return GpuMode.whole(resource, physical_devices)
