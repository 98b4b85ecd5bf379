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
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from luna_autoscaler.models.resources import NVIDIA_GPU, NVIDIA_GPU_SHARED

DEVICE_PLUGIN_CONFIG_LABEL = "nvidia.com/device-plugin.config"
"""The node label by which the NVIDIA device plugin (GPU operator) picks a per-node configuration."""

_CONFIG_NAME = re.compile(r"^luna-timeslice-(?P<replicas>[1-9][0-9]{0,2})(?P<shared>-shared)?$")
_EMPTY: Mapping[str, str] = MappingProxyType({})


class GpuSharing(StrEnum):
    """What kind of exposure a mode is, for metrics, docs and decisions that do not need the numbers."""

    NONE = "none"  # no accelerator
    WHOLE = "whole"  # one device per physical accelerator, the plugin default
    TIME_SLICED = "time-sliced"  # N replicas of each GPU, selected by the device-plugin config label


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

    @property
    def sliced(self) -> bool:
        return self.config_name is not None

    @property
    def sharing(self) -> GpuSharing:
        if self.resource is None:
            return GpuSharing.NONE
        return GpuSharing.TIME_SLICED if self.sliced else GpuSharing.WHOLE

    def extended(self) -> Mapping[str, int]:
        """The accelerator resources a node in this mode offers once its device plugin runs."""
        return MappingProxyType({self.resource: self.devices} if self.resource else {})

    def node_labels(self) -> Mapping[str, str]:
        """Labels a node in this mode must carry for its device plugin to expose it so."""
        return MappingProxyType({DEVICE_PLUGIN_CONFIG_LABEL: self.config_name}) if self.config_name else _EMPTY

    @staticmethod
    def whole(resource: str | None, devices: int) -> GpuMode:
        return GpuMode(resource, devices) if resource else GpuMode()

    @staticmethod
    def time_sliced(physical_devices: int, replicas: int, *, renamed: bool) -> GpuMode:
        resource = NVIDIA_GPU_SHARED if renamed else NVIDIA_GPU
        return GpuMode(resource, physical_devices * replicas, replicas, device_plugin_config_name(replicas, renamed))

    @staticmethod
    def recorded(
        resource: str | None, physical_devices: int, labels: Mapping[str, str], *, fractional: bool = False
    ) -> GpuMode:
        """The mode a node was launched in, from the labels recorded with it (its node configuration or the Node),
        independent of today's config: a restart must count a node in flight as it was launched, not as the
        current `gpuTimeSlicing` would launch it. An unknown or absent config name is the plugin default."""
        match = _CONFIG_NAME.match(labels.get(DEVICE_PLUGIN_CONFIG_LABEL, ""))
        if resource == NVIDIA_GPU and match is not None:
            return GpuMode.time_sliced(physical_devices, int(match["replicas"]), renamed=bool(match["shared"]))
        if resource == NVIDIA_GPU and fractional:
            return GpuMode.time_sliced(physical_devices, 1, renamed=True)
        return GpuMode.whole(resource, physical_devices)
